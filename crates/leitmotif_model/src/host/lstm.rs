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

#[cfg(target_arch = "x86_64")]
use super::kernels::has_avx2_fma;
use super::kernels::{Packed, add, dispatch, exp, matmul, matmul_packed, threads};
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
    /// `[d_hidden, vocab]` (packed) and `[vocab]`.
    head: Packed,
    head_bias: Vec<f32>,
}

/// One layer; gates in the order `[input, forget, output, cell]` along the last axis.
#[derive(Debug, Clone)]
struct HostLstmLayer {
    /// `[d_input, 4·d_hidden]`, packed for the tile loop.
    input: Packed,
    /// `[4·d_hidden]`.
    bias: Vec<f32>,
    /// `[d_hidden, 4·d_hidden]`, packed.
    recurrent: Packed,
    /// The same, as its two halves of columns (`[input, forget]` and `[output, cell]`): one
    /// sequence's step splits over two threads, each keeping its half in its core's cache.
    recurrent_halves: [Packed; 2],
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
        super::keep_row(
            self.hidden.iter_mut().chain(self.cell.iter_mut()),
            &mut self.batch,
            row,
        )
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
            let input = tensors.take(&name("input.weight"), &[d_input, 4 * d])?;
            let bias = tensors.take(&name("input.bias"), &[4 * d])?;
            let recurrent = tensors.take(&name("recurrent.weight"), &[d, 4 * d])?;
            layers.push(HostLstmLayer {
                input: Packed::side_by_side(&[&input], d_input),
                bias,
                recurrent: Packed::side_by_side(&[&recurrent], d),
                recurrent_halves: [0, 1].map(|half| {
                    let columns: Vec<f32> = recurrent
                        .chunks_exact(4 * d)
                        .flat_map(|row| row[half * 2 * d..(half + 1) * 2 * d].iter().copied())
                        .collect();
                    Packed::side_by_side(&[&columns], d)
                }),
            });
        }
        let embedding = tensors.take("embedding.weight", &[vocab, d_embed])?;
        let head = Packed::side_by_side(&[&tensors.take("head.weight", &[d, vocab])?], d);
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
        self.check_ids(tokens)?;
        self.size(state, batch)?;
        let seq = tokens.len() / batch;
        let rows: Vec<&[u32]> = tokens.chunks_exact(seq).collect();
        let d = self.d_hidden;
        let mut hidden: Vec<Vec<&mut [f32]>> = state
            .hidden
            .iter_mut()
            .map(|h| h.chunks_exact_mut(d).collect())
            .collect();
        let mut cell: Vec<Vec<&mut [f32]>> = state
            .cell
            .iter_mut()
            .map(|c| c.chunks_exact_mut(d).collect())
            .collect();
        self.run(&rows, &mut hidden, &mut cell, logits);
        state.len += seq;
        Ok(())
    }

    /// Feeds each sequence its own tokens, any number of them, each carrying on from its own
    /// state of one sequence, and writes each one's next-token logits into `logits`
    /// (`[rows, vocab]`). Every matrix is read once per step for all the sequences still
    /// going: the drafts of `--candidates` decode together although their lengths differ.
    ///
    /// # Errors
    /// [`ModelError::Empty`] for no rows or a row without tokens,
    /// [`ModelError::TokenOutOfRange`], [`ModelError::BatchMismatch`] for a state that holds
    /// more than one sequence.
    pub fn forward_rows(
        &self,
        rows: &mut [(&mut HostLstmState, &[u32])],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        if rows.is_empty() || rows.iter().any(|(_, tokens)| tokens.is_empty()) {
            return Err(ModelError::Empty);
        }
        for (state, tokens) in rows.iter_mut() {
            self.check_ids(tokens)?;
            self.size(state, 1)?;
        }
        let tokens: Vec<&[u32]> = rows.iter().map(|(_, tokens)| *tokens).collect();
        let layers = self.layers.len();
        let mut hidden: Vec<Vec<&mut [f32]>> = (0..layers).map(|_| Vec::new()).collect();
        let mut cell: Vec<Vec<&mut [f32]>> = (0..layers).map(|_| Vec::new()).collect();
        for (state, tokens) in rows.iter_mut() {
            state.len += tokens.len();
            for (layer, (h, c)) in state
                .hidden
                .iter_mut()
                .zip(state.cell.iter_mut())
                .enumerate()
            {
                hidden[layer].push(h);
                cell[layer].push(c);
            }
        }
        self.run(&tokens, &mut hidden, &mut cell, logits);
        Ok(())
    }

    fn check_ids(&self, tokens: &[u32]) -> Result<(), ModelError> {
        match tokens.iter().find(|&&t| t as usize >= self.vocab) {
            Some(&token) => Err(ModelError::TokenOutOfRange {
                token,
                vocab_size: self.vocab,
            }),
            None => Ok(()),
        }
    }

    /// Sizes an empty state for `batch` sequences, or checks that it holds that many.
    fn size(&self, state: &mut HostLstmState, batch: usize) -> Result<(), ModelError> {
        if state.hidden.is_empty() {
            state.batch = batch;
            state.len = 0;
            state.hidden = vec![vec![0.0; batch * self.d_hidden]; self.layers.len()];
            state.cell = state.hidden.clone();
            Ok(())
        } else if state.batch != batch {
            Err(ModelError::BatchMismatch {
                state: state.batch,
                input: batch,
            })
        } else {
            Ok(())
        }
    }

    /// The layers over sequences of any lengths: `hidden[layer][row]` and `cell[layer][row]`
    /// are each sequence's state, updated in place; `logits` gets `[rows, vocab]`.
    fn run(
        &self,
        rows: &[&[u32]],
        hidden: &mut [Vec<&mut [f32]>],
        cell: &mut [Vec<&mut [f32]>],
        logits: &mut Vec<f32>,
    ) {
        let d = self.d_hidden;
        // Sequence by sequence: sequence r's t-th token is row starts[r] + t.
        let starts: Vec<usize> = rows
            .iter()
            .scan(0, |at, r| {
                let start = *at;
                *at += r.len();
                Some(start)
            })
            .collect();
        let total: usize = rows.iter().map(|r| r.len()).sum();
        let longest = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut x = Vec::with_capacity(total * self.d_embed);
        for &token in rows.iter().copied().flatten() {
            x.extend_from_slice(&self.embedding[token as usize * self.d_embed..][..self.d_embed]);
        }
        let mut gates_in = vec![0.0; total * 4 * d];
        let mut output = vec![0.0; total * d];
        let (mut h_step, mut c_step, mut gates) = (Vec::new(), Vec::new(), Vec::new());
        // The sequences that have a t-th token (reused: this is the per-step loop).
        let mut live = Vec::with_capacity(rows.len());
        // A long run of one sequence's steps (a prompt) splits each step over two threads;
        // single steps are too short to pay for the hand-off.
        let split_steps = threads() > 1 && rows.len() == 1 && longest >= 8;
        for (layer, weights) in self.layers.iter().enumerate() {
            // The input's share of every gate, for every position at once.
            matmul(&x, &weights.input, &mut gates_in);
            for t in 0..longest {
                live.clear();
                live.extend((0..rows.len()).filter(|&r| rows[r].len() > t));
                // Their states side by side.
                h_step.clear();
                c_step.clear();
                for &r in &live {
                    h_step.extend_from_slice(hidden[layer][r]);
                    c_step.extend_from_slice(cell[layer][r]);
                }
                gates.resize(live.len() * 4 * d, 0.0);
                if live.len() == 1 && split_steps {
                    let (lo, hi) = gates.split_at_mut(2 * d);
                    let [w_lo, w_hi] = &weights.recurrent_halves;
                    rayon::join(
                        || matmul_packed(&h_step, w_lo, lo),
                        || matmul_packed(&h_step, w_hi, hi),
                    );
                } else {
                    matmul_packed(&h_step, &weights.recurrent, &mut gates);
                }
                for (i, &r) in live.iter().enumerate() {
                    let at = starts[r] + t;
                    add(
                        &mut gates[i * 4 * d..(i + 1) * 4 * d],
                        &gates_in[at * 4 * d..(at + 1) * 4 * d],
                    );
                }
                cell_update(&mut gates, &weights.bias, &mut h_step, &mut c_step);
                for (i, &r) in live.iter().enumerate() {
                    hidden[layer][r].copy_from_slice(&h_step[i * d..(i + 1) * d]);
                    cell[layer][r].copy_from_slice(&c_step[i * d..(i + 1) * d]);
                    let at = starts[r] + t;
                    output[at * d..(at + 1) * d].copy_from_slice(&h_step[i * d..(i + 1) * d]);
                }
            }
            std::mem::swap(&mut x, &mut output);
            output.resize(total * d, 0.0);
        }
        // The head, for each sequence's last position: the top layer's final hidden state.
        let last: Vec<f32> = hidden
            .last()
            .map(|top| top.iter().flat_map(|h| h.iter().copied()).collect())
            .unwrap_or_default();
        logits.clear();
        logits.resize(rows.len() * self.vocab, 0.0);
        matmul_packed(&last, &self.head, logits);
        for row in logits.chunks_exact_mut(self.vocab) {
            add(row, &self.head_bias);
        }
    }
}

dispatch!(cell_update, cell_update_avx2, cell_update_body, (gates: &mut [f32], bias: &[f32], hidden: &mut [f32], cell: &mut [f32]));

/// Each row's gates (`[batch, 4·d]`, `[input, forget, output, cell]`, without bias) to the
/// next hidden and cell state (`[batch, d]` each).
#[inline(always)]
fn cell_update_body<const FMA: bool>(
    gates: &mut [f32],
    bias: &[f32],
    hidden: &mut [f32],
    cell: &mut [f32],
) {
    let d = bias.len() / 4;
    for ((gates, hidden), cell) in gates
        .chunks_exact_mut(4 * d)
        .zip(hidden.chunks_exact_mut(d))
        .zip(cell.chunks_exact_mut(d))
    {
        for (g, &b) in gates.iter_mut().zip(bias) {
            *g += b;
        }
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
