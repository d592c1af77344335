//! Controlled generation always yields a valid piece with exactly the planned bars and
//! controls, whatever the model's weights (here: untrained, so anything goes).

use leitmotif_model::{CpuBackend, MelodyRnnConfig, MotifTransformerConfig, Sampling};
use leitmotif_tokens::vocab::tempo_bucket;
use leitmotif_tokens::{BarControls, Layer, Style, VOCAB_SIZE, decode};
use leitmotif_train::{Plan, generate};

fn plan(bars: usize) -> Plan {
    let bar = |i: usize| BarControls {
        sharps: -1,
        minor: true,
        meter: if i.is_multiple_of(2) { 2 } else { 10 },
        density: 3,
        register: 5,
        intensity: u8::try_from(1 + i % 6).unwrap_or(1),
    };
    Plan {
        style: Style::Jig,
        tempo: tempo_bucket(150.0),
        bars: (0..bars).map(bar).collect(),
        layers: vec![Layer::Melody, Layer::Bass],
    }
}

#[test]
fn untrained_models_still_write_valid_pieces_with_the_plan() {
    let device = Default::default();
    let rnn = MelodyRnnConfig::tiny(VOCAB_SIZE).init::<CpuBackend>(&device);
    let transformer = MotifTransformerConfig::tiny(VOCAB_SIZE).init::<CpuBackend>(&device);
    for seed in 0..6 {
        let plan = plan(3 + usize::try_from(seed).unwrap_or(0) % 3);
        let sampling = Sampling::TopK {
            k: 50,
            temperature: 1.2,
        };
        for ids in [
            generate(&rnn, &plan, sampling, seed).unwrap_or_else(|e| panic!("rnn {seed}: {e}")),
            generate(&transformer, &plan, sampling, seed)
                .unwrap_or_else(|e| panic!("transformer {seed}: {e}")),
        ] {
            let decoded = decode(&ids).unwrap_or_else(|e| panic!("{seed}: {e}"));
            assert_eq!(
                decoded.controls, plan.bars,
                "the planned controls are written as asked"
            );
            assert_eq!(decoded.style, Some(Style::Jig));
            for track in &decoded.score.tracks {
                assert!(
                    ["Melody", "Bass"].contains(&track.name.as_str()),
                    "{}",
                    track.name
                );
            }
            // Every note starts inside the planned bars (4/4 is 1920 ticks, 6/8 1440).
            let planned_end: u64 = (0..plan.bars.len())
                .map(|i| if i % 2 == 0 { 1920 } else { 1440 })
                .sum();
            let last_start = decoded
                .score
                .tracks
                .iter()
                .flat_map(|t| t.notes.iter().map(|n| n.start))
                .max();
            assert!(
                last_start.is_none_or(|s| s < planned_end),
                "{last_start:?} vs {planned_end}"
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_piece() {
    let device = Default::default();
    let rnn = MelodyRnnConfig::tiny(VOCAB_SIZE).init::<CpuBackend>(&device);
    let sampling = Sampling::TopP {
        p: 0.9,
        temperature: 1.0,
    };
    let a = generate(&rnn, &plan(2), sampling, 11).unwrap_or_default();
    let b = generate(&rnn, &plan(2), sampling, 11).unwrap_or_default();
    let c = generate(&rnn, &plan(2), sampling, 12).unwrap_or_default();
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_ne!(a, c);
}
