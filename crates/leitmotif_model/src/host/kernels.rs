//! The host path's arithmetic: matrix products in register tiles compiled for AVX2 and FMA
//! where the CPU has them, and vectorisable `exp`, `erf` and GELU.

use rayon::prelude::*;

/// Rows × multiply-adds above which a matrix product splits its rows over threads.
pub(crate) const PARALLEL_WORK: usize = 1 << 19;

/// `out[n, d_out] = x[n, d_in] · w` ([`matmul_packed`]), with whole tiles of rows split
/// over the CPU's threads when there are enough of them (a prompt's projections).
pub(crate) fn matmul(x: &[f32], w: &Packed, out: &mut [f32]) {
    let (d_in, d_out) = (w.d_in, w.d_out);
    let n = x.len() / d_in;
    let threads = threads();
    if threads > 1 && n >= 8 * threads && n * d_in * d_out >= PARALLEL_WORK {
        let per = n.div_ceil(threads).next_multiple_of(4);
        x.par_chunks(per * d_in)
            .zip(out.par_chunks_mut(per * d_out))
            .for_each(|(x, out)| matmul_packed(x, w, out));
    } else {
        matmul_packed(x, w, out);
    }
}

/// The CPU's threads, asked once (the question reads the OS's cgroup files).
pub(crate) fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Whether the CPU has AVX2 and FMA (x86-64 only; asked once, then a cached load).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Runs a kernel compiled for AVX2 and FMA where the CPU has them, else the portable build
/// of the same code. The kernels are plain loops the compiler vectorises: eight lanes with
/// fused multiply-adds instead of SSE2's four.
macro_rules! dispatch {
    ($name:ident, $avx:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        pub(crate) fn $name($($arg: $ty),*) {
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

/// For the models' own elementwise kernels (the LSTM's gates).
pub(crate) use dispatch;

dispatch!(matmul_rows, matmul_rows_avx2, matmul_rows_body, (x: &[f32], d_in: usize, w: &[f32], d_out: usize, out: &mut [f32]));
dispatch!(matvec, matvec_avx2, matvec_body, (m: &[f32], d: usize, x: &[f32], out: &mut [f32]));
dispatch!(matmul_packed, matmul_packed_avx2, matmul_packed_body, (x: &[f32], w: &Packed, out: &mut [f32]));
dispatch!(gelu_all, gelu_all_avx2, gelu_all_body, (values: &mut [f32]));
dispatch!(softmax, softmax_avx2, softmax_body, (scores: &mut [f32], scale: f32));

/// [`gelu_with`] of every value (a plain loop of arithmetic: it vectorises).
#[inline(always)]
fn gelu_all_body<const FMA: bool>(values: &mut [f32]) {
    for value in values {
        *value = gelu_with::<FMA>(*value);
    }
}

/// `exp((s - max(s)) · scale)` of every score, normalised to sum to one: the softmax of
/// attention's scaled scores.
#[inline(always)]
fn softmax_body<const FMA: bool>(scores: &mut [f32], scale: f32) {
    // Eight running maxima and sums, so both loops keep to vector registers.
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = scores.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &s) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(s);
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut lanes = [0.0f32; 8];
    let mut chunks = scores.chunks_exact_mut(8);
    for chunk in &mut chunks {
        for (lane, s) in lanes.iter_mut().zip(chunk) {
            *s = exp_with::<FMA>((*s - max) * scale);
            *lane += *s;
        }
    }
    let mut total: f32 = lanes.iter().sum();
    for s in chunks.into_remainder() {
        *s = exp_with::<FMA>((*s - max) * scale);
        total += *s;
    }
    let inverse = 1.0 / total;
    scores.iter_mut().for_each(|s| *s *= inverse);
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

/// Columns in one panel of a [`Packed`] matrix: two AVX2 registers.
const PANEL: usize = 16;

/// A `[d_in, d_out]` weight matrix rearranged once, at load, for [`matmul_packed`]: column
/// panels `PANEL` wide, each `[d_in, PANEL]` and contiguous, so a tile's loop over `k` reads
/// one cache line per panel per step, in order. Columns past `d_out` are zero.
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    d_in: usize,
    d_out: usize,
    /// `[panels, d_in, PANEL]`.
    data: Vec<f32>,
}

impl Packed {
    /// Packs row-major `[d_in, d_out]` matrices placed side by side: `[d_in, Σ d_out]`.
    pub(crate) fn side_by_side(parts: &[&[f32]], d_in: usize) -> Self {
        let widths: Vec<usize> = parts.iter().map(|w| w.len() / d_in).collect();
        let d_out: usize = widths.iter().sum();
        let mut data = vec![0.0; d_out.div_ceil(PANEL) * d_in * PANEL];
        let mut col = 0;
        for (w, &width) in parts.iter().zip(&widths) {
            for (k, row) in w.chunks_exact(width).enumerate() {
                for (j, &value) in row.iter().enumerate() {
                    let c = col + j;
                    data[((c / PANEL) * d_in + k) * PANEL + c % PANEL] = value;
                }
            }
            col += width;
        }
        Self { d_in, d_out, data }
    }

    /// Packs the transpose of `m`, `[rows, d]`: a `[d, rows]` matrix (attention's keys).
    pub(crate) fn transposed(m: &[f32], d: usize) -> Self {
        let rows = m.len() / d;
        let mut data = vec![0.0; rows.div_ceil(PANEL) * d * PANEL];
        for (j, row) in m.chunks_exact(d).enumerate() {
            for (k, &value) in row.iter().enumerate() {
                data[((j / PANEL) * d + k) * PANEL + j % PANEL] = value;
            }
        }
        Self {
            d_in: d,
            d_out: rows,
            data,
        }
    }
}

/// Rows in a tile of [`matmul_packed`]: four rows by a panel's sixteen columns is eight
/// AVX2 registers of sums; six rows (twelve) made the compiler spill.
const TILE_ROWS: usize = 4;

/// `out[n, d_out] = x[n, d_in] · w` on this thread, in register tiles of four rows by one
/// panel: each step of `k` loads a panel row and broadcasts one input per row for 64
/// multiply-adds, and the sums stay in registers until the tile is done.
#[inline(always)]
fn matmul_packed_body<const FMA: bool>(x: &[f32], w: &Packed, out: &mut [f32]) {
    let (d_in, d_out) = (w.d_in, w.d_out);
    let n = x.len() / d_in;
    // A tile's rows transposed, `[d_in, rows]`, so the loop over `k` reads them in step
    // with the panel (and has no index to check).
    let mut xt = vec![0.0; TILE_ROWS * d_in];
    let mut row = 0;
    while row < n {
        let rows = (n - row).min(TILE_ROWS);
        let xt = &mut xt[..rows * d_in];
        for (r, xr) in x[row * d_in..(row + rows) * d_in]
            .chunks_exact(d_in)
            .enumerate()
        {
            for (k, &value) in xr.iter().enumerate() {
                xt[k * rows + r] = value;
            }
        }
        let out = &mut out[row * d_out..(row + rows) * d_out];
        match rows {
            4 => packed_tiles::<4, FMA>(xt, w, out),
            3 => packed_tiles::<3, FMA>(xt, w, out),
            2 => packed_tiles::<2, FMA>(xt, w, out),
            _ => packed_row::<FMA>(xt, w, out),
        }
        row += rows;
    }
}

/// `R` rows (`xt`, transposed: `[d_in, R]`) times every panel of `w`.
#[inline(always)]
fn packed_tiles<const R: usize, const FMA: bool>(xt: &[f32], w: &Packed, out: &mut [f32]) {
    let (d_in, d_out) = (w.d_in, w.d_out);
    for (p, panel) in w.data.chunks_exact(d_in * PANEL).enumerate() {
        let mut acc = [[0.0f32; PANEL]; R];
        for (xk, wk) in xt.chunks_exact(R).zip(panel.chunks_exact(PANEL)) {
            let xk: &[f32; R] = xk.try_into().unwrap_or(&[0.0; R]);
            let wk: &[f32; PANEL] = wk.try_into().unwrap_or(&[0.0; PANEL]);
            for (acc, &xv) in acc.iter_mut().zip(xk) {
                for j in 0..PANEL {
                    acc[j] = madd::<FMA>(xv, wk[j], acc[j]);
                }
            }
        }
        let col = p * PANEL;
        let cols = PANEL.min(d_out - col);
        for (r, &acc) in acc.iter().enumerate() {
            let out = &mut out[r * d_out + col..r * d_out + col + cols];
            // Whole panels by value: a slice of `acc` of unknown length would keep the sums
            // in memory instead of registers.
            if let Ok(out) = <&mut [f32; PANEL]>::try_from(&mut *out) {
                *out = acc;
            } else {
                out.copy_from_slice(&acc[..cols]);
            }
        }
    }
}

/// One row times every panel of `w` (a decoding step, the LSTM's recurrent product). A tile
/// of one row would have only a panel's two vectors of sums, each multiply-add waiting for
/// the one before; four sets of sums over interleaved `k` keep four times as many in flight.
#[inline(always)]
fn packed_row<const FMA: bool>(x: &[f32], w: &Packed, out: &mut [f32]) {
    const K: usize = 4;
    let (d_in, d_out) = (w.d_in, w.d_out);
    for (p, panel) in w.data.chunks_exact(d_in * PANEL).enumerate() {
        let mut acc = [[0.0f32; PANEL]; K];
        let (mut xs, mut ws) = (x.chunks_exact(K), panel.chunks_exact(K * PANEL));
        for (xk, wk) in (&mut xs).zip(&mut ws) {
            let xk: &[f32; K] = xk.try_into().unwrap_or(&[0.0; K]);
            let wk: &[f32; K * PANEL] = wk.try_into().unwrap_or(&[0.0; K * PANEL]);
            for (u, acc) in acc.iter_mut().enumerate() {
                for j in 0..PANEL {
                    acc[j] = madd::<FMA>(xk[u], wk[u * PANEL + j], acc[j]);
                }
            }
        }
        for (&xv, wk) in xs
            .remainder()
            .iter()
            .zip(ws.remainder().chunks_exact(PANEL))
        {
            for j in 0..PANEL {
                acc[0][j] = madd::<FMA>(xv, wk[j], acc[0][j]);
            }
        }
        let mut sum = [0.0f32; PANEL];
        for j in 0..PANEL {
            sum[j] = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
        }
        let col = p * PANEL;
        let cols = PANEL.min(d_out - col);
        out[col..col + cols].copy_from_slice(&sum[..cols]);
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
pub(crate) fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
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

pub(crate) fn add(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// The exact GELU, `x · Φ(x)`, as burn computes it (erf, not the tanh approximation), with
/// fused multiply-adds where `FMA`.
#[inline(always)]
fn gelu_with<const FMA: bool>(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_with::<FMA>(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `c[0] · xⁿ⁻¹ + … + c[n - 1]` by Horner's rule.
#[inline(always)]
fn horner<const FMA: bool>(x: f32, c: &[f32]) -> f32 {
    c.iter()
        .skip(1)
        .fold(c[0], |acc, &c| madd::<FMA>(acc, x, c))
}

/// `e^x` to about 2 ulp (Cephes' `expf`: range reduction to `r = x - n·ln 2`, a degree-7
/// polynomial, and `2^n` put into the exponent bits). Arithmetic only, unlike the libm
/// call, so loops over it vectorise.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    exp_with::<false>(x)
}

/// [`exp`], with fused multiply-adds where `FMA`.
#[inline(always)]
fn exp_with<const FMA: bool>(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    // Rounded to even (one vector instruction) rather than away from zero (a libm call).
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = madd::<FMA>(n, 2.121_944_4e-4, madd::<FMA>(n, -0.693_359_4, x));
    let p = horner::<FMA>(
        r,
        &[
            1.987_569_1e-4,
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            0.166_666_65,
            0.5,
        ],
    );
    let p = madd::<FMA>(p, r * r, r) + 1.0;
    // n is in [-126, 128]: a normal power of two (128 only where p < 1 makes up for it).
    // Adding 2²³ puts the biased exponent n + 127 in the low mantissa bits, so the shift
    // needs no float-to-integer conversion (a saturating `as` that does not vectorise).
    let biased = n.clamp(-126.0, 127.0) + (127.0 + 8_388_608.0);
    let scale = f32::from_bits(biased.to_bits() << 23);
    p * scale
}

/// The error function to within about 2e-7: Numerical Recipes' Chebyshev fit of `erfc`
/// (fractional error below 1.2e-7), evaluated in `f32`, with fused multiply-adds where `FMA`.
#[inline(always)]
fn erf_with<const FMA: bool>(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = horner::<FMA>(
        t,
        &[
            0.170_872_77,
            -0.822_152_23,
            1.488_515_9,
            -1.135_204,
            0.278_868_07,
            -0.186_288_06,
            0.096_784_18,
            0.374_091_96,
            1.000_023_7,
            -1.265_512_2,
        ],
    );
    let erfc = t * exp_with::<FMA>(poly - z * z);
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
            assert!(
                (f64::from(erf_with::<false>(x)) - want).abs() < 4e-7,
                "erf({x})"
            );
            assert!(
                (f64::from(erf_with::<true>(x)) - want).abs() < 4e-7,
                "fused erf({x})"
            );
        }
    }

    #[test]
    fn packed_products_match_the_definition() {
        // Every tile height, a last panel part full, and two matrices side by side.
        let (d_in, widths) = (7, [5, 16, 3]);
        let d_out: usize = widths.iter().sum();
        let parts: Vec<Vec<f32>> = widths
            .iter()
            .enumerate()
            .map(|(p, &w)| {
                (0..d_in * w)
                    .map(|i| (i as f32 * 0.13 + p as f32).cos())
                    .collect()
            })
            .collect();
        let refs: Vec<&[f32]> = parts.iter().map(Vec::as_slice).collect();
        let w = Packed::side_by_side(&refs, d_in);
        // The same matrix built as the transpose of its transpose.
        let mut wt = vec![0.0; d_out * d_in];
        let mut col = 0;
        for (part, &width) in parts.iter().zip(&widths) {
            for k in 0..d_in {
                for j in 0..width {
                    wt[(col + j) * d_in + k] = part[k * width + j];
                }
            }
            col += width;
        }
        let w2 = Packed::transposed(&wt, d_in);
        for n in 1..=9 {
            let x: Vec<f32> = (0..n * d_in).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut out = vec![0.0; n * d_out];
            let mut out2 = vec![0.0; n * d_out];
            matmul_packed(&x, &w, &mut out);
            matmul_packed(&x, &w2, &mut out2);
            assert_eq!(out, out2);
            for i in 0..n {
                for j in 0..d_out {
                    let want: f32 = (0..d_in).map(|k| x[i * d_in + k] * wt[j * d_in + k]).sum();
                    assert!(
                        (out[i * d_out + j] - want).abs() < 1e-5,
                        "n {n}: [{i}, {j}]"
                    );
                }
            }
        }
    }

    #[test]
    fn softmax_sums_to_one_in_order() {
        for len in [1, 7, 8, 19] {
            let mut scores: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 3.0).collect();
            let want: Vec<f32> = scores.iter().map(|s| (s * 0.25).exp()).collect();
            let total: f32 = want.iter().sum();
            softmax(&mut scores, 0.25);
            for (got, want) in scores.iter().zip(&want) {
                assert!(
                    (got - want / total).abs() < 1e-6,
                    "{len}: {got} vs {}",
                    want / total
                );
            }
        }
    }

    #[test]
    fn matmul_matches_the_definition() {
        let (n, d_in, d_out) = (3, 5, 4);
        let x: Vec<f32> = (0..n * d_in).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..d_in * d_out).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut out = vec![0.0; n * d_out];
        matmul_rows(&x, d_in, &w, d_out, &mut out);
        let mut packed = vec![0.0; n * d_out];
        matmul(&x, &Packed::side_by_side(&[&w], d_in), &mut packed);
        assert_eq!(out, packed);
        for i in 0..n {
            for j in 0..d_out {
                let want: f32 = (0..d_in).map(|k| x[i * d_in + k] * w[k * d_out + j]).sum();
                assert!((out[i * d_out + j] - want).abs() < 1e-5);
            }
        }
    }
}
