//! Composing speed: wall time per phrase and model tokens per second for the embedded
//! models on the CPU backend (`cargo bench -p leitmotif_compose --bench compose`).

use std::time::{Duration, Instant};

use leitmotif_compose::{Composer, Curve, Request};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;
use leitmotif_tokens::Layer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = 10u64;
    let mut out = std::io::stderr().lock();
    use std::io::Write;
    for (name, source) in [
        ("rnn", ModelSource::DefaultRnn),
        ("transformer", ModelSource::DefaultTransformer),
    ] {
        let composer = Composer::load(&source, BackendChoice::Cpu)?;
        for (label, layers, looped) in [
            ("8 bars, melody", vec![Layer::Melody], false),
            (
                "8 bars, 4 layers",
                vec![Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums],
                false,
            ),
            (
                "8 bars, melody, loop (4 candidates)",
                vec![Layer::Melody],
                true,
            ),
        ] {
            let mut total = Duration::ZERO;
            let mut tokens = 0usize;
            for seed in 0..runs {
                let request = Request {
                    layers: layers.clone(),
                    looped,
                    seed,
                    intensity: Curve::Ramp { from: 0.3, to: 0.9 },
                    ..Request::default()
                };
                let started = Instant::now();
                let c = composer.compose(&request)?;
                total += started.elapsed();
                tokens += c.tokens;
            }
            writeln!(
                out,
                "{name:12} {label:38} {:7.1} ms/phrase  {:6.0} tokens/s",
                total.as_secs_f64() * 1000.0 / runs as f64,
                tokens as f64 / total.as_secs_f64()
            )?;
        }
    }
    Ok(())
}
