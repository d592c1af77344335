//! [`HostTransformer`]: the transformer on the host.

use std::ops::Range;

use burn::tensor::backend::Backend;
use rayon::prelude::*;

use super::kernels::{
    PARALLEL_WORK, add, dot, exp, gelu_all, matmul, matmul_rows, matvec, threads,
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

/// One block's weights; projections are `[d_in, d_out]` (burn's `Linear` layout).
#[derive(Debug, Clone)]
struct HostBlock {
    attention_norm: Norm,
    query: Vec<f32>,
    key: Vec<f32>,
    value: Vec<f32>,
    output: Vec<f32>,
    mlp_norm: Norm,
    up: Vec<f32>,
    down: Vec<f32>,
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
        if row >= self.batch {
            return Err(ModelError::BatchMismatch {
                state: self.batch,
                input: row + 1,
            });
        }
        let per_row = self.keys.first().map_or(0, |k| k.len() / self.batch.max(1));
        for buffer in self.keys.iter_mut().chain(self.values.iter_mut()) {
            buffer.copy_within(row * per_row..(row + 1) * per_row, 0);
            buffer.truncate(per_row);
        }
        self.batch = 1;
        Ok(())
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
            blocks.push(HostBlock {
                attention_norm,
                query: linear("attention.query", d_model, d_model)?,
                key: linear("attention.key", d_model, d_model)?,
                value: linear("attention.value", d_model, d_model)?,
                output: linear("attention.output", d_model, d_model)?,
                mlp_norm,
                up: linear("mlp.up", d_model, d_ff)?,
                down: linear("mlp.down", d_ff, d_model)?,
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
        if let Some(&token) = tokens.iter().find(|&&t| t as usize >= self.vocab) {
            return Err(ModelError::TokenOutOfRange {
                token,
                vocab_size: self.vocab,
            });
        }
        let seq = tokens.len() / batch;
        self.reserve(cache, batch, seq)?;
        let (d, n) = (self.d_model, tokens.len());
        // [n, d]: row b · seq + t is sequence b's t-th new token.
        let mut x = Vec::with_capacity(n * d);
        for &token in tokens {
            let row = token as usize * d;
            x.extend_from_slice(&self.embedding[row..row + d]);
        }
        let mut h = vec![0.0; n * d];
        let mut q = vec![0.0; n * d];
        let mut k = vec![0.0; n * d];
        let mut v = vec![0.0; n * d];
        let mut context = vec![0.0; n * d];
        let mut hidden = vec![0.0; n * self.d_ff];
        for (layer, block) in self.blocks.iter().enumerate() {
            rms_norm(&x, &block.attention_norm, d, &mut h);
            matmul(&h, d, &block.query, d, &mut q);
            matmul(&h, d, &block.key, d, &mut k);
            matmul(&h, d, &block.value, d, &mut v);
            for row in 0..n {
                let position = cache.len + row % seq;
                self.rotate(&mut q[row * d..(row + 1) * d], position);
                self.rotate(&mut k[row * d..(row + 1) * d], position);
            }
            self.write_cache(cache, layer, &k, &v, batch, seq);
            self.attend(cache, layer, &q, batch, seq, &mut context);
            matmul(&context, d, &block.output, d, &mut h);
            add(&mut x, &h);
            rms_norm(&x, &block.mlp_norm, d, &mut h);
            matmul(&h, d, &block.up, self.d_ff, &mut hidden);
            gelu_all(&mut hidden);
            matmul(&hidden, self.d_ff, &block.down, d, &mut h);
            add(&mut x, &h);
        }
        cache.len += seq;
        // The head, for each sequence's last position only.
        logits.clear();
        logits.resize(batch * self.vocab, 0.0);
        let mut last = vec![0.0; d];
        for b in 0..batch {
            let row = (b * seq + seq - 1) * d;
            rms_norm(&x[row..row + d], &self.final_norm, d, &mut last);
            let out = &mut logits[b * self.vocab..(b + 1) * self.vocab];
            matvec(&self.embedding, d, &last, out);
        }
        Ok(())
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
                cache.keys = vec![vec![0.0; rows * capacity * hd]; self.blocks.len()];
                cache.values = cache.keys.clone();
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

    fn write_cache(
        &self,
        cache: &mut HostCache,
        layer: usize,
        k: &[f32],
        v: &[f32],
        batch: usize,
        seq: usize,
    ) {
        let (d, hd) = (self.d_model, self.head_dim);
        for b in 0..batch {
            for head in 0..self.n_heads {
                let range = self.head_range(cache, b, head);
                for t in 0..seq {
                    let src = (b * seq + t) * d + head * hd;
                    let dst = range.start + (cache.len + t) * hd;
                    cache.keys[layer][dst..dst + hd].copy_from_slice(&k[src..src + hd]);
                    cache.values[layer][dst..dst + hd].copy_from_slice(&v[src..src + hd]);
                }
            }
        }
    }

    /// Causal attention of every new position over the cache (itself included), head by
    /// head (heads in parallel for a long prompt).
    fn attend(
        &self,
        cache: &HostCache,
        layer: usize,
        q: &[f32],
        batch: usize,
        seq: usize,
        context: &mut [f32],
    ) {
        let (d, hd) = (self.d_model, self.head_dim);
        let scale = 1.0 / (hd as f32).sqrt();
        let heads: Vec<(usize, usize)> = (0..batch)
            .flat_map(|b| (0..self.n_heads).map(move |head| (b, head)))
            .collect();
        // One head of one sequence: `[seq, head_dim]` of context.
        let one = |&(b, head): &(usize, usize)| -> Vec<f32> {
            let range = self.head_range(cache, b, head);
            let keys = &cache.keys[layer][range.clone()];
            let values = &cache.values[layer][range];
            let mut scores = vec![0.0; cache.len + seq];
            let mut out = vec![0.0; seq * hd];
            for t in 0..seq {
                let row = (b * seq + t) * d + head * hd;
                let visible = cache.len + t + 1;
                let scores = &mut scores[..visible];
                matvec(&keys[..visible * hd], hd, &q[row..row + hd], scores);
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                let mut total = 0.0;
                for score in scores.iter_mut() {
                    *score = exp((*score - max) * scale);
                    total += *score;
                }
                scores.iter_mut().for_each(|s| *s /= total);
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
        let work = heads.len() * seq * (cache.len + seq) * hd;
        let outs: Vec<Vec<f32>> = if threads() > 1 && work >= PARALLEL_WORK {
            heads.par_iter().map(one).collect()
        } else {
            heads.iter().map(one).collect()
        };
        for (&(b, head), out) in heads.iter().zip(&outs) {
            for t in 0..seq {
                let row = (b * seq + t) * d + head * hd;
                context[row..row + hd].copy_from_slice(&out[t * hd..(t + 1) * hd]);
            }
        }
    }
}

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
