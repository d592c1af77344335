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
//! Measured with `cargo bench -p leitmotif_model --bench train_step` (release, fastest of 3
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
//! Hence [`TrainBackend`] is `Autodiff<Flex>`, and the presets [`MelodyRnnConfig::small`],
//! [`MelodyRnnConfig::medium`], [`MotifTransformerConfig::small`] and
//! [`MotifTransformerConfig::medium`] all train on 3–5 M tokens in under an hour and save under
//! 8 MB. Cached decoding on Flex (prompt of 32, then single steps, greedy with a read-back per
//! step): `MelodyRnn` small ~7,800 tokens/s for one sequence, ~11,600 for four;
//! `MotifTransformer` small ~4,000 and ~7,000 with [`KvLayout::Concat`] (the default; see
//! [`KvLayout`] for why not preallocated).

pub mod backend;
pub mod error;
pub mod language_model;
pub mod lstm;
pub mod rnn;
pub mod sampling;
pub mod transformer;
pub mod weights;

pub use backend::{
    BackendChoice, CpuBackend, CpuDevice, GpuBackend, GpuTrainBackend, ResolvedBackend, SharedWgpu,
    TrainBackend, TrainDevice, probe_wgpu,
};
pub use error::ModelError;
pub use language_model::{LanguageModel, next_token_loss, token_tensor, train_step};
pub use lstm::{FusedLstm, FusedLstmConfig, LstmState};
pub use rnn::{MelodyRnn, MelodyRnnConfig, RnnState};
pub use sampling::{Sampler, Sampling, SamplingError};
pub use transformer::{KvCache, KvLayout, MotifTransformer, MotifTransformerConfig};
pub use weights::{ModelConfig, WeightsError};
