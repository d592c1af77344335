//! The shipped default models: they load from the embedded bytes, generate valid music
//! under a plan, stay within the size budget, and carry the record of how they were made.

use leitmotif_model::{CpuBackend, Sampling};
use leitmotif_tokens::vocab::tempo_bucket;
use leitmotif_tokens::{BarControls, Layer, Style, decode};
use leitmotif_train::models::{MELODY_RNN_WEIGHTS, MOTIF_TRANSFORMER_WEIGHTS};
use leitmotif_train::{AnyModel, ModelSource, Plan, generate};

/// The package's folder, read at run time (cargo sets it for tests): a test binary built in
/// another checkout sharing the target folder must still read this checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    )
}

fn plan(layers: Vec<Layer>) -> Plan {
    let bar = BarControls {
        sharps: 2,
        minor: false,
        meter: 10,
        density: 4,
        register: 6,
        intensity: 5,
    };
    Plan {
        style: Style::Jig,
        tempo: tempo_bucket(120.0),
        bars: vec![bar; 4],
        layers,
    }
}

#[test]
fn the_embedded_defaults_load_and_generate() {
    let device = Default::default();
    for (source, layers) in [
        (ModelSource::DefaultRnn, vec![Layer::Melody]),
        (
            ModelSource::DefaultTransformer,
            vec![Layer::Melody, Layer::Bass],
        ),
    ] {
        let (model, id) = AnyModel::<CpuBackend>::load(&source, &device)
            .unwrap_or_else(|e| panic!("{source:?}: {e}"));
        let plan = plan(layers);
        let sampling = Sampling::TopP {
            p: 0.9,
            temperature: 0.9,
        };
        let ids = match &model {
            AnyModel::Rnn(m) => generate(m, &plan, sampling, 3),
            AnyModel::Transformer(m, _) => generate(m, &plan, sampling, 3),
        }
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        let decoded = decode(&ids).unwrap_or_else(|e| panic!("{id}: {e}"));
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

#[test]
fn the_defaults_fit_the_budget_and_say_how_they_were_made() {
    for (name, bytes) in [
        ("melody_rnn", MELODY_RNN_WEIGHTS),
        ("motif_transformer", MOTIF_TRANSFORMER_WEIGHTS),
    ] {
        assert!(
            bytes.len() <= 8 * 1024 * 1024,
            "{name} is {} bytes",
            bytes.len()
        );
        let path = format!(
            "{}/../../assets/models/{name}.summary.json",
            manifest_dir().display()
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let summary: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let command = summary["command"].as_str().unwrap_or_default();
        assert!(command.starts_with("leitmotif train"), "{command}");
        assert!(
            summary["seconds"].as_f64().is_some_and(|s| s <= 3600.0),
            "{name} took over an hour"
        );
        assert!(
            summary["final_validation_loss"]
                .as_f64()
                .is_some_and(f64::is_finite)
        );
    }
}

#[test]
fn a_bad_weights_path_is_an_error() {
    let device = Default::default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("broken.bpk");
    std::fs::write(&path, b"not weights").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("broken.json"), b"{\"vocab_size\": 10}")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(AnyModel::<CpuBackend>::load(&ModelSource::Path(path), &device).is_err());
    let missing = ModelSource::Path(dir.path().join("missing.bpk"));
    assert!(AnyModel::<CpuBackend>::load(&missing, &device).is_err());
}
