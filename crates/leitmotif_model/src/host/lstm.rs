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

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

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
    /// The same layer split by hidden units, for a prompt on two threads.
    halves: [UnitHalf; 2],
}

/// The weights of one half of a layer's hidden units: every gate's columns for those units,
/// gates still in the order `[input, forget, output, cell]`. A thread that owns the half
/// computes its units' gates, cell and hidden state alone; only the hidden state is shared.
#[derive(Debug, Clone)]
struct UnitHalf {
    /// `[d_input, 4·units]`.
    input: Packed,
    /// `[d_hidden, 4·units]`.
    recurrent: Packed,
    /// `[4·units]`.
    bias: Vec<f32>,
}

impl UnitHalf {
    /// Hidden units `units` of a layer whose gates are `[d_in, 4·d]` and `[4·d]`.
    fn new(input: &[f32], recurrent: &[f32], bias: &[f32], d: usize, units: Range<usize>) -> Self {
        let columns = |row: &[f32]| -> Vec<f32> {
            (0..4)
                .flat_map(|gate| row[gate * d + units.start..gate * d + units.end].to_vec())
                .collect()
        };
        let pick = |w: &[f32]| -> Vec<f32> { w.chunks_exact(4 * d).flat_map(columns).collect() };
        Self {
            input: Packed::side_by_side(&[&pick(input)], input.len() / (4 * d)),
            recurrent: Packed::side_by_side(&[&pick(recurrent)], d),
            bias: columns(bias),
        }
    }
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
            let halves = [0..d / 2, d / 2..d]
                .map(|units| UnitHalf::new(&input, &recurrent, &bias, d, units));
            layers.push(HostLstmLayer {
                input: Packed::side_by_side(&[&input], d_input),
                bias,
                recurrent: Packed::side_by_side(&[&recurrent], d),
                halves,
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
        crate::error::check_ids(tokens, self.vocab)
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
        // A prompt of one sequence splits every step over two threads by hidden units; single
        // steps and batches are too short to pay for the hand-off.
        if let [tokens] = rows
            && threads() > 1
            && tokens.len() >= SPLIT_FROM
            && self.d_hidden >= SPLIT_UNITS
        {
            let mut h: Vec<&mut [f32]> = hidden.iter_mut().map(|h| &mut *h[0]).collect();
            let mut c: Vec<&mut [f32]> = cell.iter_mut().map(|c| &mut *c[0]).collect();
            self.run_split(tokens, &mut h, &mut c);
            return self.head(hidden, logits);
        }
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
                matmul_packed(&h_step, &weights.recurrent, &mut gates);
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
        self.head(hidden, logits);
    }

    /// One sequence's tokens through every layer, each step split over two threads by
    /// hidden units ([`UnitHalf`]): a half-step computes its units' gates from the whole
    /// previous hidden state and updates those units. Each thread keeps to its own half, so
    /// its half of the weights stays in its core's cache, but takes the other's half of a
    /// step when that is still unclaimed after its own: a thread the OS has put aside (a
    /// busy machine, a game's other threads) never holds up the prompt, and a pool that
    /// runs only one of the two workers still finishes it.
    fn run_split(&self, tokens: &[u32], hidden: &mut [&mut [f32]], cell: &mut [&mut [f32]]) {
        let (d, n) = (self.d_hidden, tokens.len());
        let mut x = Vec::with_capacity(n * self.d_embed);
        for &token in tokens {
            x.extend_from_slice(&self.embedding[token as usize * self.d_embed..][..self.d_embed]);
        }
        let bounds = [0..d / 2, d / 2..d];
        for (layer, weights) in self.layers.iter().enumerate() {
            let [first, second] = &weights.halves;
            // The input's share of every gate at every position, half by half.
            let mut gates_in = [first, second].map(|half| vec![0.0; n * half.bias.len()]);
            let (lo, hi) = gates_in.split_at_mut(1);
            rayon::join(
                || matmul_packed(&x, &first.input, &mut lo[0]),
                || matmul_packed(&x, &second.input, &mut hi[0]),
            );
            let steps = Steps::new(n, &hidden[layer][..], &cell[layer][..]);
            let work = |own: usize| {
                let _guard = steps.abandon_on_panic();
                let mut scratch = Scratch::default();
                for t in 0..n {
                    for half in [own, 1 - own] {
                        if steps.claim(t, half) {
                            steps.wait_for_step(t);
                            let (units, weights) = (bounds[half].clone(), &weights.halves[half]);
                            steps.half_step(t, units, weights, &gates_in[half], &mut scratch);
                        }
                    }
                }
            };
            rayon::join(|| work(0), || work(1));
            x.resize(n * d, 0.0);
            steps.read_outputs(&mut x);
            hidden[layer].copy_from_slice(&x[(n - 1) * d..]);
            steps.read_cells(cell[layer]);
        }
    }

    /// Each sequence's next-token logits from the top layer's hidden state.
    fn head(&self, hidden: &[Vec<&mut [f32]>], logits: &mut Vec<f32>) {
        let rows = hidden.last().map_or(0, Vec::len);
        // The head, for each sequence's last position: the top layer's final hidden state.
        let last: Vec<f32> = hidden
            .last()
            .map(|top| top.iter().flat_map(|h| h.iter().copied()).collect())
            .unwrap_or_default();
        logits.clear();
        logits.resize(rows * self.vocab, 0.0);
        matmul_packed(&last, &self.head, logits);
        for row in logits.chunks_exact_mut(self.vocab) {
            add(row, &self.head_bias);
        }
    }
}

/// Prompts from this many tokens split their steps over two threads ([`HostLstm::run_split`]).
const SPLIT_FROM: usize = 8;

/// Layers from this many hidden units split; below it a step is too short for the hand-off.
const SPLIT_UNITS: usize = 32;

/// One layer's steps in [`HostLstm::run_split`], shared by its two threads: who has claimed
/// each half-step, how many are done, every step's hidden state and the cell state. Values
/// travel as `f32` bits in relaxed atomics; the count of finished half-steps, written with
/// release and read with acquire, orders them.
struct Steps {
    d: usize,
    /// `[d]`: the hidden state before the first step.
    start: Vec<f32>,
    /// `[n, d]`: each step's hidden state (the layer's output).
    outputs: Vec<AtomicU32>,
    /// `[d]`: the cell state after the latest step of each half.
    cells: Vec<AtomicU32>,
    /// `[n, 2]`: whether a thread has taken the half-step.
    claimed: Vec<AtomicBool>,
    /// Half-steps finished: step `t` may start once it reaches `2t`.
    done: AtomicUsize,
    /// Set when a thread unwinds, so that the other stops waiting for it.
    abandoned: AtomicBool,
}

impl Steps {
    fn new(n: usize, hidden: &[f32], cell: &[f32]) -> Self {
        let bits = |values: &[f32]| values.iter().map(|v| AtomicU32::new(v.to_bits())).collect();
        Self {
            d: hidden.len(),
            start: hidden.to_vec(),
            outputs: (0..n * hidden.len()).map(|_| AtomicU32::new(0)).collect(),
            cells: bits(cell),
            claimed: (0..2 * n).map(|_| AtomicBool::new(false)).collect(),
            done: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
        }
    }

    /// Takes half-step (`t`, `half`) if no thread has.
    fn claim(&self, t: usize, half: usize) -> bool {
        !self.claimed[2 * t + half].swap(true, Ordering::AcqRel)
    }

    /// Waits for both halves of step `t - 1`. Every half-step before the caller's is claimed
    /// by then (each thread tries both halves of a step before the next), so this waits only
    /// for work in hand: a spin (a half-step takes microseconds), then yielding the core.
    fn wait_for_step(&self, t: usize) {
        let mut spins = 0_u32;
        while self.done.load(Ordering::Acquire) < 2 * t {
            if self.abandoned.load(Ordering::Relaxed) {
                return;
            }
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Step `t` for hidden units `units`: their gates from the whole previous hidden state,
    /// then their cell and hidden state.
    fn half_step(
        &self,
        t: usize,
        units: Range<usize>,
        weights: &UnitHalf,
        gates_in: &[f32],
        scratch: &mut Scratch,
    ) {
        let (d, w) = (self.d, units.len());
        let Scratch {
            previous,
            gates,
            cell,
            hidden,
        } = scratch;
        previous.resize(d, 0.0);
        match t {
            0 => previous.copy_from_slice(&self.start),
            _ => load(&self.outputs[(t - 1) * d..t * d], previous),
        }
        gates.resize(4 * w, 0.0);
        matmul_packed(previous, &weights.recurrent, gates);
        add(gates, &gates_in[t * 4 * w..(t + 1) * 4 * w]);
        cell.resize(w, 0.0);
        hidden.resize(w, 0.0);
        load(&self.cells[units.clone()], cell);
        cell_update(gates, &weights.bias, hidden, cell);
        store(&self.cells[units.clone()], cell);
        store(
            &self.outputs[t * d + units.start..t * d + units.end],
            hidden,
        );
        self.done.fetch_add(1, Ordering::Release);
    }

    /// A guard that marks the steps abandoned if its thread unwinds.
    fn abandon_on_panic(&self) -> AbandonOnPanic<'_> {
        AbandonOnPanic(&self.abandoned)
    }

    /// `[n, d]`: every step's hidden state, once all are done.
    fn read_outputs(&self, out: &mut [f32]) {
        load(&self.outputs, out);
    }

    fn read_cells(&self, out: &mut [f32]) {
        load(&self.cells, out);
    }
}

/// One thread's buffers for [`Steps::half_step`], reused from step to step.
#[derive(Default)]
struct Scratch {
    previous: Vec<f32>,
    gates: Vec<f32>,
    cell: Vec<f32>,
    hidden: Vec<f32>,
}

/// See [`Steps::abandon_on_panic`].
struct AbandonOnPanic<'a>(&'a AtomicBool);

impl Drop for AbandonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Spins before a waiting thread yields its core: about a half-step's time.
const SPINS: u32 = 1 << 10;

fn load(cells: &[AtomicU32], out: &mut [f32]) {
    for (value, c) in out.iter_mut().zip(cells) {
        *value = f32::from_bits(c.load(Ordering::Relaxed));
    }
}

fn store(cells: &[AtomicU32], values: &[f32]) {
    for (c, v) in cells.iter().zip(values) {
        c.store(v.to_bits(), Ordering::Relaxed);
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
