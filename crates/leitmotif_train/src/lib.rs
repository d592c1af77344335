//! Training and evaluation for Leitmotif's models. Inference (the models, decoding,
//! sampling, weights and the embedded defaults) is `leitmotif_model`; this crate adds burn's
//! autodiff on top of it and nothing depends on it but the CLI's `train` and `eval`.
//!
//! - [`train::train`]: the training loop behind `leitmotif train` (Adam with warm-up,
//!   validation every epoch, checkpoints and resume, a summary beside the weights);
//! - [`step`]: the training backends and one optimisation step;
//! - [`parallel`]: the same step data-parallel over several devices, or several workers
//!   sharing the CPU ([`train_step_parallel`], `leitmotif train --devices N`);
//! - [`eval`]: bits per token against a 5-gram Kneser-Ney baseline, and control accuracy
//!   (through the composer's own decoder, [`leitmotif_compose::sample_bars`]).
//!
//! # Choosing sizes
//!
//! Measured with `cargo bench -p leitmotif_train --bench train_step` (release, fastest of 3
//! steps) on the 2-core reference machine without a GPU, while other builds shared the CPU
//! (expect ±15 %). One training step is forward + backward + Adam on 16 × 256 tokens, vocabulary
//! 400; the last column is the time to see 4 M tokens.
//!
//! | model                               | params | f32 MB | `Autodiff<Flex>` tok/s | `Autodiff<NdArray>` tok/s | 4 M tokens (Flex) |
//! |-------------------------------------|-------:|-------:|-----------------------:|--------------------------:|------------------:|
//! | `MelodyRnn` 1 × 256                 | 0.55 M |    2.2 |                  7,070 |                     4,310 |             9 min |
//! | `MelodyRnn` 2 × 256 (`small`)       | 1.07 M |    4.3 |                  3,010 |                     2,030 |            22 min |
//! | `MelodyRnn` 2 × 320 (`medium`)      | 1.57 M |    6.3 |                  2,560 |                     1,870 |            26 min |
//! | `MelodyRnn` 1 × 384                 | 0.99 M |    4.0 |                  4,110 |                     2,900 |            16 min |
//! | `MelodyRnn` 2 × 384                 | 2.17 M |    8.7 |                  1,610 |                     1,160 |            41 min |
//! | `MotifTransformer` d 128 (`small`)  | 0.84 M |    3.4 |                  2,510 |                     2,140 |            27 min |
//! | `MotifTransformer` d 160 (`medium`) | 1.29 M |    5.2 |                  1,910 |                     1,960 |            35 min |
//! | `MotifTransformer` d 192            | 1.85 M |    7.4 |                  1,680 |                     1,600 |            40 min |
//!
//! Hence [`TrainBackend`](step::TrainBackend) is `Autodiff<Flex>`, and the `small` and
//! `medium` presets of both models (`leitmotif_model::MelodyRnnConfig`,
//! `leitmotif_model::MotifTransformerConfig`) all train on 3–5 M tokens in under an hour and
//! save under 8 MB. Decoding speed is measured by `leitmotif bench`.

pub mod data;
pub mod error;
pub mod eval;
pub mod parallel;
pub mod step;
pub mod train;

pub use error::TrainError;
pub use eval::{EvalReport, control_accuracy, model_bits, ngram_bits};
pub use parallel::{check_devices, train_step_parallel};
pub use step::{TrainBackend, TrainDevice, train_step};
pub use train::{TrainEvent, TrainOptions, TrainSummary, train};
