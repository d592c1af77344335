//! [`HostLstm`]: a trained [`MelodyRnn`] on the host.
//!
//! The same arithmetic as [`FusedLstm`](crate::FusedLstm), laid out for decoding:
//!
//! - a prompt runs layer by layer: the input projection of every position is one matrix
//!   product (split over the CPU's threads), and only the recurrent product is left to the
//!   sequential loop, whose `[d_hidden, 4·d_hidden]` weights stay in the core's cache for
//!   the whole prompt;
//! - a step reads each matrix once for every row of the batch;
//! - the gates' sigmoid and tanh are arithmetic on the host path's `exp`, so they vectorise.

use burn::tensor::backend::Backend;

use super::kernels::{add, exp, matmul, matmul_rows};
use super::load::HostTensors;
use crate::error::ModelError;
use crate::rnn::{MelodyRnn, MelodyRnnConfig};
use crate::weights::{ModelConfig, WeightsError};

/// A [`MelodyRnn`]'s weights on the host, ready to decode.
#[derive(Debug, Clone)]
pub struct HostLstm {
    vocab: usize,
    d_embed: usize,
    d_hidden: usize,
    /// `[vocab, d_embed]`.
    embedding: Vec<f32>,
    layers: Vec<HostLstmLayer>,
    /// `[d_hidden, vocab]` and `[vocab]`.
    head: Vec<f32>,
    head_bias: Vec<f32>,
}

/// One layer; gates in the order `[input, forget, output, cell]` along the last axis.
#[derive(Debug, Clone)]
struct HostLstmLayer {
    d_input: usize,
    /// `[d_input, 4·d_hidden]`.
    input: Vec<f32>,
    /// `[4·d_hidden]`.
    bias: Vec<f32>,
    /// `[d_hidden, 4·d_hidden]`.
    recurrent: Vec<f32>,
}

/// The hidden and cell state of every layer for a batch of sequences: the decoding state of
/// a [`HostLstm`]. Cloning it forks every sequence.
#[derive(Debug, Clone, Default)]
pub struct HostLstmState {
    batch: usize,
    len: usize,
    /// Per layer, `[batch, d_hidden]`.
    hidden: Vec<Vec<f32>>,
    cell: Vec<Vec<f32>>,
}

impl HostLstmState {
    /// An empty state; the first call sizes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tokens consumed so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no token has been consumed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch size, once sized.
    pub fn batch_size(&self) -> Option<usize> {
        (!self.hidden.is_empty()).then_some(self.batch)
    }

    /// Keeps only batch row `row` (for a chosen draft), as a batch of one.
    ///
    /// # Errors
    /// [`ModelError::BatchMismatch`] if `row` is not a row of the state.
    pub fn select_row(&mut self, row: usize) -> Result<(), ModelError> {
        if row >= self.batch {
            return Err(ModelError::BatchMismatch {
                state: self.batch,
                input: row + 1,
            });
        }
        for buffer in self.hidden.iter_mut().chain(self.cell.iter_mut()) {
            let d = buffer.len() / self.batch;
            buffer.copy_within(row * d..(row + 1) * d, 0);
            buffer.truncate(d);
        }
        self.batch = 1;
        Ok(())
    }
}

impl HostLstm {
    /// Copies a model's weights to the host.
    ///
    /// # Errors
    /// [`WeightsError::Mismatch`] if the module's tensors do not have the names and shapes
    /// of a [`MelodyRnn`] (never for a model built by its config).
    pub fn from_model<B: Backend>(model: &MelodyRnn<B>) -> Result<Self, WeightsError> {
        let d_embed = model.embedding.weight.shape().dims::<2>()[1];
        let config = MelodyRnnConfig::new(model.vocab_size())
            .with_d_embed(d_embed)
            .with_d_hidden(model.d_hidden())
            .with_n_layers(model.layers.len());
        Self::from_tensors(&config, HostTensors::from_module(model))
    }

    /// Builds the host model from `config` and the tensors of its weights, checking every
    /// name and shape.
    pub(crate) fn from_tensors(
        config: &MelodyRnnConfig,
        mut tensors: HostTensors,
    ) -> Result<Self, WeightsError> {
        config.check().map_err(WeightsError::InvalidConfig)?;
        let (vocab, d_embed, d) = (config.vocab_size, config.d_embed, config.d_hidden);
        let mut layers = Vec::with_capacity(config.n_layers);
        for layer in 0..config.n_layers {
            let d_input = if layer == 0 { d_embed } else { d };
            let name = |part: &str| format!("layers.{layer}.{part}");
            layers.push(HostLstmLayer {
                d_input,
                input: tensors.take(&name("input.weight"), &[d_input, 4 * d])?,
                bias: tensors.take(&name("input.bias"), &[4 * d])?,
                recurrent: tensors.take(&name("recurrent.weight"), &[d, 4 * d])?,
            });
        }
        let embedding = tensors.take("embedding.weight", &[vocab, d_embed])?;
        let head = tensors.take("head.weight", &[d, vocab])?;
        let head_bias = tensors.take("head.bias", &[vocab])?;
        tensors.finish()?;
        Ok(Self {
            vocab,
            d_embed,
            d_hidden: d,
            embedding,
            layers,
            head,
            head_bias,
        })
    }

    /// Number of distinct token ids.
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// Feeds `seq` tokens to each of `batch` sequences (`tokens` is `[batch, seq]`, row
    /// major), carrying on from `state`, and writes the logits for the token after each
    /// sequence's last into `logits` (`[batch, vocab]`).
    ///
    /// # Errors
    /// [`ModelError::Empty`] for no tokens, [`ModelError::RaggedBatch`] when `tokens` is not
    /// `batch` rows, [`ModelError::TokenOutOfRange`], [`ModelError::BatchMismatch`] when
    /// `state` holds another batch size.
    pub fn forward(
        &self,
        tokens: &[u32],
        batch: usize,
        state: &mut HostLstmState,
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        if batch == 0 || tokens.is_empty() {
            return Err(ModelError::Empty);
        }
        if !tokens.len().is_multiple_of(batch) {
            return Err(ModelError::RaggedBatch {
                first: tokens.len().div_ceil(batch),
                other: tokens.len() / batch,
            });
        }
        if let Some(&token) = tokens.iter().find(|&&t| t as usize >= self.vocab) {
            return Err(ModelError::TokenOutOfRange {
                token,
                vocab_size: self.vocab,
            });
        }
        let d = self.d_hidden;
        if state.hidden.is_empty() {
            state.batch = batch;
            state.len = 0;
            state.hidden = vec![vec![0.0; batch * d]; self.layers.len()];
            state.cell = state.hidden.clone();
        } else if state.batch != batch {
            return Err(ModelError::BatchMismatch {
                state: state.batch,
                input: batch,
            });
        }
        let seq = tokens.len() / batch;
        // Time-major rows: row t · batch + b is sequence b's t-th new token, so each step's
        // rows are contiguous.
        let mut x = Vec::with_capacity(seq * batch * self.d_embed);
        for t in 0..seq {
            for b in 0..batch {
                let token = tokens[b * seq + t] as usize;
                x.extend_from_slice(&self.embedding[token * self.d_embed..][..self.d_embed]);
            }
        }
        let mut gates_in = vec![0.0; seq * batch * 4 * d];
        let mut gates = vec![0.0; batch * 4 * d];
        for (layer, weights) in self.layers.iter().enumerate() {
            // The input's share of every gate, for every position at once.
            matmul(&x, weights.d_input, &weights.input, 4 * d, &mut gates_in);
            let (hidden, cell) = (&mut state.hidden[layer], &mut state.cell[layer]);
            let mut output = vec![0.0; seq * batch * d];
            for t in 0..seq {
                matmul_rows(hidden, d, &weights.recurrent, 4 * d, &mut gates);
                add(
                    &mut gates,
                    &gates_in[t * batch * 4 * d..(t + 1) * batch * 4 * d],
                );
                for b in 0..batch {
                    cell_update(
                        &mut gates[b * 4 * d..(b + 1) * 4 * d],
                        &weights.bias,
                        &mut hidden[b * d..(b + 1) * d],
                        &mut cell[b * d..(b + 1) * d],
                    );
                }
                output[t * batch * d..(t + 1) * batch * d].copy_from_slice(hidden);
            }
            x = output;
        }
        state.len += seq;
        // The head, for the last position of each sequence: its rows are the final hidden
        // state.
        let last = state.hidden.last().map_or(&[][..], Vec::as_slice);
        logits.clear();
        logits.resize(batch * self.vocab, 0.0);
        matmul_rows(last, d, &self.head, self.vocab, logits);
        for row in logits.chunks_exact_mut(self.vocab) {
            add(row, &self.head_bias);
        }
        Ok(())
    }
}

/// One row's gates (`[input, forget, output, cell]`, without bias) to the next hidden and
/// cell state.
fn cell_update(gates: &mut [f32], bias: &[f32], hidden: &mut [f32], cell: &mut [f32]) {
    let d = hidden.len();
    add(gates, bias);
    let (sigmoids, candidate) = gates.split_at_mut(3 * d);
    sigmoids.iter_mut().for_each(|g| *g = sigmoid(*g));
    candidate.iter_mut().for_each(|g| *g = tanh(*g));
    let (input, rest) = sigmoids.split_at(d);
    let (forget, output) = rest.split_at(d);
    for j in 0..d {
        let c = forget[j] * cell[j] + input[j] * candidate[j];
        cell[j] = c;
        hidden[j] = output[j] * tanh(c);
    }
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x = 1 - 2 / (e^2x + 1)`: exact at the ends, within a few ulp of the library's.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}
