//! The composer's GPU path picks its tokens on the device with the fused sampling kernel:
//! the same tokens as reading the logits back and sampling on the host, one read-back of a
//! token id per picked token.
//!
//! Needs a wgpu adapter (Mesa's lavapipe is enough); without one each test prints a line
//! saying it was skipped and passes.
//!
//! The kernel computes in f32 where the host sampler uses f64, so a pick may legitimately
//! differ when a draw lands within about 1e-5 of a boundary of the cumulative distribution.
//! The composition tests use fixed seeds, so they are deterministic: a seed whose draws came
//! that close would fail every time, and another seed would be the fix. The kernel test
//! below finds such draws on the host and leaves them out, as the model crate's GPU
//! sampling tests do.

#![cfg(feature = "wgpu")]

use leitmotif_compose::{Composer, Composition, GpuDecodeStats, Request, SamplingSettings};
use leitmotif_model::gpu_sampling::{GpuSampler, NarrowedRow, RowRequest, pack_mask};
use leitmotif_model::{BackendChoice, ModelSource, Sampler, Sampling, SharedWgpu};
use leitmotif_tokens::{Layer, VOCAB_SIZE};

/// Distance in `u` within which f32 and f64 may disagree.
const EPS: f64 = 2e-5;

/// The shipped LSTM on wgpu, or `None` (after saying so) without an adapter.
fn gpu_composer() -> Option<Composer> {
    if leitmotif_model::probe_wgpu().is_empty() {
        eprintln!("no wgpu adapter: GPU composing test skipped");
        return None;
    }
    let composer = Composer::load(&ModelSource::DefaultRnn, BackendChoice::Wgpu)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("composing on {}", composer.backend());
    Some(composer)
}

/// Composes `request` with the fused sampler on or off, returning the composition and the
/// GPU counters of that one call.
fn compose(
    composer: &mut Composer,
    request: &Request,
    fused: bool,
) -> (Composition, GpuDecodeStats) {
    assert_eq!(composer.set_fused_sampling(fused), fused);
    composer.reset_gpu_stats();
    let composition = composer.compose(request).unwrap_or_else(|e| panic!("{e}"));
    composition.verify().unwrap_or_else(|e| panic!("{e}"));
    assert!(composition.violations().is_empty());
    let stats = composer.gpu_stats().expect("a composer on wgpu counts");
    eprintln!(
        "fused {fused}: {:.2?}, {} picks, {} logits rows and {} token read-backs",
        composition.elapsed, stats.picks, stats.logits_read_backs, stats.sampler.read_backs
    );
    (composition, stats)
}

#[test]
fn fused_picks_are_the_host_picks_with_one_read_back_each() {
    let Some(mut composer) = gpu_composer() else {
        return;
    };
    let requests = [
        // The defaults: top-p.
        Request {
            layers: vec![Layer::Melody, Layer::Bass],
            bars: 2,
            seed: 3,
            ..Request::default()
        },
        // Top-k, then top-p: the kernel's own top-k cut before the nucleus.
        Request {
            bars: 2,
            seed: 11,
            sampling: SamplingSettings {
                temperature: 1.4,
                top_k: Some(4),
                top_p: Some(0.9),
            },
            ..Request::default()
        },
    ];
    for request in &requests {
        let (fused, on) = compose(&mut composer, request, true);
        let (host, off) = compose(&mut composer, request, false);
        assert_eq!(fused.score, host.score, "the same picks on the device");
        assert_eq!(fused.candidate_bits, host.candidate_bits);
        assert_eq!(fused.join_bits, host.join_bits);

        assert!(on.picks > 0);
        assert_eq!(on.fused_picks, on.picks, "every pick on the device");
        assert_eq!(on.sampler.rows, on.picks);
        assert_eq!(on.sampler.read_backs, on.picks, "one read-back per token");
        assert_eq!(on.sampler.submissions, on.picks);
        assert!((on.sampler.read_backs_per_token() - 1.0).abs() < 1e-12);
        // Logits still come back for the layer probe and the join scores, never for picks.
        assert_eq!(
            on.logits_read_backs + on.picks,
            off.logits_read_backs,
            "the host path reads one row of logits per pick on top"
        );
        assert_eq!(off.picks, on.picks);
        assert_eq!(off.fused_picks, 0);
        assert_eq!(off.sampler.read_backs, 0);
    }
}

/// A small deterministic generator (no dependency for the test).
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the composer's host path picks: the mask narrowed to the `k` likeliest allowed
/// tokens (ties by the lower id), then the sampler.
fn host_pick(logits: &[f32], allowed: &[bool], k: usize, sampling: Sampling, u: f64) -> usize {
    let mut ranked: Vec<usize> = (0..logits.len()).filter(|&i| allowed[i]).collect();
    ranked.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    let mut narrowed = vec![false; logits.len()];
    for &i in ranked.iter().take(k) {
        narrowed[i] = true;
    }
    Sampler::new(sampling, 0)
        .sample_with_uniform(logits, Some(&narrowed), u)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn narrowed_rows_pick_what_a_narrowed_mask_picks_on_the_host() {
    let Some(shared) = SharedWgpu::open(true) else {
        eprintln!("no wgpu adapter: GPU sampling test skipped");
        return;
    };
    let mut sampler = GpuSampler::new(&shared.device, &shared.queue, 4, VOCAB_SIZE)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rng = Xorshift(0x5EED);
    let (mut checked, mut ambiguous) = (0, 0);
    for step in 0..24 {
        let mut logits = Vec::with_capacity(4 * VOCAB_SIZE);
        let mut masks = Vec::new();
        let mut cases = Vec::new();
        for row in 0..4 {
            // Coarse logits (many exact ties) on even steps, fine ones on odd steps.
            logits.extend((0..VOCAB_SIZE).map(|_| {
                let x = (rng.unit() * 8.0 - 4.0) as f32;
                if step % 2 == 0 {
                    (x * 2.0).round() / 2.0
                } else {
                    x
                }
            }));
            let density = [0.05, 0.3, 1.0][(step + row) % 3];
            let allowed: Vec<bool> = (0..VOCAB_SIZE).map(|_| rng.unit() < density).collect();
            let k = 1 + (rng.next() % 12) as usize;
            let sampling = if row == 3 {
                Sampling::TopK {
                    k: 1 + (rng.next() % 6) as usize,
                    temperature: 0.8,
                }
            } else {
                Sampling::TopP {
                    p: [0.5, 0.9, 1.0][row],
                    temperature: 1.3,
                }
            };
            let u = f64::from(rng.unit() as f32).min(0.999_999);
            masks.push(pack_mask(&allowed));
            cases.push((allowed, k, sampling, u));
        }
        let rows: Vec<NarrowedRow<'_>> = cases
            .iter()
            .zip(&masks)
            .map(|((_, k, sampling, u), mask)| NarrowedRow {
                request: RowRequest {
                    sampling: *sampling,
                    uniform: *u as f32,
                    mask: Some(mask),
                },
                top_k: Some(*k),
            })
            .collect();
        let picked = sampler
            .sample_host_narrowed(&logits, &rows)
            .unwrap_or_else(|e| panic!("{e}"));
        for (row, ((allowed, k, sampling, u), gpu)) in cases.iter().zip(picked).enumerate() {
            let row_logits = &logits[row * VOCAB_SIZE..(row + 1) * VOCAB_SIZE];
            if !allowed.iter().any(|&a| a) {
                continue;
            }
            let host = host_pick(row_logits, allowed, *k, *sampling, *u);
            let below = host_pick(row_logits, allowed, *k, *sampling, (u - EPS).max(0.0));
            let above = host_pick(row_logits, allowed, *k, *sampling, (u + EPS).min(0.999_999));
            if below != host || above != host {
                ambiguous += 1;
                continue;
            }
            checked += 1;
            assert_eq!(
                gpu,
                Ok(host),
                "step {step} row {row}: k {k}, {sampling:?}, u {u}"
            );
        }
    }
    eprintln!("{checked} picks agree, {ambiguous} left out near a boundary");
    assert!(checked >= 80 && ambiguous * 20 <= checked);
}
