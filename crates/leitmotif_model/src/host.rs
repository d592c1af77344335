//! [`HostTransformer`]: the CPU decoding path of a trained [`MotifTransformer`], on plain
//! `f32` slices.
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
//! burn stays the reference: the weights come from the burn model, and the tests check this
//! path's logits against burn's forward pass on the shipped weights.

use std::ops::Range;

use burn::tensor::backend::Backend;
use rayon::prelude::*;

use crate::error::ModelError;
use crate::transformer::MotifTransformer;

/// Rows × multiply-adds above which a matrix product splits its rows over threads.
const PARALLEL_WORK: usize = 1 << 19;

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

fn read<B: Backend, const D: usize>(tensor: burn::tensor::Tensor<B, D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec()
        .unwrap_or_default()
}

impl HostTransformer {
    /// Copies a model's weights to the host and computes its rotary tables.
    pub fn from_model<B: Backend>(model: &MotifTransformer<B>) -> Self {
        let d_model = model.d_model();
        let n_heads = model.n_heads();
        let head_dim = d_model / n_heads;
        let half = head_dim / 2;
        let norm = |n: &burn::nn::RmsNorm<B>| Norm {
            gamma: read(n.gamma.val()),
            epsilon: n.epsilon as f32,
        };
        let blocks: Vec<HostBlock> = model
            .blocks
            .iter()
            .map(|b| HostBlock {
                attention_norm: norm(&b.attention_norm),
                query: read(b.attention.query.weight.val()),
                key: read(b.attention.key.weight.val()),
                value: read(b.attention.value.weight.val()),
                output: read(b.attention.output.weight.val()),
                mlp_norm: norm(&b.mlp_norm),
                up: read(b.mlp.up.weight.val()),
                down: read(b.mlp.down.weight.val()),
            })
            .collect();
        let d_ff = blocks.first().map_or(0, |b| b.up.len() / d_model.max(1));
        let theta = model.rope.theta;
        let inv_freq: Vec<f64> = (0..half)
            .map(|j| theta.powf(-2.0 * j as f64 / head_dim as f64))
            .collect();
        let positions = model.max_seq_len.max(1);
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        for position in 0..positions {
            for &frequency in &inv_freq {
                let angle = position as f64 * frequency;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Self {
            vocab: model.vocab_size(),
            d_model,
            n_heads,
            head_dim,
            d_ff,
            max_seq_len: model.max_seq_len,
            embedding: read(model.embedding.weight.val()),
            blocks,
            final_norm: norm(&model.final_norm),
            cos,
            sin,
            inv_freq,
        }
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

/// `out[n, d_out] = x[n, d_in] · w[d_in, d_out]`, rows split over threads when large.
fn matmul(x: &[f32], d_in: usize, w: &[f32], d_out: usize, out: &mut [f32]) {
    let n = x.len() / d_in;
    let threads = threads();
    if threads > 1 && n >= 2 * threads && n * d_in * d_out >= PARALLEL_WORK {
        // Whole tiles of rows per task, on the shared thread pool.
        let per = n.div_ceil(threads).next_multiple_of(4);
        x.par_chunks(per * d_in)
            .zip(out.par_chunks_mut(per * d_out))
            .for_each(|(xc, oc)| matmul_rows(xc, d_in, w, d_out, oc));
    } else {
        matmul_rows(x, d_in, w, d_out, out);
    }
}

/// The CPU's threads, asked once (the question reads the OS's cgroup files).
fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Whether the CPU has AVX2 and FMA (x86-64 only; asked once, then a cached load).
#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Runs a kernel compiled for AVX2 and FMA where the CPU has them, else the portable build
/// of the same code. The kernels are plain loops the compiler vectorises: eight lanes with
/// fused multiply-adds instead of SSE2's four.
macro_rules! dispatch {
    ($name:ident, $avx:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if has_avx2_fma() {
                // SAFETY: the CPU was just checked for the features the function is compiled
                // for; the function itself is safe code.
                #[allow(unsafe_code, reason = "calling a target_feature function after detection")]
                unsafe {
                    return $avx($($arg),*);
                }
            }
            $body::<false>($($arg),*);
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx($($arg: $ty),*) {
            $body::<true>($($arg),*);
        }
    };
}

dispatch!(matmul_rows, matmul_rows_avx2, matmul_rows_body, (x: &[f32], d_in: usize, w: &[f32], d_out: usize, out: &mut [f32]));
dispatch!(matvec, matvec_avx2, matvec_body, (m: &[f32], d: usize, x: &[f32], out: &mut [f32]));
dispatch!(gelu_all, gelu_all_avx2, gelu_all_body, (values: &mut [f32]));

/// [`gelu`] of every value (a plain loop of arithmetic: it vectorises).
#[inline(always)]
fn gelu_all_body<const FMA: bool>(values: &mut [f32]) {
    for value in values {
        *value = gelu(*value);
    }
}

/// `out[n, d_out] = x[n, d_in] · w[d_in, d_out]` in register tiles: four rows by sixteen
/// columns of the output are summed in registers over all of `k`, so each step of `k` loads
/// sixteen weights and four inputs for 64 multiply-adds and nothing is stored until the
/// tile is done.
#[inline(always)]
fn matmul_rows_body<const FMA: bool>(
    x: &[f32],
    d_in: usize,
    w: &[f32],
    d_out: usize,
    out: &mut [f32],
) {
    let n = x.len() / d_in;
    if n == 1 {
        // One row: stream the weights once, row by row, adding each scaled into the output.
        out.fill(0.0);
        for (&xv, wr) in x.iter().zip(w.chunks_exact(d_out)) {
            for (o, &wv) in out.iter_mut().zip(wr) {
                *o = madd::<FMA>(xv, wv, *o);
            }
        }
        return;
    }
    let mut row = 0;
    while row < n {
        let rows = (n - row).min(4);
        let xb = &x[row * d_in..(row + rows) * d_in];
        let ob = &mut out[row * d_out..(row + rows) * d_out];
        match rows {
            4 => tile_rows::<4, FMA>(xb, d_in, w, d_out, ob),
            3 => tile_rows::<3, FMA>(xb, d_in, w, d_out, ob),
            2 => tile_rows::<2, FMA>(xb, d_in, w, d_out, ob),
            _ => tile_rows::<1, FMA>(xb, d_in, w, d_out, ob),
        }
        row += rows;
    }
}

/// `R` rows of [`matmul_rows_body`].
#[inline(always)]
fn tile_rows<const R: usize, const FMA: bool>(
    x: &[f32],
    d_in: usize,
    w: &[f32],
    d_out: usize,
    out: &mut [f32],
) {
    const COLS: usize = 16;
    let full = d_out / COLS * COLS;
    for col in (0..full).step_by(COLS) {
        let mut acc = [[0.0f32; COLS]; R];
        for k in 0..d_in {
            let wk: &[f32; COLS] = w[k * d_out + col..k * d_out + col + COLS]
                .try_into()
                .unwrap_or(&[0.0; COLS]);
            for (r, acc) in acc.iter_mut().enumerate() {
                let xv = x[r * d_in + k];
                for j in 0..COLS {
                    acc[j] = madd::<FMA>(xv, wk[j], acc[j]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            out[r * d_out + col..r * d_out + col + COLS].copy_from_slice(acc);
        }
    }
    // Columns past the last full tile.
    for r in 0..R {
        for j in full..d_out {
            let mut sum = 0.0;
            for k in 0..d_in {
                sum = madd::<FMA>(x[r * d_in + k], w[k * d_out + j], sum);
            }
            out[r * d_out + j] = sum;
        }
    }
}

/// `a · b + c`: fused in the kernels compiled for FMA (one rounding, one instruction), a
/// plain multiply and add elsewhere (a fused one would be a slow library call there).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `out[r] = m[r, ..d] · x`: a matrix of rows times a vector (attention scores, the head).
#[inline(always)]
fn matvec_body<const FMA: bool>(m: &[f32], d: usize, x: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(m.chunks_exact(d)) {
        *o = dot::<FMA>(row, x);
    }
}

/// A dot product in eight lanes, so the compiler keeps it in vector registers.
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            lanes[i] = madd::<FMA>(x[i], y[i], lanes[i]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn add(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
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

/// The exact GELU, `x · Φ(x)`, as burn computes it (erf, not the tanh approximation).
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `e^x` to about 2 ulp (Cephes' `expf`: range reduction to `r = x - n·ln 2`, a degree-7
/// polynomial, and `2^n` put into the exponent bits). Arithmetic only, unlike the libm
/// call, so loops over it vectorise.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    let n = (x * std::f32::consts::LOG2_E).round();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 0.166_666_65)
        * r
        + 0.5)
        * r
        * r)
        + r
        + 1.0;
    // n is in [-126, 128]: a normal power of two (128 only where p < 1 makes up for it).
    let scale = f32::from_bits(((n as i32 + 127).clamp(1, 254) as u32) << 23);
    p * scale
}

/// The error function to within about 2e-7: Numerical Recipes' Chebyshev fit of `erfc`
/// (fractional error below 1.2e-7), evaluated in `f32`.
fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * exp(poly);
    let value = 1.0 - erfc;
    if x >= 0.0 { value } else { -value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_library() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (ours, want) = (exp(x), x.exp());
            worst = worst.max(((ours - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp(-1000.0), exp(-87.3));
        assert!(exp(0.0) == 1.0);
    }

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0f32, 0.0f64),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (2.0, 0.995_322_265_0),
            (-1.5, -0.966_105_146_5),
            (4.0, 0.999_999_984_6),
        ] {
            assert!((f64::from(erf(x)) - want).abs() < 4e-7, "erf({x})");
        }
    }

    #[test]
    fn matmul_matches_the_definition() {
        let (n, d_in, d_out) = (3, 5, 4);
        let x: Vec<f32> = (0..n * d_in).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..d_in * d_out).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut out = vec![0.0; n * d_out];
        matmul(&x, d_in, &w, d_out, &mut out);
        for i in 0..n {
            for j in 0..d_out {
                let want: f32 = (0..d_in).map(|k| x[i * d_in + k] * w[k * d_out + j]).sum();
                assert!((out[i * d_out + j] - want).abs() < 1e-5);
            }
        }
    }
}
