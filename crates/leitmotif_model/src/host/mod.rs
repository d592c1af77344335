//! The CPU decoding path of both models on plain `f32` slices: [`HostTransformer`] for a
//! trained [`MotifTransformer`](crate::MotifTransformer), [`HostLstm`] for a
//! [`MelodyRnn`](crate::MelodyRnn), and [`HostModel::load`] to read either straight from its
//! burnpack weights, with no burn backend built at all.
//!
//! Decoding one token of a model this small is about 0.84 M multiply-adds. Through a tensor
//! library each step is some 170 small operations, each with its own allocation, layout
//! check and (for attention and the head split) a strided copy, so the bookkeeping costs
//! more than the arithmetic: profiled on burn's Flex backend, copies of strided views, the
//! naive attention kernel and scalar `erf` took over half of a decoding step. This path does
//! the same arithmetic with none of that:
//!
//! - a key/value cache preallocated for the model's context, written in place;
//! - rotary tables computed once, when the model is loaded;
//! - one pass per layer: norm, the three projections, rotation, cache write and attention
//!   for every new position, then the MLP, with buffers reused across layers;
//! - batches: every matrix is read once per step for all rows (the drafts of
//!   `--candidates`, or a batch of requests), and long prompts split their rows over the
//!   CPU's threads.
//!
//! burn stays the reference: the weights are burn's own files, and the tests check this
//! path's logits against burn's forward pass and PyTorch's on the shipped weights.

mod kernels;
mod load;
mod lstm;
mod transformer;

pub use lstm::{HostLstm, HostLstmState};
pub use transformer::{HostCache, HostTransformer};

use crate::error::ModelError;
use crate::rnn::MelodyRnnConfig;
use crate::source::{ModelKind, ModelSource, SourceBytes};
use crate::transformer::MotifTransformerConfig;
use crate::weights::WeightsError;
use load::HostTensors;

/// A model of either kind on the host.
#[derive(Debug, Clone)]
pub enum HostModel {
    /// A melody LSTM.
    Rnn(HostLstm),
    /// A multi-part transformer.
    Transformer(HostTransformer),
}

impl HostModel {
    /// Loads the model `source` names straight from its burnpack, with its identifier (name
    /// and weights hash, as [`AnyModel::load`](crate::AnyModel::load) gives it).
    ///
    /// # Errors
    /// [`WeightsError`] for a missing, corrupt or mismatched weights or config file.
    pub fn load(source: &ModelSource) -> Result<(Self, String), WeightsError> {
        let SourceBytes {
            kind,
            config,
            weights,
            id,
        } = SourceBytes::read(source)?;
        let tensors = HostTensors::from_burnpack(weights)?;
        let model = match kind {
            ModelKind::Rnn => {
                let config: MelodyRnnConfig =
                    serde_json::from_slice(&config).map_err(WeightsError::Config)?;
                HostModel::Rnn(HostLstm::from_tensors(&config, tensors)?)
            }
            ModelKind::Transformer => {
                let config: MotifTransformerConfig =
                    serde_json::from_slice(&config).map_err(WeightsError::Config)?;
                HostModel::Transformer(HostTransformer::from_tensors(&config, tensors)?)
            }
        };
        Ok((model, id))
    }

    /// How many tokens of context the model should see at once (unbounded for the LSTM).
    pub fn context(&self) -> usize {
        match self {
            HostModel::Rnn(_) => usize::MAX,
            HostModel::Transformer(model) => model.max_seq_len(),
        }
    }
}

/// Keeps only batch row `row` of every buffer (each `[batch, ...]`), as a batch of one: the
/// chosen draft of a decoding state. `batch` becomes 1.
///
/// # Errors
/// [`ModelError::BatchMismatch`] if `row` is not a row of the batch.
fn keep_row<'a>(
    buffers: impl Iterator<Item = &'a mut Vec<f32>>,
    batch: &mut usize,
    row: usize,
) -> Result<(), ModelError> {
    if row >= *batch {
        return Err(ModelError::BatchMismatch {
            state: *batch,
            input: row + 1,
        });
    }
    for buffer in buffers {
        let per_row = buffer.len() / *batch;
        buffer.copy_within(row * per_row..(row + 1) * per_row, 0);
        buffer.truncate(per_row);
    }
    *batch = 1;
    Ok(())
}
