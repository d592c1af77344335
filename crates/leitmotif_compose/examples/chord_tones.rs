//! How often the melody's strong-beat notes are tones of a chord progression, with the
//! progression given to the composer and without it, over ten seeds and both shipped models
//! (`cargo run --release -p leitmotif_compose --example chord_tones`).

use std::io::Write;

use leitmotif_arrange::{BarSlot, ChordToneShare, chord_tone_share, progression};
use leitmotif_compose::request::parse_chords;
use leitmotif_compose::{Composer, Composition, Request};
use leitmotif_model::{BackendChoice, ModelSource};
use leitmotif_score::time::BarMap;
use leitmotif_tokens::{Layer, assign_layers};

/// The progression measured against.
const CHORDS: &str = "Am F C G";

/// The share of `c`'s strong-beat melody notes that are tones of [`CHORDS`], bar by bar.
fn share(c: &Composition) -> Result<ChordToneShare, Box<dyn std::error::Error>> {
    let bars: Vec<BarSlot> = BarMap::new(&c.score)
        .bars()
        .iter()
        .map(|b| BarSlot {
            start: b.start,
            ticks: b.len,
            meter: b.meter,
            intensity: 0.5,
        })
        .collect();
    let harmony = progression(&parse_chords(CHORDS)?, &bars)?;
    let melody = assign_layers(&c.score)
        .iter()
        .position(|l| *l == Layer::Melody)
        .map(|i| c.score.tracks[i].notes.clone())
        .unwrap_or_default();
    Ok(chord_tone_share(&melody, &harmony, &bars, c.score.ppq))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    let chords = parse_chords(CHORDS)?;
    for (name, source) in [
        ("rnn", ModelSource::DefaultRnn),
        ("transformer", ModelSource::DefaultTransformer),
    ] {
        let composer = Composer::load(&source, BackendChoice::Cpu)?;
        for given in [false, true] {
            let mut total = ChordToneShare::default();
            for seed in 0..10u64 {
                let request = Request {
                    key: "C major".parse().ok(),
                    layers: vec![Layer::Melody],
                    bars: 8,
                    seed,
                    chords: if given { chords.clone() } else { Vec::new() },
                    ..Request::default()
                };
                total += share(&composer.compose(&request)?)?;
            }
            writeln!(
                out,
                "{name:<12} {:<16} {:>4} of {:>4} strong-beat melody notes are tones of {CHORDS} ({:.1} %)",
                if given {
                    "with --chords"
                } else {
                    "without --chords"
                },
                total.chord_tones,
                total.strong,
                100.0 * total.share().unwrap_or(0.0)
            )?;
        }
    }
    Ok(())
}
