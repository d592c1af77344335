//! The shipped default models: they load from the embedded bytes, stay within the size
//! budget, and carry the record of how they were made; bad weights and configs are typed
//! errors. (They write music through the composer's decoder: see `leitmotif_compose`'s
//! `sample_bars` tests.)

use leitmotif_model::source::{MELODY_RNN_WEIGHTS, MOTIF_TRANSFORMER_WEIGHTS};
use leitmotif_model::{AnyModel, CpuBackend, ModelSource, WeightsError};

/// The package's folder, read at run time (cargo sets it for tests): a test binary built in
/// another checkout sharing the target folder must still read this checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    )
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
        // A run shares the two cores of the build machine with the other model's; the
        // README says how long the whole training took (runs started from earlier weights
        // name them).
        assert!(
            summary["seconds"]
                .as_f64()
                .is_some_and(|s| s > 0.0 && s <= 5400.0),
            "{name}: a run over 90 minutes"
        );
        if command.contains("--init") {
            assert!(
                summary["options"]["init"].as_str().is_some(),
                "{name}: the starting weights are not recorded"
            );
        }
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

#[test]
fn the_embedded_defaults_load() {
    let device = Default::default();
    for source in [ModelSource::DefaultRnn, ModelSource::DefaultTransformer] {
        let (model, id) = AnyModel::<CpuBackend>::load(&source, &device)
            .unwrap_or_else(|e| panic!("{source:?}: {e}"));
        assert!(id.contains('@'), "{id}");
        match (&source, &model) {
            (ModelSource::DefaultRnn, AnyModel::Rnn(_)) => assert_eq!(model.context(), usize::MAX),
            (ModelSource::DefaultTransformer, AnyModel::Transformer(..)) => {
                assert_eq!(model.context(), 512);
            }
            _ => panic!("{source:?} loaded as the other kind"),
        }
    }
}

/// A config that parses but cannot build a model is refused by name, before any tensor is
/// made (no panic inside burn).
#[test]
fn a_config_that_cannot_work_is_a_typed_error() {
    let device = Default::default();
    let weights = std::fs::read(manifest_dir().join("../../assets/models/motif_transformer.bpk"))
        .unwrap_or_else(|e| panic!("{e}"));
    let good =
        std::fs::read_to_string(manifest_dir().join("../../assets/models/motif_transformer.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let rnn_good =
        std::fs::read_to_string(manifest_dir().join("../../assets/models/melody_rnn.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, base, from, to, field) in [
        (
            "heads",
            &good,
            "\"n_heads\": 4",
            "\"n_heads\": 3",
            "n_heads",
        ),
        (
            "zero_heads",
            &good,
            "\"n_heads\": 4",
            "\"n_heads\": 0",
            "n_heads",
        ),
        (
            "zero_width",
            &good,
            "\"d_model\": 128",
            "\"d_model\": 0",
            "d_model",
        ),
        (
            "huge",
            &good,
            "\"d_model\": 128",
            "\"d_model\": 99999999",
            "d_model",
        ),
        (
            "dropout",
            &good,
            "\"dropout\": 0.1",
            "\"dropout\": 1.5",
            "dropout",
        ),
        (
            "eps",
            &good,
            "\"norm_eps\": 0.00001",
            "\"norm_eps\": -1.0",
            "norm_eps",
        ),
        (
            "rnn_layers",
            &rnn_good,
            "\"n_layers\": 2",
            "\"n_layers\": 0",
            "n_layers",
        ),
    ] {
        let config = base.replacen(from, to, 1);
        assert_ne!(&config, base, "{name}: the fixture did not change");
        let path = dir.path().join(format!("{name}.bpk"));
        std::fs::write(&path, &weights).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(path.with_extension("json"), config).unwrap_or_else(|e| panic!("{e}"));
        match AnyModel::<CpuBackend>::load(&ModelSource::Path(path), &device) {
            Err(WeightsError::InvalidConfig(message)) => {
                assert!(message.contains(field), "{name}: {message}");
            }
            other => panic!("{name}: expected InvalidConfig, got {other:?}"),
        }
    }
}
