//! The `train` and `eval` commands.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use leitmotif_model::{AnyModel, CpuBackend, MelodyRnnConfig, ModelSource, MotifTransformerConfig};
use leitmotif_tokens::{Corpus, Split, VOCAB_SIZE};
use leitmotif_train::eval::{ControlTrials, NGRAM_ORDER};
use leitmotif_train::{
    EvalReport, TrainError, TrainEvent, TrainOptions, control_accuracy, model_bits, ngram_bits,
};

use crate::CliError;

/// Which model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// `MelodyRnn`: an LSTM melody model.
    Rnn,
    /// `MotifTransformer`: a multi-part decoder-only transformer.
    Transformer,
}

impl ModelKind {
    /// The file stem its weights are saved under.
    pub fn file_stem(self) -> &'static str {
        match self {
            ModelKind::Rnn => "melody_rnn",
            ModelKind::Transformer => "motif_transformer",
        }
    }
}

/// `leitmotif train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder of .mid files (searched recursively; `manifest.csv` files add style tags).
    #[arg(long)]
    data: PathBuf,
    /// Which model.
    #[arg(long, value_enum)]
    model: ModelKind,
    /// Output folder for the weights, config, summary and checkpoint.
    #[arg(long)]
    out: PathBuf,
    /// Passes over the training tokens (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    epochs: f64,
    /// Sequences per batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Tokens per training sequence.
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Seed for initialisation and batch sampling.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Continue from the checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Stop after this many minutes (validating and saving first).
    #[arg(long)]
    time_limit: Option<f64>,
    /// Model size preset.
    #[arg(long, value_enum, default_value_t = Preset::Small)]
    preset: Preset,
    /// Start from these weights (`NAME.bpk`, with `NAME.json` beside it) instead of a
    /// fresh model: fine-tune a shipped model on your own music, or train it further. Their
    /// size replaces --preset.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Data-parallel workers: each batch's rows are split between N model replicas that run
    /// forward and backward on their own threads, then one optimiser step uses their
    /// token-weighted gradients, so the result matches N = 1 up to float rounding. Training
    /// runs on burn's CPU backend, which has one device: the N workers share it as threads.
    /// That checks the data-parallel path; on 2 cores it is slower than N = 1 (each worker
    /// still runs every time step, on fewer rows). On GPUs,
    /// `leitmotif_train::train_step_parallel` takes one device per replica. Must be in
    /// 1..=--batch.
    #[arg(long, default_value_t = 1)]
    devices: usize,
}

/// A named model size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The shipped size.
    Small,
    /// A very small model for smoke tests.
    Tiny,
}

/// `leitmotif eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of .mid files; its validation split is scored.
    #[arg(long)]
    data: PathBuf,
    /// `rnn` or `transformer` for the embedded defaults, or a weights file (`NAME.bpk`
    /// with `NAME.json` beside it).
    #[arg(long, default_value = "transformer")]
    model: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Generated samples per control value.
    #[arg(long, default_value_t = 3)]
    samples: usize,
    /// Seed for the control-accuracy samples.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn validate_options(args: &TrainArgs) -> Result<TrainOptions, CliError> {
    let bad = |what: &str| Err(CliError::Usage(what.to_owned()));
    if !(args.epochs.is_finite() && args.epochs > 0.0 && args.epochs <= 1000.0) {
        return bad("--epochs must be in (0, 1000]");
    }
    if args.batch == 0 || args.batch > 4096 {
        return bad("--batch must be in 1..=4096");
    }
    if args.seq_len < 8 || args.seq_len > 8192 {
        return bad("--seq-len must be in 8..=8192");
    }
    if args.time_limit.is_some_and(|m| !(m.is_finite() && m > 0.0)) {
        return bad("--time-limit must be a positive number of minutes");
    }
    if !(args.lr.is_finite() && args.lr > 0.0 && args.lr < 1.0) {
        return bad("--lr must be in (0, 1)");
    }
    if leitmotif_train::check_devices(args.devices, args.batch).is_err() {
        return bad("--devices must be in 1..=--batch (one row per device at least)");
    }
    Ok(TrainOptions {
        epochs: args.epochs,
        batch: args.batch,
        seq_len: args.seq_len,
        lr: args.lr,
        warmup_steps: 200,
        seed: args.seed,
        time_limit_secs: args.time_limit.map(|m| m * 60.0),
        init: args.init.clone(),
        devices: args.devices,
    })
}

/// Runs `leitmotif train`.
pub fn train(args: &TrainArgs) -> Result<(), CliError> {
    let options = validate_options(args)?;
    let started = Instant::now();
    let corpus = Corpus::load(&args.data).map_err(TrainError::from)?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{} pieces ({} train / {} validation, {} train tokens), {} skipped",
        corpus.pieces.len(),
        corpus.split(Split::Train).count(),
        corpus.split(Split::Validation).count(),
        corpus.tokens(Split::Train),
        corpus.skipped.len()
    );
    let command = std::iter::once("leitmotif".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let mut bar = ProgressBar::default();
    let mut on_event = |event: &TrainEvent| bar.show(event);
    let name = args.model.file_stem();
    // One training call per config type: `train` is generic over the model's config.
    macro_rules! train_with {
        ($config:expr) => {
            leitmotif_train::train(
                name,
                &$config,
                &corpus,
                &args.data,
                &args.out,
                &options,
                args.resume,
                &command,
                &mut on_event,
            )?
        };
    }
    let summary = match (args.model, args.preset) {
        (ModelKind::Rnn, Preset::Small) => train_with!(MelodyRnnConfig::small(VOCAB_SIZE)),
        (ModelKind::Rnn, Preset::Tiny) => train_with!(MelodyRnnConfig::tiny(VOCAB_SIZE)),
        (ModelKind::Transformer, Preset::Small) => {
            train_with!(MotifTransformerConfig::small(VOCAB_SIZE))
        }
        (ModelKind::Transformer, Preset::Tiny) => {
            train_with!(MotifTransformerConfig::tiny(VOCAB_SIZE))
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\ntrained {name}: {} parameters, {} steps, {} tokens in {:.0} s; train loss {:.4}, validation loss {:.4} nats/token\nwrote {}",
        summary.parameters,
        summary.steps,
        summary.tokens_seen,
        started.elapsed().as_secs_f64(),
        summary.final_train_loss,
        summary.final_validation_loss,
        args.out.join(format!("{name}.bpk")).display()
    );
    Ok(())
}

/// A one-line progress bar on stderr.
#[derive(Default)]
struct ProgressBar {
    last_draw: Option<Instant>,
}

impl ProgressBar {
    fn show(&mut self, event: &TrainEvent) {
        let mut err = std::io::stderr().lock();
        match event {
            TrainEvent::Step {
                epoch,
                step,
                total_steps,
                loss,
                tokens_per_second,
            } => {
                let due = self
                    .last_draw
                    .is_none_or(|t| t.elapsed().as_millis() >= 250)
                    || step == total_steps;
                if !due {
                    return;
                }
                self.last_draw = Some(Instant::now());
                let width = 30;
                let filled = width * step / (*total_steps).max(1);
                let _ = write!(
                    err,
                    "\repoch {epoch} [{}{}] {step}/{total_steps} loss {loss:.4} {tokens_per_second:.0} tok/s ",
                    "#".repeat(filled),
                    ".".repeat(width - filled)
                );
            }
            TrainEvent::Epoch {
                epoch,
                train_loss,
                validation_loss,
                elapsed,
            } => {
                let _ = writeln!(
                    err,
                    "\repoch {epoch}: train loss {train_loss:.4}, validation loss {validation_loss:.4} nats/token ({elapsed:.0} s)"
                );
            }
        }
    }
}

/// Runs `leitmotif eval`.
pub fn eval(args: &EvalArgs) -> Result<(), CliError> {
    if args.samples == 0 || args.samples > 100 {
        return Err(CliError::Usage("--samples must be in 1..=100".to_owned()));
    }
    let corpus = Corpus::load(&args.data).map_err(TrainError::from)?;
    let validation: Vec<&[u32]> = corpus
        .split(Split::Validation)
        .map(|p| p.ids.as_slice())
        .collect();
    if validation.is_empty() {
        return Err(TrainError::EmptySplit("validation").into());
    }
    let device = Default::default();
    let (model, id) = AnyModel::<CpuBackend>::load(&ModelSource::parse(&args.model), &device)
        .map_err(TrainError::from)?;
    let window = model.context();
    let trials = ControlTrials {
        samples: args.samples,
        bars: 4,
    };
    let ((bits, tokens), controls) = match &model {
        AnyModel::Rnn(m) => (
            model_bits(m, &validation, window)?,
            control_accuracy(m, window, trials, args.seed)?,
        ),
        AnyModel::Transformer(m, _) => (
            model_bits(m, &validation, window)?,
            control_accuracy(m, window, trials, args.seed)?,
        ),
    };
    let (ngram, ngram_tokens) = ngram_bits(&corpus);
    debug_assert_eq!(tokens, ngram_tokens);
    let report = EvalReport {
        tokens,
        model_bits_per_token: bits,
        ngram_bits_per_token: ngram,
        control_accuracy: controls,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&report).unwrap_or_default()
        );
    } else {
        let _ = writeln!(
            out,
            "{id}: {} validation tokens of {}",
            report.tokens,
            args.data.display()
        );
        let _ = writeln!(
            out,
            "  model      {:.4} bits/token",
            report.model_bits_per_token
        );
        let _ = writeln!(
            out,
            "  {NGRAM_ORDER}-gram     {:.4} bits/token (Kneser-Ney, same training split)  model is {:+.1}%",
            report.ngram_bits_per_token,
            (report.model_bits_per_token / report.ngram_bits_per_token - 1.0) * 100.0
        );
        for (name, accuracy) in &report.control_accuracy {
            let _ = writeln!(out, "  control {name:<10} {:.1}%", accuracy * 100.0);
        }
    }
    Ok(())
}
