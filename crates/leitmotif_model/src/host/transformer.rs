//! [`HostTransformer`]: the transformer on the host.

use std::ops::Range;

use burn::tensor::backend::Backend;
use rayon::prelude::*;

use super::kernels::{
    PARALLEL_WORK, Packed, add, dot, gelu_all, matmul_packed, matmul_rows, matvec, softmax, threads,
};
use super::load::HostTensors;
use crate::error::ModelError;
use crate::transformer::{MotifTransformer, MotifTransformerConfig};
use crate::weights::{ModelConfig, WeightsError};

/// A [`MotifTransformer`]'s weights on the host, ready to decode.
#[derive(Debug, Clone)]
pub struct HostTransformer {
    vocab: usize,
    d_model: usize,
    n_heads: usize,
    head_dim: usize,
    d_ff: usize,
    max_seq_len: usize,
    /// `[vocab, d_model]`: the embedding and the tied output head.
    embedding: Vec<f32>,
    blocks: Vec<HostBlock>,
    final_norm: Norm,
    /// Rotary cosines and sines, `[positions, head_dim / 2]`, for the model's context.
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// Wavelengths, for positions past the table.
    inv_freq: Vec<f64>,
}

#[derive(Debug, Clone)]
struct Norm {
    gamma: Vec<f32>,
    epsilon: f32,
}

/// One block's weights, packed for the tile loop from burn's `Linear` layout (`[d_in, d_out]`).
#[derive(Debug, Clone)]
struct HostBlock {
    attention_norm: Norm,
    /// `[d_model, 3 · d_model]`: the query, key and value projections side by side, so one
    /// pass over the normed rows makes all three.
    qkv: Packed,
    output: Packed,
    mlp_norm: Norm,
    up: Packed,
    down: Packed,
}

/// The keys and values of every layer for the tokens decoded so far, for a batch of
/// sequences: the decoding state of a [`HostTransformer`].
///
/// Preallocated for the model's context length at the first call; a longer sequence grows
/// it (doubling). Cloning it forks every sequence.
#[derive(Debug, Clone, Default)]
pub struct HostCache {
    batch: usize,
    len: usize,
    capacity: usize,
    /// Per layer, `[batch, heads, capacity, head_dim]`.
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
}

impl HostCache {
    /// An empty cache; the first call sizes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions cached: the position of the next token.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch size, once sized.
    pub fn batch_size(&self) -> Option<usize> {
        (!self.keys.is_empty()).then_some(self.batch)
    }

    /// Keeps only batch row `row` (for a chosen draft), as a batch of one.
    ///
    /// # Errors
    /// [`ModelError::BatchMismatch`] if `row` is not a row of the cache.
    pub fn select_row(&mut self, row: usize) -> Result<(), ModelError> {
        super::keep_row(
            self.keys.iter_mut().chain(self.values.iter_mut()),
            &mut self.batch,
            row,
        )
    }
}

impl HostTransformer {
    /// Copies a model's weights to the host and computes its rotary tables.
    ///
    /// # Errors
    /// [`WeightsError::Mismatch`] if the module's tensors do not have the names and shapes
    /// of a [`MotifTransformer`] (never for a model built by its config).
    pub fn from_model<B: Backend>(model: &MotifTransformer<B>) -> Result<Self, WeightsError> {
        let d_model = model.d_model();
        let d_ff = model
            .blocks
            .first()
            .map_or(d_model, |b| b.mlp.up.weight.shape().dims::<2>()[1]);
        let config = MotifTransformerConfig::new(model.vocab_size())
            .with_d_model(d_model)
            .with_n_layers(model.blocks.len())
            .with_n_heads(model.n_heads())
            .with_mlp_ratio(d_ff / d_model.max(1))
            .with_max_seq_len(model.max_seq_len)
            .with_rope_theta(model.rope.theta)
            .with_norm_eps(model.final_norm.epsilon);
        Self::from_tensors(&config, HostTensors::from_module(model))
    }

    /// Builds the host model from `config` and the tensors of its weights, checking every
    /// name and shape.
    pub(crate) fn from_tensors(
        config: &MotifTransformerConfig,
        mut tensors: HostTensors,
    ) -> Result<Self, WeightsError> {
        config.check().map_err(WeightsError::InvalidConfig)?;
        let (vocab, d_model) = (config.vocab_size, config.d_model);
        let d_ff = d_model * config.mlp_ratio;
        let head_dim = d_model / config.n_heads;
        let half = head_dim / 2;
        let epsilon = config.norm_eps as f32;
        let norm = |tensors: &mut HostTensors, name: &str| -> Result<Norm, WeightsError> {
            Ok(Norm {
                gamma: tensors.take(&format!("{name}.gamma"), &[d_model])?,
                epsilon,
            })
        };
        let mut blocks = Vec::with_capacity(config.n_layers);
        for layer in 0..config.n_layers {
            let attention_norm = norm(&mut tensors, &format!("blocks.{layer}.attention_norm"))?;
            let mlp_norm = norm(&mut tensors, &format!("blocks.{layer}.mlp_norm"))?;
            let mut linear = |name: &str, d_in: usize, d_out: usize| {
                tensors.take(&format!("blocks.{layer}.{name}.weight"), &[d_in, d_out])
            };
            let query = linear("attention.query", d_model, d_model)?;
            let key = linear("attention.key", d_model, d_model)?;
            let value = linear("attention.value", d_model, d_model)?;
            let output = linear("attention.output", d_model, d_model)?;
            let up = linear("mlp.up", d_model, d_ff)?;
            let down = linear("mlp.down", d_ff, d_model)?;
            blocks.push(HostBlock {
                attention_norm,
                qkv: Packed::side_by_side(&[&query, &key, &value], d_model),
                output: Packed::side_by_side(&[&output], d_model),
                mlp_norm,
                up: Packed::side_by_side(&[&up], d_model),
                down: Packed::side_by_side(&[&down], d_ff),
            });
        }
        let final_norm = norm(&mut tensors, "final_norm")?;
        let embedding = tensors.take("embedding.weight", &[vocab, d_model])?;
        tensors.finish()?;
        let theta = config.rope_theta;
        let inv_freq: Vec<f64> = (0..half)
            .map(|j| theta.powf(-2.0 * j as f64 / head_dim as f64))
            .collect();
        let positions = config.max_seq_len.max(1);
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        for position in 0..positions {
            for &frequency in &inv_freq {
                let angle = position as f64 * frequency;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Ok(Self {
            vocab,
            d_model,
            n_heads: config.n_heads,
            head_dim,
            d_ff,
            max_seq_len: config.max_seq_len,
            embedding,
            blocks,
            final_norm,
            cos,
            sin,
            inv_freq,
        })
    }

    /// Number of distinct token ids.
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// The context length the model was trained on.
    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    /// Feeds `seq` tokens to each of `batch` sequences (`tokens` is `[batch, seq]`, row
    /// major), appending to `cache`, and writes the logits for the token after each
    /// sequence's last into `logits` (`[batch, vocab]`).
    ///
    /// # Errors
    /// [`ModelError::Empty`] for no tokens, [`ModelError::RaggedBatch`] when `tokens` is not
    /// `batch` rows, [`ModelError::TokenOutOfRange`], [`ModelError::BatchMismatch`] when
    /// `cache` holds another batch size.
    pub fn forward(
        &self,
        tokens: &[u32],
        batch: usize,
        cache: &mut HostCache,
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
        let seq = tokens.len() / batch;
        self.reserve(cache, batch, seq)?;
        let past = cache.len;
        let segments: Vec<Segment> = (0..batch)
            .map(|b| Segment {
                cache: 0,
                row: b,
                rows: b * seq..(b + 1) * seq,
                past,
            })
            .collect();
        self.run(tokens, &mut [cache], &segments, logits);
        cache.len += seq;
        Ok(())
    }

    /// Feeds each sequence its own tokens, any number of them, each appending to its own
    /// cache of one sequence, and writes each one's next-token logits into `logits`
    /// (`[rows, vocab]`). The projections and the MLP of all the rows are one pass over the
    /// weights; only attention is per sequence. The drafts of `--candidates` decode together
    /// this way although their lengths differ.
    ///
    /// # Errors
    /// [`ModelError::Empty`] for no rows or a row without tokens,
    /// [`ModelError::TokenOutOfRange`], [`ModelError::BatchMismatch`] for a cache that holds
    /// more than one sequence.
    pub fn forward_rows(
        &self,
        rows: &mut [(&mut HostCache, &[u32])],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        if rows.is_empty() || rows.iter().any(|(_, tokens)| tokens.is_empty()) {
            return Err(ModelError::Empty);
        }
        for (cache, tokens) in rows.iter_mut() {
            self.check_ids(tokens)?;
            self.reserve(cache, 1, tokens.len())?;
        }
        let mut segments = Vec::with_capacity(rows.len());
        let mut at = 0;
        for (r, (cache, tokens)) in rows.iter().enumerate() {
            segments.push(Segment {
                cache: r,
                row: 0,
                rows: at..at + tokens.len(),
                past: cache.len,
            });
            at += tokens.len();
        }
        let tokens: Vec<u32> = rows.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        let mut caches: Vec<&mut HostCache> = rows.iter_mut().map(|(c, _)| &mut **c).collect();
        self.run(&tokens, &mut caches, &segments, logits);
        for (cache, tokens) in rows.iter_mut() {
            cache.len += tokens.len();
        }
        Ok(())
    }

    fn check_ids(&self, tokens: &[u32]) -> Result<(), ModelError> {
        crate::error::check_ids(tokens, self.vocab)
    }

    /// The blocks over `tokens`, which are the sequences of `segments` one after another,
    /// each appending to its cache (room already reserved; the caches' lengths are left to
    /// the caller); `logits` gets each segment's next-token logits, `[segments, vocab]`.
    fn run(
        &self,
        tokens: &[u32],
        caches: &mut [&mut HostCache],
        segments: &[Segment],
        logits: &mut Vec<f32>,
    ) {
        let (d, n, d_ff) = (self.d_model, tokens.len(), self.d_ff);
        // [n, d]: the segments' rows one after another.
        let mut x = Vec::with_capacity(n * d);
        for &token in tokens {
            let row = token as usize * d;
            x.extend_from_slice(&self.embedding[row..row + d]);
        }
        // Each row's position in its sequence.
        let mut positions = vec![0; n];
        for segment in segments {
            for (t, row) in segment.rows.clone().enumerate() {
                positions[row] = segment.past + t;
            }
        }
        // Rows per task: a long prompt's rows split over the threads, each task a whole tile
        // or more; a step of a few sequences stays on this thread (measured: splitting four
        // rows cost more in hand-offs than it saved).
        let parallel = threads() > 1
            && n >= TASK_ROWS * threads()
            && n * d * (4 * d + 2 * d_ff) >= PARALLEL_WORK;
        let per = if parallel { n.div_ceil(threads()) } else { n };
        let mut h = vec![0.0; n * d];
        // [n, 3 · d]: each row's query, key and value.
        let mut qkv = vec![0.0; n * 3 * d];
        let mut context = vec![0.0; n * d];
        let mut hidden = vec![0.0; n * d_ff];
        for (layer, block) in self.blocks.iter().enumerate() {
            x.par_chunks(per * d)
                .zip(h.par_chunks_mut(per * d))
                .zip(qkv.par_chunks_mut(per * 3 * d))
                .zip(positions.par_chunks(per))
                .for_each(|(((x, h), qkv), positions)| {
                    rms_norm(x, &block.attention_norm, d, h);
                    matmul_packed(h, &block.qkv, qkv);
                    for (row, &position) in qkv.chunks_exact_mut(3 * d).zip(positions) {
                        // The queries and keys, head by head.
                        self.rotate(&mut row[..2 * d], position);
                    }
                });
            for segment in segments {
                self.write_cache(caches[segment.cache], layer, &qkv, segment);
            }
            self.attend(caches, layer, &qkv, segments, &mut context);
            x.par_chunks_mut(per * d)
                .zip(context.par_chunks(per * d))
                .zip(h.par_chunks_mut(per * d))
                .zip(hidden.par_chunks_mut(per * d_ff))
                .for_each(|(((x, context), h), hidden)| {
                    matmul_packed(context, &block.output, h);
                    add(x, h);
                    rms_norm(x, &block.mlp_norm, d, h);
                    matmul_packed(h, &block.up, hidden);
                    gelu_all(hidden);
                    matmul_packed(hidden, &block.down, h);
                    add(x, h);
                });
        }
        // The head, for each segment's last position only.
        logits.clear();
        logits.resize(segments.len() * self.vocab, 0.0);
        let mut last = vec![0.0; d];
        for (segment, out) in segments.iter().zip(logits.chunks_exact_mut(self.vocab)) {
            let row = (segment.rows.end - 1) * d;
            rms_norm(&x[row..row + d], &self.final_norm, d, &mut last);
            matvec(&self.embedding, d, &last, out);
        }
    }

    /// Sizes the cache at its first use and makes room for `seq` more positions.
    fn reserve(&self, cache: &mut HostCache, batch: usize, seq: usize) -> Result<(), ModelError> {
        if cache.keys.is_empty() {
            cache.batch = batch;
            cache.len = 0;
            cache.capacity = 0;
        } else if cache.batch != batch {
            return Err(ModelError::BatchMismatch {
                state: cache.batch,
                input: batch,
            });
        }
        let needed = cache.len + seq;
        if needed > cache.capacity {
            let capacity = needed.max(self.max_seq_len).max(2 * cache.capacity);
            let rows = batch * self.n_heads;
            let (old, hd) = (cache.capacity, self.head_dim);
            let grow = |buffer: &mut Vec<f32>| {
                let mut grown = vec![0.0; rows * capacity * hd];
                for r in 0..rows {
                    let filled = cache.len * hd;
                    grown[r * capacity * hd..r * capacity * hd + filled]
                        .copy_from_slice(&buffer[r * old * hd..r * old * hd + filled]);
                }
                *buffer = grown;
            };
            if cache.keys.is_empty() {
                // Each buffer zeroed on its own: the allocator's zeroed pages cost nothing
                // until written, where a clone would copy them all.
                let zeroed = || vec![0.0; rows * capacity * hd];
                cache.keys = (0..self.blocks.len()).map(|_| zeroed()).collect();
                cache.values = (0..self.blocks.len()).map(|_| zeroed()).collect();
            } else {
                cache.keys.iter_mut().for_each(grow);
                cache.values.iter_mut().for_each(grow);
            }
            cache.capacity = capacity;
        }
        Ok(())
    }

    /// Rotates each head of one row ("rotate half": dimension `j` pairs with `j + half`).
    fn rotate(&self, row: &mut [f32], position: usize) {
        let half = self.head_dim / 2;
        let computed;
        let (cos, sin) = if position < self.max_seq_len {
            let at = position * half..(position + 1) * half;
            (&self.cos[at.clone()], &self.sin[at])
        } else {
            computed = self
                .inv_freq
                .iter()
                .map(|f| {
                    let angle = position as f64 * f;
                    (angle.cos() as f32, angle.sin() as f32)
                })
                .unzip::<f32, f32, Vec<f32>, Vec<f32>>();
            (computed.0.as_slice(), computed.1.as_slice())
        };
        for head in row.chunks_exact_mut(self.head_dim) {
            let (a, b) = head.split_at_mut(half);
            for j in 0..half {
                let (x, y) = (a[j], b[j]);
                a[j] = x * cos[j] - y * sin[j];
                b[j] = y * cos[j] + x * sin[j];
            }
        }
    }

    fn head_range(&self, cache: &HostCache, b: usize, head: usize) -> Range<usize> {
        let start = (b * self.n_heads + head) * cache.capacity * self.head_dim;
        start..start + cache.capacity * self.head_dim
    }

    /// Copies a segment's new keys and values (`qkv` is `[rows, 3 · d_model]`) into its
    /// cache.
    fn write_cache(&self, cache: &mut HostCache, layer: usize, qkv: &[f32], segment: &Segment) {
        let (d, hd) = (self.d_model, self.head_dim);
        for head in 0..self.n_heads {
            let range = self.head_range(cache, segment.row, head);
            for (t, row) in segment.rows.clone().enumerate() {
                let src = row * 3 * d + head * hd;
                let dst = range.start + (segment.past + t) * hd;
                cache.keys[layer][dst..dst + hd].copy_from_slice(&qkv[src + d..src + d + hd]);
                cache.values[layer][dst..dst + hd]
                    .copy_from_slice(&qkv[src + 2 * d..src + 2 * d + hd]);
            }
        }
    }

    /// Causal attention of every new position over its cache (itself included), head by
    /// head (heads in parallel when there is enough work); the queries are the first
    /// `d_model` of each `qkv` row.
    fn attend(
        &self,
        caches: &[&mut HostCache],
        layer: usize,
        qkv: &[f32],
        segments: &[Segment],
        context: &mut [f32],
    ) {
        let (d, hd) = (self.d_model, self.head_dim);
        let scale = 1.0 / (hd as f32).sqrt();
        let heads: Vec<(&Segment, usize)> = segments
            .iter()
            .flat_map(|segment| (0..self.n_heads).map(move |head| (segment, head)))
            .collect();
        // One head of one sequence: `[seq, head_dim]` of context.
        let one = |&(segment, head): &(&Segment, usize)| -> Vec<f32> {
            let cache = &*caches[segment.cache];
            let range = self.head_range(cache, segment.row, head);
            let keys = &cache.keys[layer][range.clone()];
            let values = &cache.values[layer][range];
            let (seq, past) = (segment.rows.len(), segment.past);
            let query = |t: usize| {
                let row = (segment.rows.start + t) * 3 * d + head * hd;
                &qkv[row..row + hd]
            };
            let mut out = vec![0.0; seq * hd];
            if seq >= BLOCKED_ATTENTION {
                // Every position at once, as two products in register tiles:
                // `[seq, head_dim] · [head_dim, total]` scores (the positions each row may not
                // see are zeroed after its softmax), then `[seq, total] · [total, head_dim]`.
                let total = past + seq;
                let queries: Vec<f32> = (0..seq).flat_map(|t| query(t).to_vec()).collect();
                let mut scores = vec![0.0; seq * total];
                matmul_packed(
                    &queries,
                    &Packed::transposed(&keys[..total * hd], hd),
                    &mut scores,
                );
                for (t, row) in scores.chunks_exact_mut(total).enumerate() {
                    let (visible, hidden) = row.split_at_mut(past + t + 1);
                    softmax(visible, scale);
                    hidden.fill(0.0);
                }
                let values = Packed::side_by_side(&[&values[..total * hd]], total);
                matmul_packed(&scores, &values, &mut out);
                return out;
            }
            let mut scores = vec![0.0; past + seq];
            for t in 0..seq {
                let visible = past + t + 1;
                let scores = &mut scores[..visible];
                matvec(&keys[..visible * hd], hd, query(t), scores);
                softmax(scores, scale);
                // The weights times the values: a [1, visible] × [visible, head_dim] product.
                matmul_rows(
                    scores,
                    visible,
                    &values[..visible * hd],
                    hd,
                    &mut out[t * hd..(t + 1) * hd],
                );
            }
            out
        };
        let work: usize = segments
            .iter()
            .map(|s| self.n_heads * s.rows.len() * (s.past + s.rows.len()) * hd)
            .sum();
        let outs: Vec<Vec<f32>> = if threads() > 1 && work >= PARALLEL_WORK {
            heads.par_iter().map(one).collect()
        } else {
            heads.iter().map(one).collect()
        };
        for (&(segment, head), out) in heads.iter().zip(&outs) {
            for (t, row) in segment.rows.clone().enumerate() {
                let at = row * d + head * hd;
                context[at..at + hd].copy_from_slice(&out[t * hd..(t + 1) * hd]);
            }
        }
    }
}

/// One sequence's new tokens in a [`HostTransformer::run`]: rows `rows` of the pass, batch
/// row `row` of cache `cache`, which held `past` positions before them.
#[derive(Debug, Clone)]
struct Segment {
    cache: usize,
    row: usize,
    rows: Range<usize>,
    past: usize,
}

/// Fewest rows worth a task of their own on another thread.
const TASK_ROWS: usize = 4;

/// New positions from which attention runs as two matrix products rather than row by row.
const BLOCKED_ATTENTION: usize = 8;

/// burn's `RmsNorm`: `x / sqrt(mean(x²) + ε) · γ`, row by row.
fn rms_norm(x: &[f32], norm: &Norm, d: usize, out: &mut [f32]) {
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mean = dot::<false>(xr, xr) / d as f32;
        let rms = (mean + norm.epsilon).sqrt();
        for ((o, &xv), &g) in or.iter_mut().zip(xr).zip(&norm.gamma) {
            *o = xv / rms * g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostModel;
    use crate::source::ModelSource;

    /// A prompt fed in pieces (blocked attention over a cache already holding positions,
    /// then row by row) gives the logits of the prompt fed at once.
    #[test]
    fn a_prompt_in_pieces_matches_the_prompt_at_once() {
        let Ok((HostModel::Transformer(model), _)) =
            HostModel::load(&ModelSource::DefaultTransformer)
        else {
            panic!("the shipped transformer loads");
        };
        let prompt: Vec<u32> = (0..40).map(|i| (i * 37 % 400) as u32 + 1).collect();
        let (mut whole, mut pieces) = (HostCache::new(), HostCache::new());
        let (mut want, mut got) = (Vec::new(), Vec::new());
        model
            .forward(&prompt.repeat(2), 2, &mut whole, &mut want)
            .unwrap_or_else(|e| panic!("{e}"));
        for range in [0..3, 3..20, 20..39, 39..40] {
            let piece = &prompt[range];
            model
                .forward(&piece.repeat(2), 2, &mut pieces, &mut got)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let worst = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "logits differ by {worst}");
    }
}
