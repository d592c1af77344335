//! Fuzzes the MIDI reader: any bytes give a score or a typed error, never a panic, and a
//! score that reads writes back to a file that reads to the same score.
#![no_main]

use leitmotif_score::midi::{read_midi, write_midi};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(score) = read_midi(data) {
        let bytes = write_midi(&score).expect("a score read from MIDI is valid");
        let again = read_midi(&bytes).expect("what we write reads back");
        assert_eq!(again, score.rescaled(480), "round trip changed the score");
    }
});
