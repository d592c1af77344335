//! How often the written music lands on the density and register asked for: composes
//! phrases over a grid of requests and compares each bar's measured controls with the
//! requested ones (`cargo run -p leitmotif_compose --example control_adherence`).

use std::io::Write;

use leitmotif_compose::request::{density_bucket, register_bucket};
use leitmotif_compose::{Composer, Curve, Request};
use leitmotif_model::BackendChoice;
use leitmotif_model::ModelSource;
use leitmotif_tokens::{Layer, assign_layers, bar_controls, quantize};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    for (name, source) in [
        ("rnn", ModelSource::DefaultRnn),
        ("transformer", ModelSource::DefaultTransformer),
    ] {
        let composer = Composer::load(&source, BackendChoice::Cpu)?;
        let (mut bars, mut density_hit, mut density_near, mut register_hit, mut register_near) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        for (i, density) in [0.1, 0.3, 0.5, 0.7, 0.9].into_iter().enumerate() {
            for (j, register) in [0.2, 0.5, 0.8].into_iter().enumerate() {
                for seed in 0..4u64 {
                    let request = Request {
                        density: Curve::Constant(density),
                        register: Curve::Constant(register),
                        layers: vec![Layer::Melody],
                        bars: 8,
                        seed: seed + 10 * (i as u64 * 3 + j as u64),
                        ..Request::default()
                    };
                    let c = composer.compose(&request)?;
                    let q = quantize(&c.score)?;
                    let layers = assign_layers(&q);
                    let want_d = density_bucket(density);
                    let want_r = register_bucket(register);
                    for got in bar_controls(&q, &layers) {
                        bars += 1;
                        density_hit += usize::from(got.density == want_d);
                        density_near += usize::from(got.density.abs_diff(want_d) <= 1);
                        register_hit += usize::from(got.register == want_r);
                        register_near += usize::from(got.register.abs_diff(want_r) <= 1);
                    }
                }
            }
        }
        let pct = |n: usize| 100.0 * n as f64 / bars as f64;
        writeln!(
            out,
            "{name:12} {bars} bars: density exact {:.1} % (within one bucket {:.1} %), register exact {:.1} % (within one {:.1} %)",
            pct(density_hit),
            pct(density_near),
            pct(register_hit),
            pct(register_near)
        )?;
    }
    Ok(())
}
