//! The host path's arithmetic: matrix products in register tiles compiled for AVX2 and FMA
//! where the CPU has them, and vectorisable `exp`, `erf` and GELU.

use rayon::prelude::*;

/// Rows × multiply-adds above which a matrix product splits its rows over threads.
pub(crate) const PARALLEL_WORK: usize = 1 << 19;

/// `out[n, d_out] = x[n, d_in] · w[d_in, d_out]`, rows split over threads when large.
pub(crate) fn matmul(x: &[f32], d_in: usize, w: &[f32], d_out: usize, out: &mut [f32]) {
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
pub(crate) fn threads() -> usize {
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

/// The exact GELU, `x · Φ(x)`, as burn computes it (erf, not the tanh approximation).
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `e^x` to about 2 ulp (Cephes' `expf`: range reduction to `r = x - n·ln 2`, a degree-7
/// polynomial, and `2^n` put into the exponent bits). Arithmetic only, unlike the libm
/// call, so loops over it vectorise.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
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
pub(crate) fn erf(x: f32) -> f32 {
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
