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
//! # Choosing sizes
//!
//! Measured with `cargo bench -p leitmotif_model --bench train_step` on the 2-core reference
//! machine (no GPU); the table in [`backend`] names the faster training backend. The presets
//! ([`MelodyRnnConfig::small`], [`MotifTransformerConfig::small`]) train on about 4 M tokens in
//! under an hour there and save under 8 MB of f32 weights.

pub mod backend;
pub mod error;
pub mod language_model;
pub mod lstm;
pub mod rnn;
pub mod sampling;
pub mod transformer;
pub mod weights;

pub use backend::{
    BackendChoice, CpuBackend, CpuDevice, FlexTrainBackend, GpuBackend, ResolvedBackend,
    TrainBackend, TrainDevice, probe_wgpu,
};
pub use error::ModelError;
pub use language_model::{LanguageModel, next_token_loss, token_tensor, train_step};
pub use lstm::{FusedLstm, FusedLstmConfig, LstmState};
pub use rnn::{MelodyRnn, MelodyRnnConfig, RnnState};
pub use sampling::{Sampler, Sampling, SamplingError};
pub use transformer::{KvCache, KvLayout, MotifTransformer, MotifTransformerConfig};
pub use weights::{ModelConfig, WeightsError};
