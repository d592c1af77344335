//! The training backends and one optimisation step. Inference (`leitmotif_model`) builds
//! without burn's autodiff; only training adds it. Data-parallel steps are in
//! [`parallel`](crate::parallel).

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Int, Tensor};
use leitmotif_model::{CpuDevice, LanguageModel, next_token_loss};

/// The CPU training backend: `Autodiff<Flex>`.
///
/// With Flex's `rayon` feature on (this crate turns it on), `Autodiff<Flex>` trained the LSTM
/// 1.4–1.6× faster than `Autodiff<NdArray>` and the transformer about as fast (within the ±15 %
/// noise), on the 2-core reference machine; the crate docs have the table. Re-run
/// `cargo bench -p leitmotif_train --bench train_step` before changing it.
pub type TrainBackend = Autodiff<Flex>;

/// The device of [`TrainBackend`].
pub type TrainDevice = CpuDevice;

/// One optimisation step of next-token prediction on a batch of sequences.
///
/// Each row of `tokens` is split into inputs (all but the last token) and targets (all but the
/// first). Returns the updated model and the batch's loss before the update.
///
/// # Shapes
///
/// - tokens: `[batch, seq + 1]`
///
/// # Panics
///
/// If the rows are shorter than 2 tokens.
pub fn train_step<B, M, O>(
    model: M,
    optimizer: &mut O,
    tokens: Tensor<B, 2, Int>,
    learning_rate: f64,
    pad: Option<u32>,
) -> (M, f32)
where
    B: AutodiffBackend,
    M: LanguageModel<B> + AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let [_batch, len] = tokens.dims();
    assert!(len >= 2, "train_step needs rows of at least 2 tokens");
    let inputs = tokens.clone().narrow(1, 0, len - 1);
    let targets = tokens.narrow(1, 1, len - 1);
    let loss = next_token_loss(model.forward(inputs), targets, pad);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optimizer.step(learning_rate, model, grads);
    (model, loss.into_scalar().elem::<f32>())
}
