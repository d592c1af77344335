//! Data-parallel training steps equal single-device steps on the same batch, padding included;
//! bad device lists are refused with typed errors; the training loop runs data-parallel.
//!
//! Flex has one device, so the CPU tests run several workers on it; with the `wgpu` feature
//! one test also runs on two distinct wgpu devices (lavapipe in CI), where gradients really
//! move between devices.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use leitmotif_model::{LanguageModel, MelodyRnnConfig, MotifTransformerConfig, weights};
use leitmotif_tokens::{Corpus, Piece, Split, Style, VOCAB_SIZE};
use leitmotif_train::{
    TrainBackend, TrainDevice, TrainError, TrainOptions, train_step, train_step_parallel,
};

const VOCAB: usize = 24;
const PAD: u32 = 0;

/// Rows of deterministic pseudo-random ids in `1..VOCAB`, each row ending in `pads[row]`
/// padding tokens, so the shards of a split hold different numbers of counted targets.
fn padded_tokens<Bk: Backend>(
    pads: &[usize],
    len: usize,
    seed: u64,
    device: &Bk::Device,
) -> Tensor<Bk, 2, Int> {
    let mut state = seed;
    let mut ids = Vec::with_capacity(pads.len() * len);
    for &pad in pads {
        for col in 0..len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = if col >= len - pad {
                i64::from(PAD)
            } else {
                1 + ((state >> 33) % (VOCAB as u64 - 1)) as i64
            };
            ids.push(id);
        }
    }
    Tensor::from_data(TensorData::new(ids, [pads.len(), len]), device)
}

/// [`padded_tokens`] on the CPU.
fn cpu_tokens(pads: &[usize], len: usize, seed: u64) -> Tensor<TrainBackend, 2, Int> {
    padded_tokens(pads, len, seed, &TrainDevice::default())
}

/// Every float parameter tensor's values, in visiting order.
struct Collect(Vec<Vec<f32>>);

impl<Bk: Backend> ModuleVisitor<Bk> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Bk, D>>) {
        self.0.push(param.val().into_data().iter::<f32>().collect());
    }
}

fn tensors<Bk: Backend, M: Module<Bk>>(model: &M) -> Vec<Vec<f32>> {
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

/// Every float parameter, flattened in visiting order.
fn parameters<Bk: Backend, M: Module<Bk>>(model: &M) -> Vec<f32> {
    tensors(model).concat()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "models of different sizes");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// One SGD step (an update proportional to the gradient, so any mis-weighting shows) on
/// `devices[0]` alone and data-parallel over `devices`; parameters and losses must agree.
fn assert_parallel_step_matches<Bk, M>(model: M, pads: &[usize], devices: &[Bk::Device])
where
    Bk: AutodiffBackend,
    M: LanguageModel<Bk> + AutodiffModule<Bk>,
{
    let workers = devices.len();
    let tokens = padded_tokens::<Bk>(pads, 17, 5, &devices[0]);
    let before = parameters(&model);
    let lr = 0.5;

    let mut sgd = SgdConfig::new().init::<Bk, M>();
    let (single, single_loss) = train_step(model.clone(), &mut sgd, tokens.clone(), lr, Some(PAD));

    let mut sgd = SgdConfig::new().init::<Bk, M>();
    let (parallel, parallel_loss) =
        train_step_parallel(model, &mut sgd, tokens, lr, Some(PAD), devices).unwrap();
    assert_eq!(
        parallel.devices(),
        [devices[0].clone()],
        "the model stays on the first device"
    );

    let (single, parallel) = (parameters(&single), parameters(&parallel));
    assert!(
        max_abs_diff(&before, &single) > 1e-3,
        "the step should move the parameters for this comparison to mean anything"
    );
    let diff = max_abs_diff(&single, &parallel);
    assert!(
        diff < 1e-5,
        "{workers} workers: parameters differ from one device's by up to {diff}"
    );
    assert!(
        (single_loss - parallel_loss).abs() < 1e-5,
        "{workers} workers: loss {parallel_loss}, one device {single_loss}"
    );
}

/// `model` with burn's lazy parameters initialised (reading their devices reads them), which
/// matters here: a clone of an unread model draws its own random weights, so the
/// comparisons below need one initialised model, cloned.
fn initialised<B: AutodiffBackend, M: AutodiffModule<B>>(model: M) -> M {
    let _ = model.devices();
    model
}

/// A tiny LSTM, initialised.
fn rnn() -> impl LanguageModel<TrainBackend> + AutodiffModule<TrainBackend> {
    let config = MelodyRnnConfig::tiny(VOCAB).with_dropout(0.0);
    initialised(config.init::<TrainBackend>(&TrainDevice::default()))
}

fn transformer() -> impl LanguageModel<TrainBackend> + AutodiffModule<TrainBackend> {
    let config = MotifTransformerConfig::tiny(VOCAB).with_dropout(0.0);
    initialised(config.init::<TrainBackend>(&TrainDevice::default()))
}

/// Padding per row, so the rows count 16, 4, 13, 1 and 9 targets and the shards of a split
/// count very different numbers (2 workers: 33 and 10). Averaging the shards' gradients
/// without weighting them by those counts moves the parameters by up to about 1e-2 more than
/// one device does in the SGD steps below, far outside their tolerance of 1e-5 (measured by
/// breaking the weighting on purpose; the correct weighting agrees to about 1e-7).
const PADS: [usize; 5] = [0, 12, 3, 15, 7];

/// `n` workers on the CPU's one device.
fn workers(n: usize) -> Vec<TrainDevice> {
    vec![TrainDevice::default(); n]
}

#[test]
fn two_workers_step_like_one_device_on_padded_rows() {
    assert_parallel_step_matches(rnn(), &PADS, &workers(2));
    assert_parallel_step_matches(transformer(), &PADS, &workers(2));
}

#[test]
fn uneven_shards_and_one_row_per_worker_step_like_one_device() {
    // 5 rows over 3 workers: shards of 2, 2 and 1 rows.
    assert_parallel_step_matches(rnn(), &PADS, &workers(3));
    // One row each, one of them mostly padding.
    assert_parallel_step_matches(rnn(), &PADS, &workers(5));
}

/// One device takes [`train_step`]'s path: the same loss, bit for bit, and the same update
/// up to Flex's float noise.
#[test]
fn one_device_is_the_single_device_step() {
    let model = rnn();
    let tokens = cpu_tokens(&PADS, 17, 9);
    let mut sgd = SgdConfig::new().init();
    let (single, single_loss) = train_step(model.clone(), &mut sgd, tokens.clone(), 0.5, None);
    let devices = [TrainDevice::default()];
    let (parallel, parallel_loss) =
        train_step_parallel(model, &mut sgd, tokens, 0.5, None, &devices).unwrap();
    assert_eq!(single_loss, parallel_loss);
    let diff = max_abs_diff(&parameters(&single), &parameters(&parallel));
    assert!(diff < 1e-6, "parameters differ by up to {diff}");
}

/// What `train` runs: Adam with gradient clipping, several steps, its state carried across
/// them. Clipping and the moments see the combined gradient, so the runs stay together.
///
/// Adam's default epsilon (1e-8) turns a gradient of 1e-7 into a full step of the learning
/// rate, so float noise in near-zero gradients moves a few hundred weights by ±lr even
/// between two single-device runs of Flex (its parallel reductions do not fix their order).
/// A larger epsilon keeps the comparison about the algorithm, not that noise.
#[test]
fn adam_with_clipping_tracks_one_device_over_steps() {
    fn run<M>(model: M, devices: usize) -> (Vec<f32>, Vec<f32>)
    where
        M: LanguageModel<TrainBackend> + AutodiffModule<TrainBackend>,
    {
        let mut adam = AdamConfig::new()
            .with_epsilon(1e-3)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
            .init::<TrainBackend, M>();
        let devices = workers(devices);
        let mut model = model;
        let mut losses = Vec::new();
        for step in 0..4 {
            let tokens = cpu_tokens(&PADS, 17, 20 + step);
            let loss;
            (model, loss) =
                train_step_parallel(model, &mut adam, tokens, 3e-3, Some(PAD), &devices).unwrap();
            losses.push(loss);
        }
        (parameters(&model), losses)
    }
    let model = rnn();
    let (single, single_losses) = run(model.clone(), 1);
    let (parallel, parallel_losses) = run(model, 2);
    for (a, b) in single_losses.iter().zip(&parallel_losses) {
        assert!(
            (a - b).abs() < 1e-4,
            "losses {single_losses:?} vs {parallel_losses:?}"
        );
    }
    let diff = max_abs_diff(&single, &parallel);
    assert!(
        diff < 1e-4,
        "parameters differ by up to {diff} after 4 steps"
    );
}

#[test]
fn bad_device_lists_and_rows_are_typed_errors() {
    let tokens = cpu_tokens(&[0, 0, 0, 0], 9, 1);
    let step = |tokens: Tensor<TrainBackend, 2, Int>, devices: &[TrainDevice]| {
        let mut sgd = SgdConfig::new().init();
        train_step_parallel(rnn(), &mut sgd, tokens, 0.1, Some(PAD), devices).map(|_| ())
    };
    assert!(matches!(
        step(tokens.clone(), &[]),
        Err(TrainError::NoDevices)
    ));
    assert!(matches!(
        step(tokens.clone(), &workers(5)),
        Err(TrainError::TooManyDevices {
            devices: 5,
            rows: 4
        })
    ));
    let short = tokens.narrow(1, 0, 1);
    assert!(matches!(
        step(short, &workers(2)),
        Err(TrainError::ShortRows { len: 1 })
    ));
}

/// A model loaded from weights learns in every parameter tensor on a
/// data-parallel step, the LSTM's gate bias included (burn would leave a loaded, or forked,
/// bias without gradients otherwise).
#[test]
fn every_parameter_of_a_loaded_model_learns_on_two_workers() {
    let model = initialised(loaded_rnn());
    let before = tensors(&model);
    let mut sgd = SgdConfig::new().init();
    let tokens = cpu_tokens(&PADS, 17, 13);
    let (model, _) =
        train_step_parallel(model, &mut sgd, tokens, 0.5, Some(PAD), &workers(2)).unwrap();
    for (i, (old, new)) in before.iter().zip(tensors(&model)).enumerate() {
        assert!(
            max_abs_diff(old, &new) > 0.0,
            "parameter tensor {i} ({} values) did not move",
            old.len()
        );
    }
}

/// A corpus of pseudo-random token ids (no padding): three training pieces and one
/// validation piece.
fn tiny_corpus() -> Corpus {
    let piece = |seed: u64, split| {
        let mut state = seed;
        let ids = (0..600)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                1 + ((state >> 33) % (VOCAB_SIZE as u64 - 1)) as u32
            })
            .collect();
        Piece {
            path: format!("piece{seed}.mid").into(),
            style: Style::Other,
            split,
            ids,
        }
    };
    Corpus {
        pieces: vec![
            piece(1, Split::Train),
            piece(2, Split::Train),
            piece(3, Split::Train),
            piece(4, Split::Validation),
        ],
        skipped: Vec::new(),
    }
}

/// `train` with 2 workers: runs, says so in its summary, and refuses device counts outside
/// `1..=batch` before training.
#[test]
fn the_training_loop_runs_on_two_workers_and_checks_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus();
    let config = MelodyRnnConfig::tiny(VOCAB_SIZE);
    let options = |devices| TrainOptions {
        epochs: 1.0,
        batch: 4,
        seq_len: 32,
        warmup_steps: 2,
        devices,
        ..TrainOptions::default()
    };
    let run = |devices| {
        leitmotif_train::train(
            "melody_rnn",
            &config,
            &corpus,
            dir.path(),
            dir.path(),
            &options(devices),
            false,
            "test",
            &mut |_| {},
        )
    };
    let summary = run(2).unwrap();
    assert_eq!(summary.options.devices, 2);
    assert!(
        summary.backend.contains("2 data-parallel workers"),
        "{}",
        summary.backend
    );
    assert!(summary.steps > 0 && summary.final_train_loss.is_finite());
    assert!(summary.final_validation_loss < (VOCAB_SIZE as f64).ln() + 0.5);
    assert!(matches!(run(0), Err(TrainError::NoDevices)));
    assert!(matches!(
        run(5),
        Err(TrainError::TooManyDevices {
            devices: 5,
            rows: 4
        })
    ));
}

/// Options written before `devices` existed still parse, as one device.
#[test]
fn options_without_devices_mean_one_device() {
    let mut json = serde_json::to_value(TrainOptions::default()).unwrap();
    json.as_object_mut().unwrap().remove("devices");
    let options: TrainOptions = serde_json::from_value(json).unwrap();
    assert_eq!(options.devices, 1);
}

/// Two distinct wgpu devices, each its own burn client: the gradients of the second really
/// move to the first. Needs a wgpu adapter (lavapipe in CI), like `leitmotif_model`'s wgpu
/// tests; `LEITMOTIF_SKIP_WGPU_TESTS=1` skips it on machines without one.
#[cfg(feature = "wgpu")]
mod wgpu {
    use burn::backend::Autodiff;
    use burn::backend::wgpu::WgpuDevice;
    use leitmotif_model::{GpuBackend, MelodyRnnConfig, probe_wgpu};
    use leitmotif_train::{TrainError, train_step_parallel};

    use super::{PADS, VOCAB, assert_parallel_step_matches, initialised, padded_tokens};

    type GpuTrain = Autodiff<GpuBackend>;

    /// The best adapter's device and the default device: distinct burn devices (and
    /// clients) even when both select the same adapter, as on a machine with only lavapipe.
    fn two_devices() -> Option<[WgpuDevice; 2]> {
        let Some(adapter) = probe_wgpu().into_iter().next() else {
            assert!(
                std::env::var("LEITMOTIF_SKIP_WGPU_TESTS").is_ok_and(|v| v == "1"),
                "no wgpu adapter found: install Mesa's lavapipe (`mesa-vulkan-drivers`) or set \
                 LEITMOTIF_SKIP_WGPU_TESTS=1 to skip"
            );
            return None;
        };
        let first = adapter.device();
        let second = if first == WgpuDevice::DefaultDevice {
            WgpuDevice::Cpu
        } else {
            WgpuDevice::DefaultDevice
        };
        Some([first, second])
    }

    #[test]
    fn two_wgpu_devices_step_like_one() {
        let Some(devices) = two_devices() else { return };
        let config = MelodyRnnConfig::tiny(VOCAB).with_dropout(0.0);
        let model = initialised(config.init::<GpuTrain>(&devices[0]));
        assert_parallel_step_matches(model, &PADS, &devices);
    }

    #[test]
    fn a_model_off_the_first_device_is_a_typed_error() {
        let Some(devices) = two_devices() else { return };
        let config = MelodyRnnConfig::tiny(VOCAB).with_dropout(0.0);
        let model = initialised(config.init::<GpuTrain>(&devices[1]));
        let tokens = padded_tokens::<GpuTrain>(&[0; 4], 9, 1, &devices[0]);
        let mut sgd = burn::optim::SgdConfig::new().init();
        let result = train_step_parallel(model, &mut sgd, tokens, 0.1, Some(0), &devices);
        assert!(
            matches!(result, Err(TrainError::ModelDevice { .. })),
            "{:?}",
            result.err()
        );
    }
}

/// One plain single-device SGD step moves every parameter tensor of `model`.
fn plain_step_moves_every_parameter<M>(what: &str, model: M)
where
    M: LanguageModel<TrainBackend> + AutodiffModule<TrainBackend>,
{
    let before = tensors(&model);
    let mut sgd = SgdConfig::new().init();
    let tokens = cpu_tokens(&PADS, 17, 13);
    let (model, _) = train_step(model, &mut sgd, tokens, 0.5, Some(PAD));
    for (i, (old, new)) in before.iter().zip(tensors(&model)).enumerate() {
        assert!(
            max_abs_diff(old, &new) > 0.0,
            "{what}: parameter tensor {i} ({} values) did not move",
            old.len()
        );
    }
}

/// [`rnn`]'s weights saved and loaded again, as `--init` and `--resume` load them.
fn loaded_rnn() -> impl LanguageModel<TrainBackend> + AutodiffModule<TrainBackend> {
    let config = MelodyRnnConfig::tiny(VOCAB).with_dropout(0.0);
    let bytes = weights::to_bytes(&rnn()).unwrap();
    let json = weights::config_json(&config);
    weights::load_bytes::<TrainBackend, MelodyRnnConfig>(
        json.as_bytes(),
        bytes,
        &TrainDevice::default(),
    )
    .unwrap()
    .1
}

/// The LSTM's parameters are trainable leaves as built and as loaded: one plain step moves
/// every one of them (a loaded LSTM's gate bias once got none).
#[test]
fn a_fresh_and_a_loaded_lstm_train_every_parameter_with_the_plain_step() {
    plain_step_moves_every_parameter("fresh", rnn());
    plain_step_moves_every_parameter("loaded", loaded_rnn());
}
