//! The soft controls land: density, register and intensity in the bucket asked for, bar by
//! bar, for both shipped models, over constant values, ramps and jumps, in a long, a short
//! and a compound meter; density asked for "around" a value varies from bar to bar within
//! a step of it, and register "around" a value from phrase to phrase.

use leitmotif_compose::adherence::{self, Hits};
use leitmotif_compose::request::{density_bucket, register_bucket};
use leitmotif_compose::{Composer, Curve, Request};
use leitmotif_model::{BackendChoice, ModelSource};
use leitmotif_tokens::{Layer, assign_layers, bar_controls, quantize};

fn composer(source: &ModelSource) -> Composer {
    Composer::load(source, BackendChoice::Cpu).unwrap_or_else(|e| panic!("load: {e}"))
}

fn assert_lands(name: &str, control: &str, hits: &Hits) {
    assert_eq!(
        hits.within_one, hits.bars,
        "{name} {control}: every bar within one bucket ({hits:?})"
    );
    assert!(
        hits.exact_share() >= 0.95,
        "{name} {control}: {:.1} % exact ({hits:?})",
        100.0 * hits.exact_share()
    );
}

#[test]
fn density_register_and_intensity_land_in_the_bucket_asked_for() {
    for (name, source, meters) in [
        (
            "transformer",
            ModelSource::DefaultTransformer,
            [(4, 4), (3, 8)],
        ),
        ("rnn", ModelSource::DefaultRnn, [(6, 8), (5, 4)]),
    ] {
        let result = adherence::measure(&composer(&source), &meters, 4, 1)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result.requests, 2 * adherence::cases(4).len());
        assert_lands(name, "density", &result.all.density);
        assert_lands(name, "register", &result.all.register);
        assert_lands(name, "intensity", &result.all.intensity);
        assert_eq!(result.by_shape.len(), 3, "constant, ramp and jump");
    }
}

#[test]
fn density_around_a_value_varies_within_a_step_of_it() {
    let composer = composer(&ModelSource::DefaultTransformer);
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..4 {
        let request = Request {
            density: Curve::Around(0.5),
            meter: Some((4, 4)),
            layers: vec![Layer::Melody],
            bars: 8,
            seed,
            ..Request::default()
        };
        let composition = composer.compose(&request).unwrap_or_else(|e| panic!("{e}"));
        let score = quantize(&composition.score).unwrap_or_else(|e| panic!("{e}"));
        let asked = density_bucket(0.5);
        for bar in bar_controls(&score, &assign_layers(&score)) {
            assert!(
                bar.density.abs_diff(asked) <= 1,
                "bucket {} is more than a step from {asked}",
                bar.density
            );
            seen.insert(bar.density);
        }
    }
    assert!(
        seen.len() >= 2,
        "the bars' densities never varied: {seen:?}"
    );
}

#[test]
fn register_around_a_value_moves_by_phrase_within_a_step_of_it() {
    let composer = composer(&ModelSource::DefaultTransformer);
    let asked = register_bucket(0.5);
    let mut phrases = std::collections::BTreeSet::new();
    for seed in 0..4 {
        let request = Request {
            register: Curve::Around(0.5),
            density: Curve::Constant(0.5),
            meter: Some((4, 4)),
            layers: vec![Layer::Melody],
            bars: 16,
            seed,
            ..Request::default()
        };
        let composition = composer.compose(&request).unwrap_or_else(|e| panic!("{e}"));
        let score = quantize(&composition.score).unwrap_or_else(|e| panic!("{e}"));
        let bars = bar_controls(&score, &assign_layers(&score));
        assert_eq!(bars.len(), 16);
        for (i, phrase) in bars.chunks(4).enumerate() {
            let register = phrase[0].register;
            assert!(
                register.abs_diff(asked) <= 1,
                "seed {seed}, phrase {i}: bucket {register} is more than a step from {asked}"
            );
            // Every bar of a phrase lands on the bucket its first bar picked.
            assert!(
                phrase.iter().all(|b| b.register == register),
                "seed {seed}, phrase {i}: {:?}",
                phrase.iter().map(|b| b.register).collect::<Vec<_>>()
            );
            phrases.insert(register);
        }
    }
    assert!(
        phrases.len() >= 2,
        "the phrases' registers never moved: {phrases:?}"
    );
}
