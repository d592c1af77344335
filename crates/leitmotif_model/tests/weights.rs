//! Saving and loading weights: round trips, and typed errors (never panics) for missing,
//! truncated, random or mismatched files.

use std::path::Path;

use burn::tensor::{Int, Tensor};
use leitmotif_model::weights::{self, WeightsError, config_path};
use leitmotif_model::{CpuBackend, MelodyRnnConfig, MotifTransformer, MotifTransformerConfig};

type B = CpuBackend;

fn sample_tokens() -> Tensor<B, 2, Int> {
    Tensor::from_ints(
        [[1, 4, 2, 8, 5, 7], [3, 0, 9, 9, 1, 2]],
        &Default::default(),
    )
}

fn logits(model: &MotifTransformer<B>) -> Vec<f32> {
    model.forward(sample_tokens()).into_data().to_vec().unwrap()
}

fn saved_transformer(dir: &Path) -> (std::path::PathBuf, Vec<f32>) {
    let config = MotifTransformerConfig::tiny(12).with_d_model(32);
    let model = config.init::<B>(&Default::default());
    let path = dir.join("motif.bpk");
    weights::save(&config, &model, &path).unwrap();
    (path, logits(&model))
}

fn load_transformer(path: &Path) -> Result<MotifTransformer<B>, WeightsError> {
    weights::load::<B, MotifTransformerConfig>(path, &Default::default()).map(|(_, model)| model)
}

#[test]
fn file_round_trip_keeps_config_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = saved_transformer(dir.path());
    assert!(config_path(&path).exists());
    let (config, model) =
        weights::load::<B, MotifTransformerConfig>(&path, &Default::default()).unwrap();
    assert_eq!(config.d_model, 32);
    assert_eq!(logits(&model), expected);
}

#[test]
fn bytes_and_static_round_trip() {
    let config = MelodyRnnConfig::tiny(12);
    let model = config.init::<B>(&Default::default());
    let bytes = weights::to_bytes(&model).unwrap();
    let json = weights::config_json(&config);
    let expected: Vec<f32> = model.forward(sample_tokens()).into_data().to_vec().unwrap();

    let (_, loaded) = weights::load_bytes::<B, MelodyRnnConfig>(
        json.as_bytes(),
        bytes.clone(),
        &Default::default(),
    )
    .unwrap();
    let got: Vec<f32> = loaded
        .forward(sample_tokens())
        .into_data()
        .to_vec()
        .unwrap();
    assert_eq!(got, expected);

    let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let (_, loaded) =
        weights::load_static::<B, MelodyRnnConfig>(json.as_bytes(), leaked, &Default::default())
            .unwrap();
    let got: Vec<f32> = loaded
        .forward(sample_tokens())
        .into_data()
        .to_vec()
        .unwrap();
    assert_eq!(got, expected);
}

#[test]
fn missing_files_are_read_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        load_transformer(&dir.path().join("absent.bpk")),
        Err(WeightsError::Read { .. })
    ));
    let (path, _) = saved_transformer(dir.path());
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        load_transformer(&path),
        Err(WeightsError::Read { .. })
    ));
}

#[test]
fn truncated_weights_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved_transformer(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    for keep in [0, 7, 40, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let result = load_transformer(&path);
        assert!(
            matches!(result, Err(WeightsError::Corrupt(_))),
            "kept {keep} of {} bytes: {result:?}",
            bytes.len()
        );
    }
}

#[test]
fn random_or_scrambled_weights_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved_transformer(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    std::fs::write(&path, noise(bytes.len())).unwrap();
    assert!(matches!(
        load_transformer(&path),
        Err(WeightsError::Corrupt(_))
    ));
    // A valid header followed by scrambled metadata and data: any error will do, no panic.
    for start in [8, 16, 64] {
        let mut scrambled = bytes.clone();
        let end = (start + 48).min(scrambled.len());
        scrambled[start..end].copy_from_slice(&noise(end - start));
        std::fs::write(&path, &scrambled).unwrap();
        assert!(load_transformer(&path).is_err(), "scrambled at {start}");
    }
}

#[test]
fn config_that_does_not_fit_the_weights_is_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved_transformer(dir.path());
    let wider = MotifTransformerConfig::tiny(12).with_d_model(48);
    std::fs::write(config_path(&path), weights::config_json(&wider)).unwrap();
    assert!(matches!(
        load_transformer(&path),
        Err(WeightsError::Mismatch(_))
    ));
    let deeper = MotifTransformerConfig::tiny(12)
        .with_d_model(32)
        .with_n_layers(3);
    std::fs::write(config_path(&path), weights::config_json(&deeper)).unwrap();
    assert!(matches!(
        load_transformer(&path),
        Err(WeightsError::Mismatch(_))
    ));
    // RNN weights under a transformer config.
    let rnn = MelodyRnnConfig::tiny(12).init::<B>(&Default::default());
    let rnn_bytes = weights::to_bytes(&rnn).unwrap();
    std::fs::write(
        config_path(&path),
        weights::config_json(&MotifTransformerConfig::tiny(12)),
    )
    .unwrap();
    std::fs::write(&path, rnn_bytes).unwrap();
    assert!(matches!(
        load_transformer(&path),
        Err(WeightsError::Mismatch(_))
    ));
}

#[test]
fn bad_config_json_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved_transformer(dir.path());
    std::fs::write(config_path(&path), "{ \"vocab_size\": ").unwrap();
    assert!(matches!(
        load_transformer(&path),
        Err(WeightsError::Config(_))
    ));
}
