//! The training loop: Adam with warm-up and cosine decay, validation every epoch,
//! checkpoints that `resume` continues from, and a summary written beside the weights.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::AutodiffModule;
use burn::module::Module;
use burn::optim::{AdamConfig, Optimizer};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use leitmotif_model::weights::{self, ModelConfig};
use leitmotif_model::{LanguageModel, next_token_loss, token_tensor};
use leitmotif_tokens::{Corpus, Split, VOCAB_SIZE};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::{Batcher, pad_id, validation_windows};
use crate::error::TrainError;
use crate::parallel::{check_devices, train_step_parallel};
use crate::step::{TrainBackend, TrainDevice};

/// What a training run is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Passes over the training tokens.
    pub epochs: f64,
    /// Sequences per batch.
    pub batch: usize,
    /// Tokens per training sequence.
    pub seq_len: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Warm-up steps (linear from 0 to `lr`).
    pub warmup_steps: usize,
    /// Seed for initialisation order and batch sampling.
    pub seed: u64,
    /// Stop after this many seconds of this session (validating and saving first), even
    /// if the planned epochs are not done.
    #[serde(default)]
    pub time_limit_secs: Option<f64>,
    /// Start from these weights (`NAME.bpk` with `NAME.json` beside it) instead of a fresh
    /// initialisation; their config replaces the one given. The optimiser starts fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// Data-parallel workers: each batch's rows are split between this many model replicas,
    /// each running forward and backward on its own thread, and the optimiser steps once
    /// on the combined gradients (see [`train_step_parallel`]). 1 (the default, and what
    /// older summaries and checkpoints mean) is the plain single-device step.
    ///
    /// The CPU backend has one device, so here they are threads sharing it; the losses
    /// match 1 worker's up to float rounding. Must be in `1..=batch`.
    #[serde(default = "one_device")]
    pub devices: usize,
}

fn one_device() -> usize {
    1
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 1.0,
            batch: 16,
            seq_len: 256,
            lr: 3e-3,
            warmup_steps: 200,
            seed: 7,
            time_limit_secs: None,
            init: None,
            devices: 1,
        }
    }
}

/// Progress reports sent to the caller during training.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// A training step finished.
    Step {
        /// Epoch (from 1).
        epoch: usize,
        /// Steps done in all, and planned.
        step: usize,
        /// Steps planned in all.
        total_steps: usize,
        /// Smoothed training loss (nats per token).
        loss: f64,
        /// Training tokens per second over the recent steps.
        tokens_per_second: f64,
    },
    /// An epoch ended and the validation loss was measured.
    Epoch {
        /// Epoch (from 1).
        epoch: usize,
        /// Mean training loss over the epoch.
        train_loss: f64,
        /// Validation loss.
        validation_loss: f64,
        /// Seconds since training started.
        elapsed: f64,
    },
}

/// What a finished run writes beside its weights (`NAME.summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// The model kind.
    pub model: String,
    /// The command line that ran, when given.
    pub command: String,
    /// The data folder.
    pub data: String,
    /// Options.
    pub options: TrainOptions,
    /// The model config as JSON.
    pub config: serde_json::Value,
    /// Parameters.
    pub parameters: usize,
    /// Training backend.
    pub backend: String,
    /// Pieces and tokens on each side of the split.
    pub train_pieces: usize,
    /// Training tokens.
    pub train_tokens: usize,
    /// Validation pieces.
    pub validation_pieces: usize,
    /// Validation tokens.
    pub validation_tokens: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Training tokens seen.
    pub tokens_seen: usize,
    /// Wall-clock seconds (all sessions, when resumed).
    pub seconds: f64,
    /// Mean training loss of the last epoch (nats per token).
    pub final_train_loss: f64,
    /// Validation loss after the last epoch (nats per token).
    pub final_validation_loss: f64,
    /// Validation loss after every epoch.
    pub validation_history: Vec<f64>,
}

/// Where a run saves its checkpoint, inside the output folder.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    config: serde_json::Value,
    options: TrainOptions,
    epoch: usize,
    step: usize,
    seconds: f64,
    validation_history: Vec<f64>,
    last_train_loss: f64,
}

type Inner = <TrainBackend as AutodiffBackend>::InnerBackend;

/// Trains a model of `config` on `corpus`, writing `NAME.bpk`, `NAME.json` and
/// `NAME.summary.json` into `out`, with a checkpoint after every epoch.
///
/// With `resume`, continues from the checkpoint in `out` (its config and options win over
/// the ones given, except `epochs`, which may be raised, and `devices`, which follows the
/// machine the run resumes on).
///
/// # Errors
/// [`TrainError`] for an empty split, I/O and weights errors, a checkpoint that does not
/// match, or `options.devices` outside `1..=batch`.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each argument is distinct"
)]
pub fn train<C>(
    name: &str,
    config: &C,
    corpus: &Corpus,
    data: &Path,
    out: &Path,
    options: &TrainOptions,
    resume: bool,
    command: &str,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainSummary, TrainError>
where
    C: ModelConfig + Clone + Serialize + for<'de> Deserialize<'de>,
    C::Model<TrainBackend>: LanguageModel<TrainBackend> + AutodiffModule<TrainBackend>,
    <C::Model<TrainBackend> as AutodiffModule<TrainBackend>>::InnerModule: LanguageModel<Inner>,
{
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TrainError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let device = TrainDevice::default();
    let batcher = Batcher::new(corpus.split(Split::Train));
    let validation: Vec<_> = corpus.split(Split::Validation).collect();
    if batcher.tokens() < 2 {
        return Err(TrainError::EmptySplit("training"));
    }
    if validation.is_empty() {
        return Err(TrainError::EmptySplit("validation"));
    }
    let checkpoint = checkpoint_dir(out);
    let (config, mut options, mut state, mut model, mut optimizer) = {
        let mut optimizer = AdamConfig::new()
            .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
            .init::<TrainBackend, C::Model<TrainBackend>>();
        if resume {
            let text = std::fs::read(checkpoint.join("state.json")).map_err(io(&checkpoint))?;
            let state: CheckpointState =
                serde_json::from_slice(&text).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
            let config: C = serde_json::from_value(state.config.clone())
                .map_err(|e| TrainError::Checkpoint(e.to_string()))?;
            let (_, model) =
                weights::load::<TrainBackend, C>(&checkpoint.join("model.bpk"), &device)?;
            let record = BinFileRecorder::<FullPrecisionSettings>::new()
                .load(checkpoint.join("optimizer"), &device)
                .map_err(|e| TrainError::Checkpoint(e.to_string()))?;
            optimizer = optimizer.load_record(record);
            let mut resumed = state.options.clone();
            resumed.epochs = options.epochs.max(resumed.epochs);
            resumed.devices = options.devices;
            (config, resumed, state, model, optimizer)
        } else {
            let (config, model) = match &options.init {
                Some(path) => weights::load::<TrainBackend, C>(path, &device)?,
                None => (config.clone(), config.init_model::<TrainBackend>(&device)),
            };
            let state = CheckpointState {
                config: serde_json::to_value(&config)
                    .map_err(|e| TrainError::Checkpoint(e.to_string()))?,
                options: options.clone(),
                epoch: 0,
                step: 0,
                seconds: 0.0,
                validation_history: Vec::new(),
                last_train_loss: f64::NAN,
            };
            (config, options.clone(), state, model, optimizer)
        }
    };
    options.batch = options.batch.max(1);
    options.seq_len = options.seq_len.max(2);
    check_devices(options.devices, options.batch)?;
    // The CPU backend has one device: data-parallel workers share it, one thread each.
    let devices = vec![device; options.devices];
    let tokens_per_step = options.batch * options.seq_len;
    let steps_per_epoch = (batcher.tokens() / tokens_per_step).max(1);
    let total_steps = ((steps_per_epoch as f64) * options.epochs).ceil() as usize;
    let epochs = total_steps.div_ceil(steps_per_epoch);
    // The sampling stream continues where it was: reseed from the seed and the step.
    let mut rng = StdRng::seed_from_u64(
        options.seed ^ (state.step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let started = Instant::now();
    let seconds_before = state.seconds;
    let valid_windows = validation_windows(validation.iter().copied(), options.seq_len + 1);
    while state.step < total_steps {
        let epoch = state.epoch + 1;
        let epoch_end = (epoch * steps_per_epoch).min(total_steps);
        let (mut sum, mut count, mut smooth) = (0.0, 0usize, f64::NAN);
        let mut window_start = Instant::now();
        let mut window_tokens = 0usize;
        let mut out_of_time = false;
        while state.step < epoch_end {
            if options
                .time_limit_secs
                .is_some_and(|limit| started.elapsed().as_secs_f64() > limit)
            {
                out_of_time = true;
                break;
            }
            let rows = batcher.sample(options.batch, options.seq_len + 1, &mut rng);
            let tokens = token_tensor::<TrainBackend, _>(&rows, VOCAB_SIZE, &devices[0])?;
            let lr = learning_rate(&options, state.step, total_steps);
            let (next, loss) =
                train_step_parallel(model, &mut optimizer, tokens, lr, Some(pad_id()), &devices)?;
            model = next;
            let loss = f64::from(loss);
            if !loss.is_finite() {
                return Err(TrainError::Diverged { step: state.step });
            }
            state.step += 1;
            sum += loss;
            count += 1;
            smooth = if smooth.is_nan() {
                loss
            } else {
                0.95 * smooth + 0.05 * loss
            };
            window_tokens += tokens_per_step;
            let window_secs = window_start.elapsed().as_secs_f64();
            on_event(&TrainEvent::Step {
                epoch,
                step: state.step,
                total_steps,
                loss: smooth,
                tokens_per_second: window_tokens as f64 / window_secs.max(1e-9),
            });
            if window_secs > 30.0 {
                window_start = Instant::now();
                window_tokens = 0;
            }
        }
        let inner = model.valid();
        let validation_loss = mean_loss(&inner, &valid_windows, options.batch)?;
        state.epoch = epoch;
        state.last_train_loss = sum / count.max(1) as f64;
        state.validation_history.push(validation_loss);
        state.seconds = seconds_before + started.elapsed().as_secs_f64();
        save_checkpoint::<C>(&checkpoint, &config, &model, &optimizer, &state)?;
        on_event(&TrainEvent::Epoch {
            epoch,
            train_loss: state.last_train_loss,
            validation_loss,
            elapsed: state.seconds,
        });
        if epoch >= epochs || out_of_time {
            break;
        }
    }
    let weights_path = out.join(format!("{name}.bpk"));
    weights::save::<TrainBackend, C>(&config, &model, &weights_path)?;
    let summary = TrainSummary {
        model: name.to_owned(),
        command: command.to_owned(),
        data: data.display().to_string(),
        options: options.clone(),
        config: state.config.clone(),
        parameters: model.num_params(),
        backend: match options.devices {
            1 => "Autodiff<Flex> (CPU)".to_owned(),
            n => format!("Autodiff<Flex> (CPU, {n} data-parallel workers)"),
        },
        train_pieces: corpus.split(Split::Train).count(),
        train_tokens: batcher.tokens(),
        validation_pieces: validation.len(),
        validation_tokens: Iterator::map(validation.iter(), |p| p.ids.len()).sum(),
        steps: state.step,
        tokens_seen: state.step * tokens_per_step,
        seconds: state.seconds,
        final_train_loss: state.last_train_loss,
        final_validation_loss: state.validation_history.last().copied().unwrap_or(f64::NAN),
        validation_history: state.validation_history.clone(),
    };
    let summary_path = out.join(format!("{name}.summary.json"));
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    std::fs::write(&summary_path, text).map_err(io(&summary_path))?;
    Ok(summary)
}

/// Linear warm-up to `lr`, then cosine decay to a tenth of it.
pub fn learning_rate(options: &TrainOptions, step: usize, total: usize) -> f64 {
    let warmup = options.warmup_steps.min(total / 4).max(1);
    if step < warmup {
        return options.lr * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total - warmup).max(1) as f64;
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos());
    options.lr * (0.1 + 0.9 * cosine)
}

/// Mean next-token loss (nats) over windows, ignoring padding.
///
/// # Errors
/// [`TrainError::Model`] for windows the model cannot take.
pub fn mean_loss<B, M>(model: &M, windows: &[Vec<u32>], batch: usize) -> Result<f64, TrainError>
where
    B: burn::tensor::backend::Backend,
    M: LanguageModel<B>,
{
    let device = model.devices().first().cloned().unwrap_or_default();
    let (mut total, mut count) = (0.0, 0usize);
    for rows in windows.chunks(batch.max(1)) {
        let tokens = token_tensor::<B, _>(rows, model.vocab_size(), &device)?;
        let [_, len] = tokens.dims();
        let inputs = tokens.clone().narrow(1, 0, len - 1);
        let targets = tokens.narrow(1, 1, len - 1);
        let real: usize = rows
            .iter()
            .map(|r| r[1..].iter().filter(|&&t| t != pad_id()).count())
            .sum();
        let loss: f64 = next_token_loss(model.forward(inputs), targets, Some(pad_id()))
            .into_scalar()
            .elem::<f64>();
        total += loss * real as f64;
        count += real;
    }
    Ok(total / count.max(1) as f64)
}

fn save_checkpoint<C>(
    dir: &Path,
    config: &C,
    model: &C::Model<TrainBackend>,
    optimizer: &impl Optimizer<C::Model<TrainBackend>, TrainBackend>,
    state: &CheckpointState,
) -> Result<(), TrainError>
where
    C: ModelConfig + for<'de> Deserialize<'de>,
    C::Model<TrainBackend>: AutodiffModule<TrainBackend>,
{
    // Written into a fresh folder, then swapped in, so a crash leaves the last good one.
    let temp = dir.with_extension("new");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| TrainError::Io { path, source }
    };
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(&temp).map_err(io(&temp))?;
    weights::save::<TrainBackend, C>(config, model, &temp.join("model.bpk"))?;
    BinFileRecorder::<FullPrecisionSettings>::new()
        .record(optimizer.to_record(), temp.join("optimizer"))
        .map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    let text =
        serde_json::to_string_pretty(state).map_err(|e| TrainError::Checkpoint(e.to_string()))?;
    std::fs::write(temp.join("state.json"), text).map_err(io(&temp))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&temp, dir).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learning_rate_warms_up_then_decays_to_a_tenth() {
        let options = TrainOptions {
            lr: 1e-3,
            warmup_steps: 10,
            ..TrainOptions::default()
        };
        let lr = |step| learning_rate(&options, step, 100);
        assert!((lr(0) - 1e-4).abs() < 1e-12);
        assert!((lr(9) - 1e-3).abs() < 1e-12);
        assert!(lr(50) < lr(20) && lr(20) < lr(10) + 1e-12);
        assert!((lr(100) - 1e-4).abs() < 1e-9);
    }
}
