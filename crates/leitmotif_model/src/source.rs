//! The shipped default models, embedded in the binary, and loading a model of either kind
//! from a path.

use std::path::PathBuf;

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
        let SourceBytes {
            kind,
            config,
            weights,
            id,
        } = SourceBytes::read(source)?;
        let model = match kind {
            ModelKind::Rnn => {
                let (_, model) =
                    weights::load_bytes::<B, MelodyRnnConfig>(&config, weights, device)?;
                AnyModel::Rnn(model)
            }
            ModelKind::Transformer => {
                let (config, model) =
                    weights::load_bytes::<B, MotifTransformerConfig>(&config, weights, device)?;
                AnyModel::Transformer(model, config.max_seq_len)
            }
        };
        Ok((model, id))
    }

    /// How many tokens of context the model should see at once (unbounded for the LSTM).
    pub fn context(&self) -> usize {
        match self {
            AnyModel::Rnn(_) => usize::MAX,
            AnyModel::Transformer(_, context) => *context,
        }
    }
}

/// Which model a config describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    Rnn,
    Transformer,
}

/// A model's config and weights as bytes, with its kind and identifier.
pub(crate) struct SourceBytes {
    pub(crate) kind: ModelKind,
    pub(crate) config: Vec<u8>,
    /// Owned: burnpack tensors are cast in place, and `include_bytes!` data has no
    /// alignment guarantee.
    pub(crate) weights: Vec<u8>,
    pub(crate) id: String,
}

impl SourceBytes {
    /// Reads what `source` names: the embedded bytes, or the weights file and the config
    /// beside it.
    pub(crate) fn read(source: &ModelSource) -> Result<Self, WeightsError> {
        match source {
            ModelSource::DefaultRnn => Ok(Self {
                kind: ModelKind::Rnn,
                config: MELODY_RNN_CONFIG.to_vec(),
                weights: MELODY_RNN_WEIGHTS.to_vec(),
                id: format!("melody_rnn@{}", short_hash(MELODY_RNN_WEIGHTS)),
            }),
            ModelSource::DefaultTransformer => Ok(Self {
                kind: ModelKind::Transformer,
                config: MOTIF_TRANSFORMER_CONFIG.to_vec(),
                weights: MOTIF_TRANSFORMER_WEIGHTS.to_vec(),
                id: format!(
                    "motif_transformer@{}",
                    short_hash(MOTIF_TRANSFORMER_WEIGHTS)
                ),
            }),
            ModelSource::Path(path) => {
                let config_path = weights::config_path(path);
                let config = std::fs::read(&config_path).map_err(|source| WeightsError::Read {
                    path: config_path,
                    source,
                })?;
                let weights = std::fs::read(path).map_err(|source| WeightsError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let stem = path
                    .file_stem()
                    .map_or_else(|| "model".to_owned(), |s| s.to_string_lossy().into_owned());
                let id = format!("{stem}@{}", short_hash(&weights));
                // The config's fields tell the kinds apart: only the LSTM has `d_hidden`.
                let is_rnn = serde_json::from_slice::<serde_json::Value>(&config)
                    .map_err(WeightsError::Config)?
                    .get("d_hidden")
                    .is_some();
                let kind = if is_rnn {
                    ModelKind::Rnn
                } else {
                    ModelKind::Transformer
                };
                Ok(Self {
                    kind,
                    config,
                    weights,
                    id,
                })
            }
        }
    }
}

/// The first 8 hex digits of an FNV-1a hash of `bytes`: names a set of weights.
pub fn short_hash(bytes: &[u8]) -> String {
    format!("{:08x}", Fnv1a::hash(bytes) >> 32)
}
