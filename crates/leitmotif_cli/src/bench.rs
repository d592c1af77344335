//! The `bench` command: decoding speed on every backend this build has, beside PyTorch eager
//! running the same architecture on the same weights (`scripts/torch_reference.py`), the time
//! to a ready 8-bar 4-layer phrase, and the process's peak memory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Args;
use leitmotif_compose::{Composer, Curve, Request};
use leitmotif_model::{BackendChoice, BatchDecoder, HostModel, ModelSource};
use leitmotif_tokens::{Layer, Style, encode_ids};
use serde::Serialize;

use crate::CliError;

/// `leitmotif bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The model: `transformer` (the default), `rnn`, or a weights file (`NAME.bpk`).
    #[arg(long, default_value = "transformer")]
    model: String,
    /// Prompt tokens for the prefill measurement.
    #[arg(long, default_value_t = 64)]
    prompt: usize,
    /// Tokens decoded per sequence in the decoding measurements.
    #[arg(long, default_value_t = 128)]
    decode: usize,
    /// Timed runs of each measurement; the fastest counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Which backends: `all` (every one this build has and finds), `cpu` or `wgpu`.
    #[arg(long, default_value = "all")]
    backends: String,
    /// The Python with PyTorch for the reference (default: `.venv-torch/bin/python` when
    /// it exists, else `python3`); `none` skips the reference.
    #[arg(long)]
    python: Option<String>,
    /// One JSON object per backend, one per line.
    #[arg(long)]
    json: bool,
}

/// One backend's results (the `--json` line).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The backend and its device.
    pub backend: String,
    /// The model's identifier.
    pub model: String,
    /// Threads the CPU work may use (ours and PyTorch's).
    pub threads: usize,
    /// Prompt tokens per second at batch 1.
    pub prefill_tokens_per_s: f64,
    /// Decoded tokens per second at batch 1, each token read back before the next step.
    pub decode_tokens_per_s: f64,
    /// Decoded tokens per second at batch 4 (all four sequences' tokens).
    pub decode_batch4_tokens_per_s: f64,
    /// PyTorch eager's prefill on the same weights and thread count (`null` without torch).
    pub torch_prefill_tokens_per_s: Option<f64>,
    /// PyTorch eager's decoding at batch 1.
    pub torch_decode_tokens_per_s: Option<f64>,
    /// PyTorch eager's decoding at batch 4.
    pub torch_decode_batch4_tokens_per_s: Option<f64>,
    /// Median wall time to a ready 8-bar phrase with melody, bass, chords and drums.
    pub phrase_8bar_4layer_ms: f64,
    /// The process's peak resident memory so far, in MB (`null` where the OS does not say).
    pub peak_rss_mb: Option<f64>,
    /// GPU only: queue submissions of the fused sampling kernel per decoded token (burn's
    /// own submission of the model's kernels comes on top, one per step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler_submissions_per_token: Option<f64>,
    /// GPU only: read-backs per decoded token at batch 1 (one per step for the whole batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_backs_per_token: Option<f64>,
    /// GPU only: read-backs per decoded token at batch 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_backs_per_token_batch4: Option<f64>,
}

/// What the PyTorch reference printed.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
struct TorchNumbers {
    prefill_tokens_per_s: Option<f64>,
    decode_tokens_per_s: Option<f64>,
    decode_batch4_tokens_per_s: Option<f64>,
}

/// Runs `leitmotif bench`.
///
/// # Errors
/// A model that does not load, a backend asked for that is missing, absurd sizes.
pub fn bench(args: &BenchArgs) -> Result<(), CliError> {
    if args.prompt == 0 || args.prompt > 4096 || args.decode == 0 || args.decode > 4096 {
        return Err(CliError::Usage(
            "--prompt and --decode must be in 1..=4096".to_owned(),
        ));
    }
    if args.runs == 0 || args.runs > 100 {
        return Err(CliError::Usage("--runs must be in 1..=100".to_owned()));
    }
    let source = ModelSource::parse(&args.model);
    let prompt = prompt_tokens(args.prompt)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let torch = torch_reference(args, &source, threads);
    let mut reports = Vec::new();
    let wanted = |name: &str| args.backends == "all" || args.backends == name;
    if !matches!(args.backends.as_str(), "all" | "cpu" | "wgpu") {
        return Err(CliError::Usage(format!(
            "--backends must be all, cpu or wgpu, not {:?}",
            args.backends
        )));
    }
    if wanted("cpu") {
        // What the composer runs on the CPU: the host decoding path.
        let (model, id) =
            HostModel::load(&source).map_err(leitmotif_compose::ComposeError::from)?;
        let speeds = match &model {
            HostModel::Transformer(m) => measure_host(m, &prompt, args)?,
            HostModel::Rnn(m) => measure_host(m, &prompt, args)?,
        };
        let phrase = phrase_ms(&source, BackendChoice::Cpu, args.runs)?;
        reports.push(report(
            "cpu (host decoder)",
            &id,
            threads,
            speeds,
            torch,
            phrase,
        ));
    }
    #[cfg(feature = "wgpu")]
    if wanted("wgpu") {
        match leitmotif_model::SharedWgpu::open(true) {
            Some(shared) => reports.push(gpu::bench_wgpu(
                shared, &source, &prompt, args, threads, torch,
            )?),
            None if args.backends == "wgpu" => {
                return Err(leitmotif_compose::ComposeError::from(
                    leitmotif_model::backend::BackendError::NoWgpuAdapter { api: "Vulkan" },
                )
                .into());
            }
            None => {}
        }
    }
    #[cfg(not(feature = "wgpu"))]
    if args.backends == "wgpu" {
        return Err(leitmotif_compose::ComposeError::from(
            leitmotif_model::backend::BackendError::WgpuNotBuilt,
        )
        .into());
    }
    let rss = peak_rss_mb();
    let mut out = std::io::stdout().lock();
    for mut report in reports {
        report.peak_rss_mb = rss;
        let line = if args.json {
            serde_json::to_string(&report).unwrap_or_default()
        } else {
            describe(&report)
        };
        writeln!(out, "{line}").map_err(|source| CliError::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })?;
    }
    Ok(())
}

/// Tokens per second of the three decoding measurements.
#[derive(Debug, Clone, Copy)]
struct Speeds {
    prefill: f64,
    decode: f64,
    decode4: f64,
}

fn report(
    backend: &str,
    model: &str,
    threads: usize,
    speeds: Speeds,
    torch: TorchNumbers,
    phrase: Duration,
) -> BenchReport {
    BenchReport {
        backend: backend.to_owned(),
        model: model.to_owned(),
        threads,
        prefill_tokens_per_s: round(speeds.prefill),
        decode_tokens_per_s: round(speeds.decode),
        decode_batch4_tokens_per_s: round(speeds.decode4),
        torch_prefill_tokens_per_s: torch.prefill_tokens_per_s.map(round),
        torch_decode_tokens_per_s: torch.decode_tokens_per_s.map(round),
        torch_decode_batch4_tokens_per_s: torch.decode_batch4_tokens_per_s.map(round),
        phrase_8bar_4layer_ms: round(phrase.as_secs_f64() * 1000.0),
        peak_rss_mb: None,
        sampler_submissions_per_token: None,
        read_backs_per_token: None,
        read_backs_per_token_batch4: None,
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn describe(r: &BenchReport) -> String {
    let ratio = |ours: f64, theirs: Option<f64>| {
        theirs.map_or_else(String::new, |t| {
            format!(
                " (PyTorch eager {t:.0}, {:.2}x)",
                ours / t.max(f64::MIN_POSITIVE)
            )
        })
    };
    let gpu = match (
        r.sampler_submissions_per_token,
        r.read_backs_per_token,
        r.read_backs_per_token_batch4,
    ) {
        (Some(s), Some(b), Some(b4)) => format!(
            "\n  fused GPU sampling: {s:.2} sampler submissions and {b:.2} read-backs per token \
             at batch 1, {b4:.2} read-backs per token at batch 4"
        ),
        _ => String::new(),
    };
    format!(
        "{} · {} · {} threads\n  prefill        {:>9.0} tokens/s{}\n  decode         {:>9.0} tokens/s{}\n  decode batch 4 {:>9.0} tokens/s{}\n  8-bar 4-layer phrase ready in {:.1} ms; peak RSS {}{}",
        r.backend,
        r.model,
        r.threads,
        r.prefill_tokens_per_s,
        ratio(r.prefill_tokens_per_s, r.torch_prefill_tokens_per_s),
        r.decode_tokens_per_s,
        ratio(r.decode_tokens_per_s, r.torch_decode_tokens_per_s),
        r.decode_batch4_tokens_per_s,
        ratio(
            r.decode_batch4_tokens_per_s,
            r.torch_decode_batch4_tokens_per_s
        ),
        r.phrase_8bar_4layer_ms,
        r.peak_rss_mb
            .map_or_else(|| "unknown".to_owned(), |m| format!("{m:.0} MB")),
        gpu,
    )
}

/// A real prompt: the first `len` tokens of the bundled folk tune (repeated if short), the
/// same ids the PyTorch reference is given.
fn prompt_tokens(len: usize) -> Result<Vec<u32>, CliError> {
    let score = leitmotif_score::midi::read_midi(include_bytes!(
        "../../../assets/examples/folk_the_enchanted_valley.mid"
    ))
    .map_err(|source| leitmotif_score::Error::Midi {
        path: PathBuf::from("assets/examples/folk_the_enchanted_valley.mid"),
        source,
    })?;
    let ids = encode_ids(&score, Style::Folk).map_err(leitmotif_compose::ComposeError::from)?;
    Ok(ids.iter().copied().cycle().take(len).collect())
}

/// Best-of-`runs` prefill and greedy decoding on the host path, with the next tokens chosen
/// from each step's logits as a constrained decoder must.
fn measure_host<M: BatchDecoder>(
    model: &M,
    prompt: &[u32],
    args: &BenchArgs,
) -> Result<Speeds, CliError> {
    let vocab = model.vocab_size();
    let prefill = |batch: usize| -> Result<(M::State, Vec<u32>, Duration), CliError> {
        let ids = prompt.repeat(batch);
        let started = Instant::now();
        let mut cache = model.new_state();
        let mut logits = Vec::new();
        model
            .feed_batch(&mut cache, &ids, batch, &mut logits)
            .map_err(leitmotif_compose::ComposeError::from)?;
        let next = argmax(&logits, vocab);
        Ok((cache, next, started.elapsed()))
    };
    let decode = |batch: usize| -> Result<Duration, CliError> {
        let (mut cache, mut next, _) = prefill(batch)?;
        let mut logits = Vec::new();
        let started = Instant::now();
        for _ in 0..args.decode {
            model
                .feed_batch(&mut cache, &next, batch, &mut logits)
                .map_err(leitmotif_compose::ComposeError::from)?;
            next = argmax(&logits, vocab);
        }
        Ok(started.elapsed())
    };
    time_speeds(
        prompt.len(),
        args,
        &|batch| prefill(batch).map(|(_, _, t)| t),
        &decode,
    )
}

/// Warms up (allocator, kernels, autotuning), then takes the best of `runs` of a prefill at
/// batch 1 and of decoding at batches 1 and 4.
fn time_speeds(
    prompt: usize,
    args: &BenchArgs,
    prefill: &dyn Fn(usize) -> Result<Duration, CliError>,
    decode: &dyn Fn(usize) -> Result<Duration, CliError>,
) -> Result<Speeds, CliError> {
    prefill(1)?;
    decode(1)?;
    decode(4)?;
    let best = |f: &dyn Fn() -> Result<Duration, CliError>| -> Result<f64, CliError> {
        let mut best = Duration::MAX;
        for _ in 0..args.runs {
            best = best.min(f()?);
        }
        Ok(best.as_secs_f64().max(1e-9))
    };
    let prefill_s = best(&|| prefill(1))?;
    let decode_s = best(&|| decode(1))?;
    let decode4_s = best(&|| decode(4))?;
    Ok(Speeds {
        prefill: prompt as f64 / prefill_s,
        decode: args.decode as f64 / decode_s,
        decode4: (4 * args.decode) as f64 / decode4_s,
    })
}

/// The likeliest id of each `vocab`-long row.
fn argmax(values: &[f32], vocab: usize) -> Vec<u32> {
    values
        .chunks_exact(vocab)
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best as u32
        })
        .collect()
}

/// Median wall time of composing an 8-bar phrase with four layers (after one warm-up).
fn phrase_ms(
    source: &ModelSource,
    choice: BackendChoice,
    runs: usize,
) -> Result<Duration, CliError> {
    let composer = Composer::load(source, choice)?;
    let request = |seed: u64| Request {
        bars: 8,
        layers: vec![Layer::Melody, Layer::Bass, Layer::Chords, Layer::Drums],
        intensity: Curve::Ramp { from: 0.3, to: 0.9 },
        seed,
        ..Request::default()
    };
    composer.compose(&request(0))?;
    let mut times = Vec::new();
    for seed in 1..=runs.max(3) as u64 {
        let started = Instant::now();
        composer.compose(&request(seed))?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Runs the PyTorch reference on the same weights, if a Python with torch is at hand.
fn torch_reference(args: &BenchArgs, source: &ModelSource, threads: usize) -> TorchNumbers {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = match args.python.as_deref() {
        Some("none") => return TorchNumbers::default(),
        Some(python) => PathBuf::from(python),
        None => {
            let venv = root.join(".venv-torch/bin/python");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        }
    };
    let weights = match source {
        ModelSource::DefaultRnn => root.join("assets/models/melody_rnn.bpk"),
        ModelSource::DefaultTransformer => root.join("assets/models/motif_transformer.bpk"),
        ModelSource::Path(path) => path.clone(),
    };
    let output = Command::new(&python)
        .arg(root.join("scripts/torch_reference.py"))
        .arg("bench")
        .arg("--model")
        .arg(&weights)
        .args(["--threads", &threads.to_string()])
        .args(["--prompt", &args.prompt.to_string()])
        .args(["--decode", &args.decode.to_string()])
        .args(["--runs", &args.runs.to_string()])
        .arg("--json")
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines()
                .rev()
                .find_map(|line| serde_json::from_str(line).ok())
                .unwrap_or_default()
        }
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr);
            let last = text.lines().last().unwrap_or("no output");
            let _ = writeln!(
                std::io::stderr(),
                "warning: the PyTorch reference failed ({last}); run scripts/setup-torch.sh"
            );
            TorchNumbers::default()
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "warning: no Python for the PyTorch reference ({e}); run scripts/setup-torch.sh"
            );
            TorchNumbers::default()
        }
    }
}

/// The process's peak resident set (`VmHWM`), in MB, where the OS reports it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(round(kb / 1024.0))
}

/// The GPU path: the model's kernels through burn's wgpu backend and the fused sampling
/// kernel on the same device and queue, so only token ids come back each step.
#[cfg(feature = "wgpu")]
mod gpu {
    use burn::tensor::backend::Backend;
    use burn::tensor::{Int, Tensor, TensorData};
    use leitmotif_model::gpu_sampling::{GpuSampler, RowRequest};
    use leitmotif_model::{
        AnyModel, GpuBackend, LanguageModel, MelodyRnn, MotifTransformer, Sampling, SharedWgpu,
        token_tensor,
    };

    use super::*;

    /// Benchmarks `source` on `shared`'s device.
    pub(super) fn bench_wgpu(
        shared: SharedWgpu,
        source: &ModelSource,
        prompt: &[u32],
        args: &BenchArgs,
        threads: usize,
        torch: TorchNumbers,
    ) -> Result<BenchReport, CliError> {
        let info = shared.adapter_info();
        let name = format!("wgpu ({}, {})", info.name, info.api);
        let (device, queue) = (shared.device.clone(), shared.queue.clone());
        let burn_device = shared.into_burn_device();
        let (model, id) = AnyModel::<GpuBackend>::load(source, &burn_device)
            .map_err(leitmotif_compose::ComposeError::from)?;
        let vocab = match &model {
            AnyModel::Rnn(m) => m.vocab_size(),
            AnyModel::Transformer(m, _) => m.vocab_size(),
        };
        let mut sampler = GpuSampler::new(&device, &queue, 4, vocab)
            .map_err(|e| CliError::Usage(format!("GPU sampler: {e}")))?;
        let mut counts = [0.0; 3];
        let speeds = match &model {
            AnyModel::Rnn(m) => measure_fused::<MelodyRnn<GpuBackend>>(
                m,
                &burn_device,
                &mut sampler,
                prompt,
                args,
                &mut counts,
            )?,
            AnyModel::Transformer(m, _) => measure_fused::<MotifTransformer<GpuBackend>>(
                m,
                &burn_device,
                &mut sampler,
                prompt,
                args,
                &mut counts,
            )?,
        };
        let phrase = phrase_ms(source, BackendChoice::Wgpu, 1)?;
        let mut report = report(&name, &id, threads, speeds, torch, phrase);
        report.sampler_submissions_per_token = Some(round_2(counts[0]));
        report.read_backs_per_token = Some(round_2(counts[1]));
        report.read_backs_per_token_batch4 = Some(round_2(counts[2]));
        Ok(report)
    }

    fn round_2(x: f64) -> f64 {
        (x * 100.0).round() / 100.0
    }

    /// Prefill and greedy decoding with the fused sampler picking each step's tokens on the
    /// device (arg-max: the same choice as the CPU measurement).
    fn measure_fused<M: LanguageModel<GpuBackend>>(
        model: &M,
        device: &burn::backend::wgpu::WgpuDevice,
        sampler: &mut GpuSampler,
        prompt: &[u32],
        args: &BenchArgs,
        counts: &mut [f64; 3],
    ) -> Result<Speeds, CliError> {
        let gpu_error = |e: leitmotif_model::gpu_sampling::GpuSamplingError| {
            CliError::Usage(format!("GPU sampling: {e}"))
        };
        let pick = |sampler: &mut GpuSampler, logits: &Tensor<GpuBackend, 2>| {
            let batch = logits.dims()[0];
            let rows: Vec<RowRequest<'_>> = (0..batch)
                .map(|_| RowRequest {
                    sampling: Sampling::ArgMax,
                    uniform: 0.5,
                    mask: None,
                })
                .collect();
            sampler
                .sample_burn_logits(logits, &rows)
                .map_err(gpu_error)?
                .into_iter()
                .map(|r| {
                    r.map(|t| t as u32)
                        .map_err(|e| CliError::Usage(format!("GPU sampling: {e}")))
                })
                .collect::<Result<Vec<u32>, CliError>>()
        };
        let run = |sampler: &mut GpuSampler,
                   batch: usize,
                   steps: usize|
         -> Result<(Duration, Duration), CliError> {
            let started = Instant::now();
            let mut state = model.new_state();
            let tokens = prompt_rows::<GpuBackend>(prompt, batch, model.vocab_size(), device)?;
            let logits = model
                .prefill(tokens, &mut state)
                .map_err(leitmotif_compose::ComposeError::from)?;
            let mut next = pick(sampler, &logits)?;
            let prefill = started.elapsed();
            let started = Instant::now();
            for _ in 0..steps {
                let tokens = step_tokens::<GpuBackend>(&next, device);
                let logits = model
                    .step(tokens, &mut state)
                    .map_err(leitmotif_compose::ComposeError::from)?;
                next = pick(sampler, &logits)?;
            }
            Ok((prefill, started.elapsed()))
        };
        run(sampler, 1, 4)?;
        sampler.reset_stats();
        let (mut prefill, mut decode, mut decode4) = (Duration::MAX, Duration::MAX, Duration::MAX);
        for _ in 0..args.runs {
            let (p, d) = run(sampler, 1, args.decode)?;
            prefill = prefill.min(p);
            decode = decode.min(d);
        }
        let batch1 = sampler.stats();
        sampler.reset_stats();
        for _ in 0..args.runs {
            decode4 = decode4.min(run(sampler, 4, args.decode)?.1);
        }
        let batch4 = sampler.stats();
        *counts = [
            batch1.submissions_per_token(),
            batch1.read_backs_per_token(),
            batch4.read_backs_per_token(),
        ];
        Ok(Speeds {
            prefill: prompt.len() as f64 / prefill.as_secs_f64().max(1e-9),
            decode: args.decode as f64 / decode.as_secs_f64().max(1e-9),
            decode4: (4 * args.decode) as f64 / decode4.as_secs_f64().max(1e-9),
        })
    }

    /// `batch` copies of the prompt as a `[batch, seq]` token tensor.
    fn prompt_rows<B: Backend>(
        prompt: &[u32],
        batch: usize,
        vocab: usize,
        device: &B::Device,
    ) -> Result<Tensor<B, 2, Int>, CliError> {
        Ok(token_tensor(&vec![prompt; batch], vocab, device)
            .map_err(leitmotif_compose::ComposeError::from)?)
    }

    /// One token per sequence, `[batch]`, for a decoding step.
    fn step_tokens<B: Backend>(next: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
        let ids: Vec<i64> = next.iter().map(|&i| i64::from(i)).collect();
        Tensor::from_data(TensorData::new(ids, [next.len()]), device)
    }
}
