//! Leitmotif's sequence models, written with burn 0.21: a melody LSTM ([`MelodyRnn`]) and a
//! small decoder-only transformer ([`MotifTransformer`]) over event-token ids, with cached
//! decoding, seeded sampling and weights I/O, and a host decoding path ([`HostModel`]) that
//! runs either on the CPU straight from its weights file.
//!
//! ```
//! use leitmotif_model::{HostCache, HostModel, ModelSource, Sampler, Sampling};
//!
//! // The embedded default transformer, read straight into host memory.
//! let (model, id) = HostModel::load(&ModelSource::DefaultTransformer)?;
//! let HostModel::Transformer(model) = model else { unreachable!() };
//! assert!(id.starts_with("motif_transformer@"));
//!
//! // Prefill a prompt once, then decode one token per step; the cache lives outside the model.
//! let (mut cache, mut logits) = (HostCache::new(), Vec::new());
//! model.forward(&[1, 5, 9], 1, &mut cache, &mut logits)?;
//! let mut sampler = Sampler::new(Sampling::TopK { k: 8, temperature: 0.9 }, 42);
//! for _ in 0..8 {
//!     let token = sampler.sample(&logits, None)? as u32;
//!     model.forward(&[token], 1, &mut cache, &mut logits)?;
//! }
//! assert_eq!(cache.len(), 3 + 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Inference only
//!
//! This crate runs models; it never builds burn's autodiff. Training (the optimiser step,
//! the training backends and the loop) lives in `leitmotif_train`, which depends on this
//! crate. Each burn backend is a feature:
//!
//! - `flex` (default): `CpuBackend`, burn's Flex, for training and as the reference the
//!   host path is tested against. The host path itself needs no burn backend, so a build
//!   that only composes on the CPU leaves it out.
//! - `wgpu` (default): `GpuBackend`, the models on a GPU. Without it
//!   [`BackendChoice::Wgpu`] is an error that says so.
//!
//! [`ModelSource`] names a model (the embedded defaults or a weights file);
//! [`HostModel::load`] loads it for the CPU and [`AnyModel::load`] onto any burn backend. A
//! config that cannot work (a head count that does not divide the width, a zero size) is a
//! typed [`WeightsError`], never a panic.

pub mod backend;
pub mod decode;
pub mod error;
#[cfg(feature = "wgpu")]
pub mod gpu_sampling;
pub mod host;
pub mod language_model;
pub mod lstm;
pub mod rnn;
pub mod sampling;
pub mod source;
pub mod transformer;
pub mod weights;

pub use backend::{BackendChoice, ResolvedBackend, probe_wgpu};
#[cfg(feature = "flex")]
pub use backend::{CpuBackend, CpuDevice};
#[cfg(feature = "wgpu")]
pub use backend::{GpuBackend, SharedWgpu};
pub use decode::{BatchDecoder, BurnDecoder, TokenDecoder};
pub use error::{ModelError, check_ids};
pub use host::{HostCache, HostLstm, HostLstmState, HostModel, HostTransformer};
pub use language_model::{LanguageModel, next_token_loss, token_tensor};
pub use lstm::{FusedLstm, FusedLstmConfig, LstmState};
pub use rnn::{MelodyRnn, MelodyRnnConfig, RnnState};
pub use sampling::{Sampler, Sampling, SamplingError};
pub use source::{AnyModel, ModelSource};
pub use transformer::{KvCache, KvLayout, MotifTransformer, MotifTransformerConfig};
pub use weights::{ModelConfig, WeightsError};
