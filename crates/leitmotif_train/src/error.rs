//! Typed errors for training, evaluation and generation.

use std::path::PathBuf;

use thiserror::Error;

/// Anything that stops training, evaluation or generation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A read or write failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A split with no data.
    #[error("the {0} split is empty: the data folder needs more pieces")]
    EmptySplit(&'static str),
    /// The corpus could not be read.
    #[error(transparent)]
    Corpus(#[from] leitmotif_tokens::corpus::CorpusError),
    /// The model refused its input.
    #[error(transparent)]
    Model(#[from] leitmotif_model::ModelError),
    /// Weights could not be saved or loaded.
    #[error(transparent)]
    Weights(#[from] leitmotif_model::WeightsError),
    /// A checkpoint that cannot be used.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The loss became NaN or infinite.
    #[error("training diverged at step {step} (loss is not finite): lower --lr")]
    Diverged {
        /// The step.
        step: usize,
    },
    /// Sampling through the composer's decoder failed.
    #[error(transparent)]
    Compose(#[from] leitmotif_compose::ComposeError),
    /// A generated sequence did not decode.
    #[error(transparent)]
    Decode(#[from] leitmotif_tokens::DecodeError),
    /// A request outside what can be generated.
    #[error("invalid request: {0}")]
    Request(String),
    /// Data-parallel training was given no devices.
    #[error("data-parallel training needs at least one device")]
    NoDevices,
    /// More data-parallel devices than rows in a batch, so some would get no rows.
    #[error(
        "{devices} data-parallel devices for a batch of {rows} rows: use at most one device per row"
    )]
    TooManyDevices {
        /// Devices asked for.
        devices: usize,
        /// Rows per batch.
        rows: usize,
    },
    /// Training rows too short to hold an input and a target.
    #[error("training rows need at least 2 tokens, got {len}")]
    ShortRows {
        /// Tokens per row.
        len: usize,
    },
    /// The model does not live on the first data-parallel device, where the optimiser steps.
    #[error("the model must be on the first data-parallel device {expected}, not on {found}")]
    ModelDevice {
        /// The first device, as `Debug` prints it.
        expected: String,
        /// The model's devices, as `Debug` prints them.
        found: String,
    },
}
