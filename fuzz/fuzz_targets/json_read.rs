//! Fuzzes the JSON and RON readers (melody JSON, melody RON, tone JSON): any text gives a
//! document or a typed error, never a panic, and what reads writes back to the same score.
#![no_main]

use leitmotif_score::melody::MelodyDocument;
use leitmotif_score::tone::{from_tone_json, to_tone_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(doc) = MelodyDocument::from_json(text) {
        let json = doc.to_json().expect("a document that reads is valid");
        assert_eq!(MelodyDocument::from_json(&json).ok(), Some(doc));
    }
    if let Ok(doc) = MelodyDocument::from_ron(text) {
        let ron = doc.to_ron().expect("a document that reads is valid");
        assert_eq!(MelodyDocument::from_ron(&ron).ok(), Some(doc));
    }
    if let Ok(score) = from_tone_json(text) {
        let json = to_tone_json(&score).expect("a score that reads is valid");
        let again = from_tone_json(&json).expect("what we write reads back");
        let expected = score.rescaled(480);
        assert_eq!(again.tracks.len(), expected.tracks.len());
        for (a, b) in again.tracks.iter().zip(&expected.tracks) {
            assert_eq!(a.notes, b.notes, "tone JSON round trip changed notes");
        }
    }
});
