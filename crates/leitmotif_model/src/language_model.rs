//! What both models share: the [`LanguageModel`] trait, token batches and the next-token
//! loss.

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{ModelError, check_ids};

/// A next-token model over token ids, trained on whole sequences and decoded one token at a
/// time with a caller-owned state.
pub trait LanguageModel<B: Backend>: Module<B> {
    /// The decoding state (a KV cache or a recurrent state) carried between calls.
    type State;

    /// Number of distinct token ids.
    fn vocab_size(&self) -> usize;

    /// Logits for the next token at every position.
    ///
    /// # Shapes
    ///
    /// - tokens: `[batch, seq]`
    /// - output: `[batch, seq, vocab]`
    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3>;

    /// A fresh, empty decoding state.
    fn new_state(&self) -> Self::State;

    /// Consumes a prompt and returns the logits for the token after it.
    ///
    /// # Shapes
    ///
    /// - prompt: `[batch, seq]`
    /// - output: `[batch, vocab]`
    ///
    /// # Errors
    ///
    /// An empty prompt, or a state built for another batch size.
    fn prefill(
        &self,
        prompt: Tensor<B, 2, Int>,
        state: &mut Self::State,
    ) -> Result<Tensor<B, 2>, ModelError>;

    /// Consumes one token per sequence and returns the logits for the next one.
    ///
    /// # Shapes
    ///
    /// - tokens: `[batch]`
    /// - output: `[batch, vocab]`
    ///
    /// # Errors
    ///
    /// An empty batch, or a state built for another batch size.
    fn step(
        &self,
        tokens: Tensor<B, 1, Int>,
        state: &mut Self::State,
    ) -> Result<Tensor<B, 2>, ModelError>;
}

/// Builds a `[batch, seq]` token tensor from rows of ids, checking them first.
///
/// # Errors
///
/// [`ModelError::Empty`] without rows or with empty rows, [`ModelError::RaggedBatch`] when
/// rows differ in length, [`ModelError::TokenOutOfRange`] for an id `>= vocab_size`.
pub fn token_tensor<B: Backend, R: AsRef<[u32]>>(
    rows: &[R],
    vocab_size: usize,
    device: &B::Device,
) -> Result<Tensor<B, 2, Int>, ModelError> {
    let Some(first) = rows.first() else {
        return Err(ModelError::Empty);
    };
    let seq = first.as_ref().len();
    if seq == 0 {
        return Err(ModelError::Empty);
    }
    let mut ids = Vec::with_capacity(rows.len() * seq);
    for row in rows {
        let row = row.as_ref();
        if row.len() != seq {
            return Err(ModelError::RaggedBatch {
                first: seq,
                other: row.len(),
            });
        }
        check_ids(row, vocab_size)?;
        ids.extend(row.iter().map(|&token| i64::from(token)));
    }
    Ok(Tensor::from_data(
        TensorData::new(ids, [rows.len(), seq]),
        device,
    ))
}

/// Mean cross-entropy of next-token logits against target ids, skipping a padding id.
///
/// # Shapes
///
/// - logits: `[batch, seq, vocab]`
/// - targets: `[batch, seq]`
/// - output: `[1]`
pub fn next_token_loss<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    pad: Option<u32>,
) -> Tensor<B, 1> {
    let [batch, seq] = targets.dims();
    // [batch, seq, 1]
    let picked = log_softmax(logits, 2).gather(2, targets.clone().reshape([batch, seq, 1]));
    // [batch · seq]
    let nll = picked.reshape([batch * seq]).neg();
    match pad {
        None => nll.mean(),
        Some(pad) => {
            // [batch · seq], 1 where the target counts.
            let keep = targets.reshape([batch * seq]).not_equal_elem(pad).float();
            let count = keep.clone().sum().clamp_min(1.0);
            (nll * keep).sum() / count
        }
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use burn::tensor::Tolerance;

    type B = CpuBackend;

    #[test]
    fn token_tensor_checks_rows() {
        let device = Default::default();
        let ok = token_tensor::<B, _>(&[[1, 2, 3], [4, 5, 6]], 7, &device).unwrap();
        assert_eq!(ok.dims(), [2, 3]);
        assert_eq!(
            token_tensor::<B, _>(&[vec![1, 2], vec![3]], 7, &device).unwrap_err(),
            ModelError::RaggedBatch { first: 2, other: 1 }
        );
        assert_eq!(
            token_tensor::<B, _>(&[[1, 7]], 7, &device).unwrap_err(),
            ModelError::TokenOutOfRange {
                token: 7,
                vocab_size: 7
            }
        );
        let no_rows: [[u32; 0]; 0] = [];
        assert_eq!(
            token_tensor::<B, _>(&no_rows, 7, &device).unwrap_err(),
            ModelError::Empty
        );
    }

    #[test]
    fn loss_of_uniform_logits_is_log_vocab() {
        let device = Default::default();
        let logits = Tensor::<B, 3>::zeros([2, 3, 8], &device);
        let targets = token_tensor::<B, _>(&[[1, 2, 3], [4, 0, 0]], 8, &device).unwrap();
        let expected = Tensor::<B, 1>::from_floats([8f32.ln()], &device).into_data();
        next_token_loss(logits.clone(), targets.clone(), None)
            .into_data()
            .assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
        next_token_loss(logits, targets, Some(0))
            .into_data()
            .assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
    }

    #[test]
    fn padding_is_ignored() {
        let device = Default::default();
        // Position 1 predicts token 1 with certainty; position 0 is padding and uniform.
        let mut values = vec![0.0f32; 2 * 4];
        values[4 + 1] = 100.0;
        let logits = Tensor::<B, 3>::from_data(TensorData::new(values, [1, 2, 4]), &device);
        let targets = token_tensor::<B, _>(&[[0, 1]], 4, &device).unwrap();
        let loss = next_token_loss(logits, targets, Some(0)).into_scalar();
        assert!(loss.abs() < 1e-4, "loss {loss}");
    }
}
