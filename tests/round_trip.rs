//! Round trips over real files from the training data: MIDI, melody JSON/RON and tone JSON
//! give back exactly the score they were written from.

mod common;

use leitmotif::score::melody::MelodyDocument;
use leitmotif::score::{DEFAULT_PPQ, midi, tone};

#[test]
fn real_files_round_trip_losslessly_through_every_format() {
    let files = common::midi_files(&common::data_dir());
    assert!(
        files.len() > 3000,
        "expected the full data set, found {}",
        files.len()
    );
    let sample = common::sample(&files, 400);
    let mut notes = 0;
    let mut multi_track = 0;
    for path in &sample {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let score = midi::read_midi(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(score.ppq, DEFAULT_PPQ, "{}", path.display());
        assert!(score.note_count() > 0, "{} has no notes", path.display());
        notes += score.note_count();
        multi_track += usize::from(score.tracks.len() > 1);

        let written =
            midi::write_midi(&score).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = midi::read_midi(&written).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(again, score, "MIDI round trip changed {}", path.display());
        assert_eq!(
            midi::write_midi(&again).ok().as_ref(),
            Some(&written),
            "writing is not deterministic for {}",
            path.display()
        );

        let doc = MelodyDocument::new(score.clone());
        let json = doc
            .to_json()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back =
            MelodyDocument::from_json(&json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            back.score,
            score,
            "melody JSON round trip changed {}",
            path.display()
        );

        let ron = doc
            .to_ron()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back =
            MelodyDocument::from_ron(&ron).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            back.score,
            score,
            "melody RON round trip changed {}",
            path.display()
        );

        let tone_json =
            tone::to_tone_json(&score).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back =
            tone::from_tone_json(&tone_json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            back,
            score,
            "tone JSON round trip changed {}",
            path.display()
        );
    }
    assert!(sample.len() >= 300, "only {} files sampled", sample.len());
    assert!(
        multi_track >= 20,
        "the sample should include multi-part chorales ({multi_track})"
    );
    assert!(notes > 30_000, "only {notes} notes in the sample");
}

#[test]
fn other_resolutions_are_rescaled_to_480_within_half_a_tick() {
    let path = &common::sample(&common::midi_files(&common::data_dir()), 5)[1];
    let score = midi::read_midi(&std::fs::read(path).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for ppq in [96, 192, 384, 960, 1000] {
        let source = score.rescaled(ppq);
        let written = midi::write_midi(&source).unwrap_or_else(|e| panic!("{ppq}: {e}"));
        let back = midi::read_midi(&written).unwrap_or_else(|e| panic!("{ppq}: {e}"));
        assert_eq!(back.ppq, DEFAULT_PPQ);
        let ratio = f64::from(DEFAULT_PPQ) / f64::from(ppq);
        for (a, b) in source.tracks.iter().zip(&back.tracks) {
            assert_eq!(a.notes.len(), b.notes.len());
            for (x, y) in a.notes.iter().zip(&b.notes) {
                let start = x.start as f64 * ratio;
                let end = x.end() as f64 * ratio;
                assert!(
                    (y.start as f64 - start).abs() <= 0.5,
                    "{ppq}: start {} vs {start}",
                    y.start
                );
                assert!(
                    (y.end() as f64 - end).abs() <= 0.5,
                    "{ppq}: end {} vs {end}",
                    y.end()
                );
                assert_eq!((x.pitch, x.velocity), (y.pitch, y.velocity));
            }
        }
    }
}
