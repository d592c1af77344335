//! Leitmotif's sequence models, written with burn 0.21: a melody LSTM ([`MelodyRnn`]) and a
//! small decoder-only transformer ([`MotifTransformer`]) over event-token ids, with cached
//! decoding, seeded sampling, training steps and weights I/O.
//!
//! ```
//! use leitmotif_model::{
//!     CpuBackend, KvCache, MotifTransformerConfig, Sampler, Sampling, token_tensor,
//! };
//! use burn::tensor::{Int, Tensor};
//!
//! let device = Default::default();
//! let model = MotifTransformerConfig::tiny(40).init::<CpuBackend>(&device);
//!
//! // Prefill a prompt once, then decode one token per step; the cache lives outside the model.
//! let mut cache = KvCache::new();
//! let prompt = token_tensor::<CpuBackend, _>(&[[1, 5, 9]], 40, &device)?;
//! let mut logits = model.prefill(prompt, &mut cache)?;
//! let mut sampler = Sampler::new(Sampling::TopK { k: 8, temperature: 0.9 }, 42);
//! let mut melody = Vec::new();
//! for _ in 0..8 {
//!     let row: Vec<f32> = logits.into_data().to_vec().expect("f32 logits");
//!     let token = sampler.sample(&row, None)?;
//!     melody.push(token);
//!     let next = Tensor::<CpuBackend, 1, Int>::from_ints([token as i32], &device);
//!     logits = model.step(next, &mut cache)?;
//! }
//! assert_eq!(cache.len(), 3 + 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Inference only
//!
//! This crate runs models; it never builds burn's autodiff. Training (the optimiser step,
//! the training backends and the loop) lives in `leitmotif_train`, which depends on this
//! crate. burn's `wgpu` backend is behind the default-on `wgpu` feature; without it only the
//! CPU backend ([`CpuBackend`], burn's Flex) is built and [`BackendChoice::Wgpu`] is an
//! error that says so.
//!
//! [`ModelSource`] names a model (the embedded defaults or a weights file) and
//! [`AnyModel::load`] loads it; a config that cannot work (a head count that does not
//! divide the width, a zero size) is a typed [`WeightsError`], never a panic.

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

pub use backend::{BackendChoice, CpuBackend, CpuDevice, ResolvedBackend, probe_wgpu};
#[cfg(feature = "wgpu")]
pub use backend::{GpuBackend, SharedWgpu};
pub use decode::{BurnDecoder, TokenDecoder};
pub use error::ModelError;
pub use host::{HostCache, HostTransformer};
pub use language_model::{LanguageModel, next_token_loss, token_tensor};
pub use lstm::{FusedLstm, FusedLstmConfig, LstmState};
pub use rnn::{MelodyRnn, MelodyRnnConfig, RnnState};
pub use sampling::{Sampler, Sampling, SamplingError};
pub use source::{AnyModel, ModelSource};
pub use transformer::{KvCache, KvLayout, MotifTransformer, MotifTransformerConfig};
pub use weights::{ModelConfig, WeightsError};
