//! Training, evaluation and controlled sampling for Leitmotif's models.
//!
//! - [`train::train`]: the training loop behind `leitmotif train` (Adam with warm-up,
//!   validation every epoch, checkpoints and resume, a summary beside the weights);
//! - [`eval`]: bits per token against a 5-gram Kneser-Ney baseline, and control accuracy;
//! - [`generate::generate`]: sampling under the token grammar with the requested controls
//!   written in, so every result decodes to a valid score.

pub mod data;
pub mod error;
pub mod eval;
pub mod generate;
pub mod models;
pub mod train;

pub use error::TrainError;
pub use eval::{EvalReport, control_accuracy, model_bits, ngram_bits};
pub use generate::{Plan, generate};
pub use models::{AnyModel, ModelSource};
pub use train::{TrainEvent, TrainOptions, TrainSummary, train};
