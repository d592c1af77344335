//! The composer's decoder writing bars with given controls (`sample_bars`, what evaluation
//! uses): always a valid piece with exactly the planned bars and controls, whatever the
//! model's weights (untrained ones here, so anything goes), and the embedded defaults write
//! real melodies through it.

use leitmotif_compose::{BarPlan, SamplingSettings, sample_bars};
use leitmotif_model::{
    AnyModel, BurnDecoder, CpuBackend, HostTransformer, MelodyRnnConfig, ModelSource,
    MotifTransformerConfig,
};
use leitmotif_tokens::vocab::tempo_bucket;
use leitmotif_tokens::{BarControls, Layer, Style, Token, VOCAB_SIZE, decode};

fn ids(tokens: &[Token]) -> Vec<u32> {
    tokens.iter().filter_map(|t| t.id()).collect()
}

fn top_p(p: f32, temperature: f32) -> SamplingSettings {
    SamplingSettings {
        temperature,
        top_k: None,
        top_p: Some(p),
    }
}

fn plan(bars: usize) -> BarPlan {
    let bar = |i: usize| BarControls {
        sharps: -1,
        minor: true,
        meter: if i.is_multiple_of(2) { 2 } else { 10 },
        density: 3,
        register: 5,
        intensity: u8::try_from(1 + i % 6).unwrap_or(1),
    };
    BarPlan {
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
    let host = HostTransformer::from_model(&transformer).expect("host weights");
    for seed in 0..6 {
        let plan = plan(3 + usize::try_from(seed).unwrap_or(0) % 3);
        let sampling = SamplingSettings {
            temperature: 1.2,
            top_k: Some(50),
            top_p: None,
        };
        for tokens in [
            sample_bars(
                &BurnDecoder::on_model_device(&rnn),
                usize::MAX,
                &plan,
                sampling,
                seed,
            )
            .unwrap_or_else(|e| panic!("rnn {seed}: {e}")),
            sample_bars(&host, 512, &plan, sampling, seed)
                .unwrap_or_else(|e| panic!("transformer {seed}: {e}")),
        ] {
            let decoded = decode(&ids(&tokens)).unwrap_or_else(|e| panic!("{seed}: {e}"));
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
    let sampling = top_p(0.9, 1.0);
    let rnn = BurnDecoder::on_model_device(&rnn);
    let a = sample_bars(&rnn, usize::MAX, &plan(2), sampling, 11).unwrap_or_default();
    let b = sample_bars(&rnn, usize::MAX, &plan(2), sampling, 11).unwrap_or_default();
    let c = sample_bars(&rnn, usize::MAX, &plan(2), sampling, 12).unwrap_or_default();
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn the_embedded_defaults_write_melodies_under_a_plan() {
    let device = Default::default();
    let bar = BarControls {
        sharps: 2,
        minor: false,
        meter: 10,
        density: 4,
        register: 6,
        intensity: 5,
    };
    for (source, layers) in [
        (ModelSource::DefaultRnn, vec![Layer::Melody]),
        (
            ModelSource::DefaultTransformer,
            vec![Layer::Melody, Layer::Bass],
        ),
    ] {
        let (model, id) = AnyModel::<CpuBackend>::load(&source, &device)
            .unwrap_or_else(|e| panic!("{source:?}: {e}"));
        let plan = BarPlan {
            style: Style::Jig,
            tempo: tempo_bucket(120.0),
            bars: vec![bar; 4],
            layers,
        };
        let context = model.context();
        let tokens = match &model {
            AnyModel::Rnn(m) => sample_bars(
                &BurnDecoder::on_model_device(m),
                context,
                &plan,
                top_p(0.9, 0.9),
                3,
            ),
            AnyModel::Transformer(m, _) => {
                let host = HostTransformer::from_model(m).expect("host weights");
                sample_bars(&host, context, &plan, top_p(0.9, 0.9), 3)
            }
        }
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        let decoded = decode(&ids(&tokens)).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(decoded.controls, plan.bars);
        let melody = decoded.score.tracks.iter().find(|t| t.name == "Melody");
        let notes = melody.map_or(0, |t| t.notes.len());
        assert!(notes >= 4, "{id} wrote {notes} melody notes in 4 bars");
        decoded
            .score
            .validate()
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
}
