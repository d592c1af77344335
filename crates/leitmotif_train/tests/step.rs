//! One training step: both models overfit one small batch on the training backend.

use burn::module::AutodiffModule;
use burn::optim::AdamConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use leitmotif_model::{LanguageModel, MelodyRnnConfig, MotifTransformerConfig};
use leitmotif_train::{TrainBackend, train_step};

const VOCAB: usize = 24;

/// Deterministic pseudo-random token ids.
fn tokens<Bk: Backend>(batch: usize, seq: usize, seed: u64) -> Tensor<Bk, 2, Int> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let ids: Vec<i64> = (0..batch * seq)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % VOCAB as u64) as i64
        })
        .collect();
    Tensor::from_data(TensorData::new(ids, [batch, seq]), &Default::default())
}

/// Runs 60 Adam steps on one batch and checks the loss more than halves.
fn assert_overfits<Bk, M>(model: M, learning_rate: f64)
where
    Bk: AutodiffBackend,
    M: LanguageModel<Bk> + AutodiffModule<Bk>,
{
    let batch = tokens::<Bk>(4, 17, 11);
    let mut optimizer = AdamConfig::new().init::<Bk, M>();
    let mut model = model;
    let mut losses = Vec::new();
    for _ in 0..60 {
        let loss;
        (model, loss) = train_step(model, &mut optimizer, batch.clone(), learning_rate, None);
        losses.push(loss);
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(
        last < 0.5 * first,
        "loss went from {first} to {last}: {losses:?}"
    );
}

#[test]
fn rnn_overfits_one_batch() {
    let device = Default::default();
    TrainBackend::seed(&device, 1);
    let model = MelodyRnnConfig::tiny(VOCAB)
        .with_dropout(0.0)
        .init::<TrainBackend>(&device);
    assert_overfits(model, 1e-2);
}

#[test]
fn transformer_overfits_one_batch() {
    let device = Default::default();
    TrainBackend::seed(&device, 1);
    let model = MotifTransformerConfig::tiny(VOCAB)
        .with_dropout(0.0)
        .init::<TrainBackend>(&device);
    assert_overfits(model, 3e-3);
}
