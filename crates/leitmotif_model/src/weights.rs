//! Saving and loading models: weights in burn's burnpack format, the config as JSON beside them.
//!
//! A model saved to `melody.bpk` has its config in `melody.json` ([`config_path`]). Loading
//! reads the config, builds the model from it, and fills in the weights; a file that is not a
//! burnpack, is truncated, or holds tensors of other names or shapes than the config implies is
//! an error, never a panic. For weights shipped inside a binary use [`load_static`] with
//! `include_bytes!`.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::store::{ApplyError, BurnpackError, BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;
use burn::tensor::backend::Backend;

use crate::rnn::{MelodyRnn, MelodyRnnConfig};
use crate::transformer::{MotifTransformer, MotifTransformerConfig};

/// A model configuration that knows which model it builds.
pub trait ModelConfig: Config {
    /// The model type.
    type Model<B: Backend>: Module<B>;

    /// Builds the model with freshly initialised weights.
    fn init_model<B: Backend>(&self, device: &B::Device) -> Self::Model<B>;

    /// Checks that a model can be built from this config: every size above zero and within
    /// reason, shapes that fit together.
    ///
    /// # Errors
    /// The first problem, naming the field.
    fn check(&self) -> Result<(), String>;
}

/// The largest size any one field of a config may ask for: far above any music model, far
/// below what would exhaust memory while building it.
const MAX_DIM: usize = 1 << 16;

fn check_size(name: &str, value: usize) -> Result<(), String> {
    if value == 0 || value > MAX_DIM {
        return Err(format!("{name} must be in 1..={MAX_DIM}, not {value}"));
    }
    Ok(())
}

fn check_dropout(value: f64) -> Result<(), String> {
    if !(0.0..1.0).contains(&value) {
        return Err(format!("dropout must be in [0, 1), not {value}"));
    }
    Ok(())
}

impl ModelConfig for MelodyRnnConfig {
    type Model<B: Backend> = MelodyRnn<B>;

    fn init_model<B: Backend>(&self, device: &B::Device) -> MelodyRnn<B> {
        self.init(device)
    }

    fn check(&self) -> Result<(), String> {
        check_size("vocab_size", self.vocab_size)?;
        check_size("d_embed", self.d_embed)?;
        check_size("d_hidden", self.d_hidden)?;
        check_size("n_layers", self.n_layers)?;
        check_dropout(self.dropout)?;
        if !self.forget_bias.is_finite() {
            return Err(format!(
                "forget_bias must be finite, not {}",
                self.forget_bias
            ));
        }
        Ok(())
    }
}

impl ModelConfig for MotifTransformerConfig {
    type Model<B: Backend> = MotifTransformer<B>;

    fn init_model<B: Backend>(&self, device: &B::Device) -> MotifTransformer<B> {
        self.init(device)
    }

    fn check(&self) -> Result<(), String> {
        check_size("vocab_size", self.vocab_size)?;
        check_size("d_model", self.d_model)?;
        check_size("n_layers", self.n_layers)?;
        check_size("n_heads", self.n_heads)?;
        check_size("mlp_ratio", self.mlp_ratio)?;
        check_size("max_seq_len", self.max_seq_len)?;
        if !self.d_model.is_multiple_of(2 * self.n_heads) {
            return Err(format!(
                "d_model ({}) must be a multiple of 2 × n_heads ({}): each head's rotary \
                 embedding turns pairs of dimensions",
                self.d_model, self.n_heads
            ));
        }
        check_dropout(self.dropout)?;
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return Err(format!(
                "rope_theta must be finite and above 1, not {}",
                self.rope_theta
            ));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return Err(format!(
                "norm_eps must be finite and above 0, not {}",
                self.norm_eps
            ));
        }
        Ok(())
    }
}

/// Errors from saving and loading models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The config JSON does not parse as this model's config.
    #[error("invalid model config")]
    Config(#[source] serde_json::Error),
    /// The config parses but describes a model that cannot be built.
    #[error("invalid model config: {0}")]
    InvalidConfig(String),
    /// The weights are not a readable burnpack (wrong format, truncated, corrupt).
    #[error("weights are not a valid burnpack file")]
    Corrupt(#[source] BurnpackError),
    /// The weights are readable but do not fit the model the config describes.
    #[error("weights do not match the model config: {0}")]
    Mismatch(String),
}

/// The config file that belongs to a weights file: the same path with a `.json` extension.
pub fn config_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Saves `model` to `weights` (burnpack) and `config` to [`config_path`]`(weights)`,
/// overwriting both.
///
/// # Errors
///
/// [`WeightsError::Write`] if a file cannot be written.
pub fn save<B: Backend, C: ModelConfig>(
    config: &C,
    model: &C::Model<B>,
    weights: &Path,
) -> Result<(), WeightsError> {
    let bytes = to_bytes(model)?;
    std::fs::write(weights, bytes).map_err(|source| WeightsError::Write {
        path: weights.to_path_buf(),
        source,
    })?;
    let config_file = config_path(weights);
    std::fs::write(&config_file, config_json(config)).map_err(|source| WeightsError::Write {
        path: config_file,
        source,
    })
}

/// Loads a model saved by [`save`]: the config from [`config_path`]`(weights)`, the weights from
/// `weights`.
///
/// # Errors
///
/// [`WeightsError::Read`] for a missing file, [`WeightsError::Config`] for a config that
/// does not parse, [`WeightsError::InvalidConfig`] for one that cannot build a model,
/// [`WeightsError::Corrupt`] for unreadable weights, [`WeightsError::Mismatch`] when the weights
/// do not fit the config.
pub fn load<B: Backend, C: ModelConfig>(
    weights: &Path,
    device: &B::Device,
) -> Result<(C, C::Model<B>), WeightsError> {
    let config_file = config_path(weights);
    let config_text = std::fs::read(&config_file).map_err(|source| WeightsError::Read {
        path: config_file,
        source,
    })?;
    let bytes = std::fs::read(weights).map_err(|source| WeightsError::Read {
        path: weights.to_path_buf(),
        source,
    })?;
    load_bytes::<B, C>(&config_text, bytes, device)
}

/// Loads a model from a config JSON and burnpack bytes held in memory.
///
/// # Errors
///
/// As [`load`], without the I/O errors.
pub fn load_bytes<B: Backend, C: ModelConfig>(
    config_json: &[u8],
    weights: Vec<u8>,
    device: &B::Device,
) -> Result<(C, C::Model<B>), WeightsError> {
    let store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(weights)));
    load_store::<B, C>(config_json, store, device)
}

/// Loads a model embedded in the binary:
/// `load_static::<B, C>(include_bytes!("melody.json"), include_bytes!("melody.bpk"), &device)`.
///
/// The bytes are copied into an owned buffer first: `include_bytes!` data has no alignment
/// guarantee, and burn-flex 0.21 casts tensor storage in place (a misaligned `f32` slice
/// panics inside bytemuck), so reading the static bytes zero-copy is not safe.
///
/// # Errors
///
/// As [`load_bytes`].
pub fn load_static<B: Backend, C: ModelConfig>(
    config_json: &[u8],
    weights: &'static [u8],
    device: &B::Device,
) -> Result<(C, C::Model<B>), WeightsError> {
    load_bytes::<B, C>(config_json, weights.to_vec(), device)
}

/// Serialises a model's weights to burnpack bytes.
///
/// # Errors
///
/// [`WeightsError::Corrupt`] if burn fails to encode the tensors.
pub fn to_bytes<B: Backend, M: Module<B>>(model: &M) -> Result<Vec<u8>, WeightsError> {
    let mut store = BurnpackStore::from_bytes(None);
    model.save_into(&mut store).map_err(WeightsError::Corrupt)?;
    let bytes = store.get_bytes().map_err(WeightsError::Corrupt)?;
    Ok(bytes.to_vec())
}

/// The config as pretty JSON, as [`save`] writes it.
pub fn config_json<C: Config>(config: &C) -> String {
    burn::config::config_to_json(config)
}

fn load_store<B: Backend, C: ModelConfig>(
    config_json: &[u8],
    store: BurnpackStore,
    device: &B::Device,
) -> Result<(C, C::Model<B>), WeightsError> {
    let config: C = serde_json::from_slice(config_json).map_err(WeightsError::Config)?;
    config.check().map_err(WeightsError::InvalidConfig)?;
    let mut model = config.init_model::<B>(device);
    // Let burn report every problem, then sort them into corrupt data and mismatches.
    let mut store = store.validate(false).allow_partial(true);
    let result = model.load_from(&mut store).map_err(WeightsError::Corrupt)?;
    let mut problems = Vec::new();
    for error in &result.errors {
        match error {
            ApplyError::LoadError { path, message } => {
                return Err(WeightsError::Corrupt(BurnpackError::ValidationError(
                    format!("tensor '{path}': {message}"),
                )));
            }
            other => problems.push(other.to_string()),
        }
    }
    if !result.missing.is_empty() {
        let names: Vec<&str> = result
            .missing
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        problems.push(format!("missing tensors {names:?}"));
    }
    if !result.unused.is_empty() {
        problems.push(format!("unexpected tensors {:?}", result.unused));
    }
    if problems.is_empty() {
        Ok((config, model))
    } else {
        Err(WeightsError::Mismatch(problems.join("; ")))
    }
}
