//! The GPU sampler picks the same tokens as the CPU sampler given the same uniforms.
//!
//! Needs a wgpu adapter (Mesa's lavapipe is enough); without any adapter each test prints a
//! line saying it was skipped and passes.
//!
//! The GPU computes in f32 and the CPU in f64, so a pick may legitimately differ when the
//! uniform lies within [`EPS`] of a boundary of the cumulative distribution (or, for top-p, a
//! cumulative mass lies within [`EPS`] of `p`). Such draws are found on the CPU: the CPU's
//! pick is a monotone step function of `u`, so `u` is near a boundary exactly when the pick
//! changes between `u - EPS` and `u + EPS`; likewise for `p`. Every other draw must agree
//! exactly; the ambiguous ones are counted, printed and must be rare.

#![cfg(feature = "wgpu")]

use burn::backend::Wgpu;
use burn::backend::wgpu::WgpuDevice;
use burn::tensor::{Tensor, TensorData};
use leitmotif_model::gpu_sampling::{
    DeviceLogits, GpuSampler, GpuSamplingError, RowRequest, pack_mask,
};
use leitmotif_model::{Sampler, Sampling, SamplingError};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Distance (in `u`, and in probability mass for `p`) within which f32 and f64 may disagree.
const EPS: f64 = 2e-5;

/// Our vocabulary size.
const VOCAB: usize = 433;

fn gpu() -> Option<(wgpu::Device, wgpu::Queue)> {
    gpu_with(|_| wgpu::Limits::default())
}

/// A device with the limits `limits` picks from the adapter's; `None` (after printing why)
/// when there is no adapter.
fn gpu_with(
    limits: impl FnOnce(&wgpu::Adapter) -> wgpu::Limits,
) -> Option<(wgpu::Device, wgpu::Queue)> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        futures_lite::future::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::default(),
            force_fallback_adapter: false,
            compatible_surface: None,
        }));
    let Ok(adapter) = adapter else {
        eprintln!("no wgpu adapter: GPU sampling test skipped");
        return None;
    };
    let (device, queue) =
        futures_lite::future::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("gpu sampling test"),
            required_limits: limits(&adapter),
            ..Default::default()
        }))
        .expect("the adapter gives a device");
    eprintln!("GPU sampling test on {:?}", adapter.get_info().name);
    Some((device, queue))
}

/// A random logits row: Gaussian-ish spread, or coarse values with many ties, with a few
/// -inf and signed zeros.
fn random_logits(rng: &mut StdRng, vocab: usize) -> Vec<f32> {
    let style = rng.random_range(0..4);
    let scale = [0.5_f32, 2.0, 8.0][rng.random_range(0..3)];
    (0..vocab)
        .map(|_| {
            let roll = rng.random::<f32>();
            if roll < 0.01 {
                return f32::NEG_INFINITY;
            }
            if roll < 0.02 {
                return if rng.random() { 0.0 } else { -0.0 };
            }
            // Sum of uniforms: roughly normal.
            let normal: f32 = (0..4).map(|_| rng.random::<f32>() - 0.5).sum::<f32>() * 1.7;
            match style {
                // Coarse: many exact ties.
                0 => (normal * 4.0).round() / 2.0,
                _ => normal * scale,
            }
        })
        .collect()
}

/// A random mask: everything, about half, a few tokens, or exactly one.
fn random_mask(rng: &mut StdRng, vocab: usize) -> Option<Vec<bool>> {
    match rng.random_range(0..5) {
        0 | 1 => None,
        2 => Some((0..vocab).map(|_| rng.random_bool(0.5)).collect()),
        3 => Some((0..vocab).map(|_| rng.random_bool(0.03)).collect()),
        _ => {
            let only = rng.random_range(0..vocab);
            Some((0..vocab).map(|index| index == only).collect())
        }
    }
}

fn random_sampling(rng: &mut StdRng) -> Sampling {
    let temperature = [0.25_f32, 0.7, 1.0, 1.5, 4.0][rng.random_range(0..5)];
    match rng.random_range(0..5) {
        0 => Sampling::ArgMax,
        1 | 2 => Sampling::TopK {
            k: [1, 2, 5, 40, 433, 5000][rng.random_range(0..6)],
            temperature,
        },
        _ => Sampling::TopP {
            p: [0.1_f32, 0.5, 0.9, 0.95, 1.0][rng.random_range(0..5)],
            temperature,
        },
    }
}

fn cpu_pick(
    sampling: Sampling,
    logits: &[f32],
    mask: Option<&[bool]>,
    u: f64,
) -> Result<usize, SamplingError> {
    Sampler::new(sampling, 0).sample_with_uniform(logits, mask, u)
}

/// Whether f32 rounding could change the CPU's pick: `u` or `p` within [`EPS`] of a boundary.
fn ambiguous(sampling: Sampling, logits: &[f32], mask: Option<&[bool]>, u: f64) -> bool {
    let pick = cpu_pick(sampling, logits, mask, u);
    let mut variants = vec![(sampling, u - EPS), (sampling, u + EPS)];
    if let Sampling::TopP { p, temperature } = sampling {
        for shifted in [f64::from(p) - EPS, f64::from(p) + EPS] {
            #[allow(clippy::cast_possible_truncation, reason = "p is an f32 parameter")]
            let p = shifted as f32;
            variants.push((Sampling::TopP { p, temperature }, u));
        }
    }
    variants.into_iter().any(|(sampling, u)| {
        let valid = (0.0..1.0).contains(&u)
            && !matches!(sampling, Sampling::TopP { p, .. } if !(p > 0.0 && p <= 1.0));
        valid && cpu_pick(sampling, logits, mask, u) != pick
    })
}

/// Compares GPU and CPU picks; returns (draws compared, ambiguous draws).
fn assert_same(
    sampling: Sampling,
    logits: &[f32],
    mask: Option<&[bool]>,
    u: f32,
    gpu: &Result<usize, SamplingError>,
) -> (usize, usize) {
    let cpu = cpu_pick(sampling, logits, mask, f64::from(u));
    if same_result(&cpu, gpu) {
        return (1, 0);
    }
    if let (Ok(_), Ok(token)) = (&cpu, gpu)
        && ambiguous(sampling, logits, mask, f64::from(u))
    {
        // Still a candidate the CPU could have drawn near this u.
        assert!(mask.is_none_or(|mask| mask[*token]) && logits[*token].is_finite());
        return (1, 1);
    }
    panic!(
        "GPU picked {gpu:?}, CPU {cpu:?} for {sampling:?}, u = {u}, mask {} ({} allowed)",
        if mask.is_some() { "given" } else { "none" },
        mask.map_or(logits.len(), |mask| mask.iter().filter(|&&a| a).count()),
    );
}

fn same_result(a: &Result<usize, SamplingError>, b: &Result<usize, SamplingError>) -> bool {
    match (a, b) {
        (
            Err(SamplingError::NonFiniteLogit {
                index: ia,
                value: va,
            }),
            Err(SamplingError::NonFiniteLogit {
                index: ib,
                value: vb,
            }),
        ) => ia == ib && va.to_bits() == vb.to_bits(),
        _ => a == b,
    }
}

/// One random row: logits, mask, strategy, uniform.
type Row = (Vec<f32>, Option<Vec<bool>>, Sampling, f32);

/// Runs `steps` random steps of `batch` rows on a sampler for `vocab` tokens, on a device
/// with WebGPU's default limits (so the kernel must not need more than 16 KiB of workgroup
/// memory).
fn parity(seed: u64, vocab: usize, batch: usize, steps: usize) -> (usize, usize) {
    let Some((device, queue)) = gpu() else {
        return (0, 0);
    };
    parity_on(&device, &queue, seed, vocab, batch, steps)
}

fn parity_on(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    seed: u64,
    vocab: usize,
    batch: usize,
    steps: usize,
) -> (usize, usize) {
    let mut sampler = GpuSampler::new(device, queue, batch, vocab).expect("sampler");
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut compared, mut ambiguous_draws, mut not_greedy) = (0, 0, 0);
    for _ in 0..steps {
        let rows: Vec<Row> = (0..batch)
            .map(|_| {
                (
                    random_logits(&mut rng, vocab),
                    random_mask(&mut rng, vocab),
                    random_sampling(&mut rng),
                    rng.random::<f32>(),
                )
            })
            .collect();
        let packed: Vec<Option<Vec<u32>>> = rows
            .iter()
            .map(|(_, mask, _, _)| mask.as_deref().map(pack_mask))
            .collect();
        let requests: Vec<RowRequest<'_>> = rows
            .iter()
            .zip(&packed)
            .map(|((_, _, sampling, u), mask)| RowRequest {
                sampling: *sampling,
                uniform: *u,
                mask: mask.as_deref(),
            })
            .collect();
        let flat: Vec<f32> = rows
            .iter()
            .flat_map(|(logits, ..)| logits.clone())
            .collect();
        let picks = sampler.sample_host(&flat, &requests).expect("GPU step");
        assert_eq!(picks.len(), batch);
        for ((logits, mask, sampling, u), gpu) in rows.iter().zip(&picks) {
            let (c, a) = assert_same(*sampling, logits, mask.as_deref(), *u, gpu);
            compared += c;
            ambiguous_draws += a;
            let greedy = cpu_pick(Sampling::ArgMax, logits, mask.as_deref(), 0.0);
            if gpu.is_ok() && *gpu != greedy {
                not_greedy += 1;
            }
        }
    }
    let stats = sampler.stats();
    assert_eq!(stats.steps, steps as u64);
    assert_eq!(stats.submissions, steps as u64, "one submission per step");
    assert_eq!(stats.read_backs, steps as u64, "one read-back per step");
    assert_eq!(stats.rows, (steps * batch) as u64);
    eprintln!(
        "vocab {vocab}, batch {batch}: {compared} draws ({not_greedy} not the arg-max), \
         {ambiguous_draws} within {EPS} of a boundary; {:.3} submissions and {:.3} read-backs \
         per token",
        stats.submissions_per_token(),
        stats.read_backs_per_token()
    );
    assert!(
        ambiguous_draws * 200 <= compared.max(200),
        "too many ambiguous draws: {ambiguous_draws} of {compared}"
    );
    if vocab >= 40 {
        // The draws really are draws, not just arg-max.
        assert!(
            not_greedy * 5 >= compared,
            "{not_greedy} of {compared} not greedy"
        );
    }
    (compared, ambiguous_draws)
}

#[test]
fn matches_cpu_batch_1() {
    parity(1, VOCAB, 1, 400);
}

#[test]
fn matches_cpu_batch_4() {
    parity(4, VOCAB, 4, 150);
}

#[test]
fn matches_cpu_other_vocabulary_sizes() {
    for (seed, vocab) in [(7, 1), (8, 31), (9, 40), (10, 2000)] {
        parity(seed, vocab, 4, 25);
    }
}

#[test]
fn matches_cpu_large_vocabulary_with_the_adapters_limits() {
    // 3000 tokens sort 4096 entries: 16 KiB of workgroup memory plus the scan, above WebGPU's
    // default limit, so this needs the adapter's own limits (lavapipe allows more).
    let Some((device, queue)) = gpu_with(wgpu::Adapter::limits) else {
        return;
    };
    match GpuSampler::new(&device, &queue, 4, 3000) {
        Ok(_) => {
            parity_on(&device, &queue, 12, 3000, 4, 20);
        }
        Err(GpuSamplingError::VocabSize { max, .. }) => {
            eprintln!("this adapter sorts at most {max} tokens: large-vocabulary test skipped");
        }
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn sample_is_sample_with_the_generators_uniform() {
    let mut rng = StdRng::seed_from_u64(5);
    let logits = random_logits(&mut rng, VOCAB);
    let sampling = Sampling::TopP {
        p: 0.9,
        temperature: 1.2,
    };
    let mut sampler = Sampler::new(sampling, 11);
    let mut uniforms = StdRng::seed_from_u64(11);
    for _ in 0..100 {
        let u = uniforms.random::<f64>();
        assert_eq!(
            sampler.sample(&logits, None),
            sampler.sample_with_uniform(&logits, None, u)
        );
    }
}

#[test]
fn failed_samples_do_not_advance_the_generator() {
    let logits = [0.5, 2.0, -1.0, 2.0, 1.0];
    let top_k = Sampling::TopK {
        k: 4,
        temperature: 1.0,
    };
    let mut plain = Sampler::new(top_k, 42);
    let mut interrupted = Sampler::new(top_k, 42);
    for step in 0..32 {
        if step % 4 == 0 {
            assert_eq!(
                interrupted.sample(&logits, Some(&[false; 5])),
                Err(SamplingError::AllMasked)
            );
        }
        assert_eq!(
            plain.sample(&logits, None),
            interrupted.sample(&logits, None)
        );
    }
}

#[test]
fn errors_match_the_cpu_sampler() {
    let Some((device, queue)) = gpu() else { return };
    let vocab = 40;
    let mut sampler = GpuSampler::new(&device, &queue, 4, vocab).expect("sampler");
    let base: Vec<f32> = (0..vocab).map(|i| (i % 7) as f32 * 0.5).collect();
    let with = |index: usize, value: f32| {
        let mut logits = base.clone();
        logits[index] = value;
        logits
    };
    let top_k = |k, temperature| Sampling::TopK { k, temperature };
    let top_p = |p, temperature| Sampling::TopP { p, temperature };
    let nothing = vec![false; vocab];
    let not_3 = (0..vocab).map(|i| i != 3).collect::<Vec<_>>();
    let cases: Vec<(Vec<f32>, Option<Vec<bool>>, Sampling)> = vec![
        (base.clone(), Some(nothing.clone()), Sampling::ArgMax),
        (base.clone(), Some(nothing), top_k(0, 0.0)),
        (vec![f32::NEG_INFINITY; vocab], None, top_p(0.9, 1.0)),
        (with(3, f32::NAN), None, Sampling::ArgMax),
        (with(3, f32::INFINITY), None, top_k(3, 1.0)),
        (with(3, f32::NAN), Some(not_3.clone()), Sampling::ArgMax),
        (with(3, f32::INFINITY), Some(not_3), top_p(0.5, 1.0)),
        (base.clone(), None, top_k(0, 1.0)),
        (base.clone(), None, top_k(0, f32::NAN)),
        (base.clone(), None, top_k(2, 0.0)),
        (base.clone(), None, top_k(2, f32::INFINITY)),
        (base.clone(), None, top_k(2, -1.0)),
        (base.clone(), None, top_p(0.0, 1.0)),
        (base.clone(), None, top_p(1.5, 1.0)),
        (base.clone(), None, top_p(f32::NAN, 1.0)),
        (base.clone(), None, top_p(0.5, f32::NAN)),
        (base.clone(), None, top_p(1e-30, 1e-30)),
        (base.clone(), None, top_k(vocab, 1e-30)),
        (base.clone(), None, top_k(vocab, 3e38)),
        (with(0, -3e38), None, top_p(1.0, 0.5)),
        (with(5, 3.4e38), None, top_k(4, 1.0)),
        (base.clone(), None, Sampling::ArgMax),
    ];
    for (index, chunk) in cases.chunks(4).enumerate() {
        let packed: Vec<Option<Vec<u32>>> = chunk
            .iter()
            .map(|(_, mask, _)| mask.as_deref().map(pack_mask))
            .collect();
        let requests: Vec<RowRequest<'_>> = chunk
            .iter()
            .zip(&packed)
            .map(|((_, _, sampling), mask)| RowRequest {
                sampling: *sampling,
                uniform: 0.3,
                mask: mask.as_deref(),
            })
            .collect();
        let flat: Vec<f32> = chunk
            .iter()
            .flat_map(|(logits, ..)| logits.clone())
            .collect();
        let picks = sampler.sample_host(&flat, &requests).expect("GPU step");
        for ((logits, mask, sampling), gpu) in chunk.iter().zip(&picks) {
            eprintln!("case group {index}: {sampling:?}: GPU {gpu:?}");
            assert_same(*sampling, logits, mask.as_deref(), 0.3, gpu);
        }
    }
}

#[test]
fn signed_zeros_rank_like_total_cmp() {
    let Some((device, queue)) = gpu() else { return };
    let mut sampler = GpuSampler::new(&device, &queue, 1, 4).expect("sampler");
    // total_cmp ranks +0.0 above -0.0, so arg-max picks id 2, not the lower id 0.
    let logits = [-0.0, -1.0, 0.0, -0.0];
    let row = RowRequest {
        sampling: Sampling::ArgMax,
        uniform: 0.0,
        mask: None,
    };
    assert_eq!(sampler.sample_host(&logits, &[row]).expect("step"), [Ok(2)]);
    assert_eq!(cpu_pick(Sampling::ArgMax, &logits, None, 0.0), Ok(2));
}

#[test]
fn device_logits_with_offset_and_stride_match_host_logits() {
    let Some((device, queue)) = gpu() else { return };
    let mut sampler = GpuSampler::new(&device, &queue, 4, VOCAB).expect("sampler");
    let mut rng = StdRng::seed_from_u64(99);
    let stride = VOCAB + 13;
    // Row 0 starts 3 elements in: the binding offset is rounded down to the device's
    // alignment and the remainder goes to the kernel.
    let lead = 3;
    let rows: Vec<Vec<f32>> = (0..4).map(|_| random_logits(&mut rng, VOCAB)).collect();
    let mut padded = vec![f32::NAN; lead + 3 * stride + VOCAB + 5];
    for (row, logits) in rows.iter().enumerate() {
        padded[lead + row * stride..][..VOCAB].copy_from_slice(logits);
    }
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("model logits"),
        size: (padded.len() * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bytes: Vec<u8> = padded.iter().flat_map(|v| v.to_le_bytes()).collect();
    queue.write_buffer(&buffer, 0, &bytes);
    let flat: Vec<f32> = rows.concat();
    for step in 0..30 {
        let requests: Vec<RowRequest<'_>> = (0..4)
            .map(|_| RowRequest {
                sampling: random_sampling(&mut rng),
                uniform: rng.random(),
                mask: None,
            })
            .collect();
        let from_device = sampler
            .sample_device(
                DeviceLogits {
                    buffer: &buffer,
                    offset: (lead * 4) as u64,
                    row_stride: stride,
                },
                &requests,
            )
            .expect("device step");
        let from_host = sampler.sample_host(&flat, &requests).expect("host step");
        assert_eq!(from_device, from_host, "step {step}");
        for (row, (logits, gpu)) in rows.iter().zip(&from_device).enumerate() {
            let request = requests[row];
            assert_same(request.sampling, logits, None, request.uniform, gpu);
        }
    }
    assert_eq!(sampler.stats().submissions, 60);
    assert_eq!(sampler.stats().read_backs, 60);

    // Misuse is a typed error, not a panic.
    let too_far = sampler.sample_device(
        DeviceLogits {
            buffer: &buffer,
            offset: (lead * 4) as u64,
            row_stride: stride + 10,
        },
        &[RowRequest {
            sampling: Sampling::ArgMax,
            uniform: 0.0,
            mask: None,
        }; 4],
    );
    assert!(matches!(too_far, Err(GpuSamplingError::DeviceLogits(_))));
    let misaligned = sampler.sample_device(
        DeviceLogits {
            buffer: &buffer,
            offset: 2,
            row_stride: stride,
        },
        &[RowRequest {
            sampling: Sampling::ArgMax,
            uniform: 0.0,
            mask: None,
        }],
    );
    assert!(matches!(misaligned, Err(GpuSamplingError::DeviceLogits(_))));
}

#[test]
fn bad_requests_are_typed_errors() {
    let Some((device, queue)) = gpu() else { return };
    assert!(matches!(
        GpuSampler::new(&device, &queue, 1, 0),
        Err(GpuSamplingError::VocabSize { .. })
    ));
    assert!(matches!(
        GpuSampler::new(&device, &queue, 1, 5000),
        Err(GpuSamplingError::VocabSize { .. })
    ));
    assert!(matches!(
        GpuSampler::new(&device, &queue, 0, VOCAB),
        Err(GpuSamplingError::MaxBatch { .. })
    ));
    let mut sampler = GpuSampler::new(&device, &queue, 2, VOCAB).expect("sampler");
    let logits = vec![0.0; VOCAB];
    let row = |uniform, mask| RowRequest {
        sampling: Sampling::ArgMax,
        uniform,
        mask,
    };
    assert!(matches!(
        sampler.sample_host(&logits, &[]),
        Err(GpuSamplingError::BatchSize { .. })
    ));
    assert!(matches!(
        sampler.sample_host(&logits, &[row(0.0, None); 3]),
        Err(GpuSamplingError::BatchSize { .. })
    ));
    assert!(matches!(
        sampler.sample_host(&logits[1..], &[row(0.0, None)]),
        Err(GpuSamplingError::LogitsLength { .. })
    ));
    assert!(matches!(
        sampler.sample_host(&logits, &[row(1.0, None)]),
        Err(GpuSamplingError::Uniform { .. })
    ));
    assert!(matches!(
        sampler.sample_host(&logits, &[row(f32::NAN, None)]),
        Err(GpuSamplingError::Uniform { .. })
    ));
    let short = [0_u32; 3];
    assert!(matches!(
        sampler.sample_host(&logits, &[row(0.0, Some(&short))]),
        Err(GpuSamplingError::MaskLength { .. })
    ));
    // Nothing above reached the GPU.
    assert_eq!(sampler.stats().submissions, 0);
}

/// A wgpu device registered with burn, with its handles for the sampler.
fn burn_gpu() -> Option<(WgpuDevice, wgpu::Device, wgpu::Queue)> {
    // Opened as burn opens its own devices: with the adapter's features and limits (burn
    // picks kernels by them; 64-bit integers, for one).
    let Some(shared) = leitmotif_model::SharedWgpu::open(true) else {
        eprintln!("no wgpu adapter: GPU sampling test skipped");
        return None;
    };
    let (device, queue) = (shared.device.clone(), shared.queue.clone());
    Some((shared.into_burn_device(), device, queue))
}

#[test]
fn burn_logits_are_sampled_where_they_are() {
    let Some((burn_device, device, queue)) = burn_gpu() else {
        return;
    };
    let batch = 4;
    let mut sampler = GpuSampler::new(&device, &queue, batch, VOCAB).expect("sampler");
    let mut rng = StdRng::seed_from_u64(21);
    let steps = 40;
    for _ in 0..steps {
        // Finite logits: WGSL does not promise IEEE infinities in burn's arithmetic.
        let host = random_logits(&mut rng, (batch + 2) * VOCAB)
            .into_iter()
            .map(|logit| logit.max(-1e30))
            .collect::<Vec<f32>>();
        // burn's kernels for these logits (x * 2 + 0.5, then rows 1..=4: a copy at an offset
        // in burn's memory pool) are still queued in burn when the sampler is called; they
        // must reach the queue before the sampling kernel.
        let x = Tensor::<Wgpu, 2>::from_data(
            TensorData::new(host.clone(), [batch + 2, VOCAB]),
            &burn_device,
        );
        let logits = (x * 2.0 + 0.5).slice([1..batch + 1, 0..VOCAB]);
        let requests: Vec<RowRequest<'_>> = (0..batch)
            .map(|_| RowRequest {
                sampling: random_sampling(&mut rng),
                uniform: rng.random(),
                mask: None,
            })
            .collect();
        let picks = sampler
            .sample_burn_logits(&logits, &requests)
            .expect("step");
        for (row, (request, gpu)) in requests.iter().zip(&picks).enumerate() {
            let expected: Vec<f32> = host[(row + 1) * VOCAB..][..VOCAB]
                .iter()
                .map(|logit| logit * 2.0 + 0.5)
                .collect();
            assert_same(request.sampling, &expected, None, request.uniform, gpu);
        }
    }
    let stats = sampler.stats();
    assert_eq!(stats.submissions, steps);
    assert_eq!(stats.read_backs, steps);

    // A transposed view has a strided vocabulary axis: a typed error, not a wrong answer.
    let transposed = Tensor::<Wgpu, 2>::zeros([VOCAB, batch], &burn_device).transpose();
    let requests = [RowRequest {
        sampling: Sampling::ArgMax,
        uniform: 0.0,
        mask: None,
    }; 4];
    assert!(matches!(
        sampler.sample_burn_logits(&transposed, &requests),
        Err(GpuSamplingError::Burn(_))
    ));
}
