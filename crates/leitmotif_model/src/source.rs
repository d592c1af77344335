//! The shipped default models, embedded in the binary, and loading a model of either kind
//! from a path.

use std::path::{Path, PathBuf};

use crate::weights::{self, WeightsError};
use crate::{MelodyRnn, MelodyRnnConfig, MotifTransformer, MotifTransformerConfig};
use burn::tensor::backend::Backend;
use leitmotif_tokens::fnv::Fnv1a;

/// The default `MelodyRnn`'s weights (burnpack), trained by `leitmotif train` on the
/// project's public-domain data; see `assets/models/melody_rnn.summary.json`.
pub static MELODY_RNN_WEIGHTS: &[u8] = include_bytes!("../../../assets/models/melody_rnn.bpk");
/// The default `MelodyRnn`'s config.
pub static MELODY_RNN_CONFIG: &[u8] = include_bytes!("../../../assets/models/melody_rnn.json");
/// The default `MotifTransformer`'s weights (burnpack); see
/// `assets/models/motif_transformer.summary.json`.
pub static MOTIF_TRANSFORMER_WEIGHTS: &[u8] =
    include_bytes!("../../../assets/models/motif_transformer.bpk");
/// The default `MotifTransformer`'s config.
pub static MOTIF_TRANSFORMER_CONFIG: &[u8] =
    include_bytes!("../../../assets/models/motif_transformer.json");

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// The embedded default melody LSTM.
    DefaultRnn,
    /// The embedded default multi-part transformer.
    DefaultTransformer,
    /// A weights file (`NAME.bpk`, with its config `NAME.json` beside it).
    Path(PathBuf),
}

impl ModelSource {
    /// `rnn`, `transformer` (or `default`, the transformer) name the embedded models;
    /// anything else is a path.
    pub fn parse(text: &str) -> Self {
        match text {
            "rnn" | "melody_rnn" => ModelSource::DefaultRnn,
            "transformer" | "motif_transformer" | "default" => ModelSource::DefaultTransformer,
            path => ModelSource::Path(PathBuf::from(path)),
        }
    }
}

/// A model of either kind.
#[derive(Debug)]
pub enum AnyModel<B: Backend> {
    /// A melody LSTM.
    Rnn(MelodyRnn<B>),
    /// A multi-part transformer, with its training context length.
    Transformer(MotifTransformer<B>, usize),
}

impl<B: Backend> AnyModel<B> {
    /// Loads the model `source` names onto `device`.
    ///
    /// # Errors
    /// [`WeightsError`] for a missing, corrupt or mismatched weights or config file.
    pub fn load(source: &ModelSource, device: &B::Device) -> Result<(Self, String), WeightsError> {
        match source {
            ModelSource::DefaultRnn => {
                let (_, model) = weights::load_static::<B, MelodyRnnConfig>(
                    MELODY_RNN_CONFIG,
                    MELODY_RNN_WEIGHTS,
                    device,
                )?;
                Ok((
                    AnyModel::Rnn(model),
                    format!("melody_rnn@{}", short_hash(MELODY_RNN_WEIGHTS)),
                ))
            }
            ModelSource::DefaultTransformer => {
                let (config, model) = weights::load_static::<B, MotifTransformerConfig>(
                    MOTIF_TRANSFORMER_CONFIG,
                    MOTIF_TRANSFORMER_WEIGHTS,
                    device,
                )?;
                let id = format!(
                    "motif_transformer@{}",
                    short_hash(MOTIF_TRANSFORMER_WEIGHTS)
                );
                Ok((AnyModel::Transformer(model, config.max_seq_len), id))
            }
            ModelSource::Path(path) => load_path(path, device),
        }
    }

    /// How many tokens of context the model should see at once (unbounded for the LSTM).
    pub fn context(&self) -> usize {
        match self {
            AnyModel::Rnn(_) => usize::MAX,
            AnyModel::Transformer(_, context) => *context,
        }
    }
}

fn load_path<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<(AnyModel<B>, String), WeightsError> {
    let config_path = weights::config_path(path);
    let text = std::fs::read(&config_path).map_err(|source| WeightsError::Read {
        path: config_path,
        source,
    })?;
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let stem = path
        .file_stem()
        .map_or_else(|| "model".to_owned(), |s| s.to_string_lossy().into_owned());
    let id = format!("{stem}@{}", short_hash(&bytes));
    // The config's fields tell the kinds apart: only the LSTM has `d_hidden`.
    let is_rnn = serde_json::from_slice::<serde_json::Value>(&text)
        .map_err(WeightsError::Config)?
        .get("d_hidden")
        .is_some();
    if is_rnn {
        let (_, model) = weights::load_bytes::<B, MelodyRnnConfig>(&text, bytes, device)?;
        Ok((AnyModel::Rnn(model), id))
    } else {
        let (config, model) =
            weights::load_bytes::<B, MotifTransformerConfig>(&text, bytes, device)?;
        Ok((AnyModel::Transformer(model, config.max_seq_len), id))
    }
}

/// The first 8 hex digits of an FNV-1a hash of `bytes`: names a set of weights.
pub fn short_hash(bytes: &[u8]) -> String {
    format!("{:08x}", Fnv1a::hash(bytes) >> 32)
}
