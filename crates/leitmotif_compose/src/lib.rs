//! Leitmotif's composer: controllable generation under hard constraints.
//!
//! A [`Request`] says what to write — a new phrase, a continuation of a primer, or an
//! infill of some bars (or one layer) of a score — with its key, tempo, meter, bar count,
//! per-bar density, register and intensity, layers, loop, sampling and seed. A [`Composer`]
//! (a model on a backend) writes it: the model writes the melody (and any layer it was
//! trained for) token by token while the grammar and the request's hard constraints mask
//! its choices, and the arranger writes the other layers from the melody's harmony.
//!
//! ```no_run
//! use leitmotif_compose::{Composer, MoodTable, Request};
//! use leitmotif_model::{BackendChoice, ModelSource};
//!
//! let moods = MoodTable::default_table()?;
//! let (mut request, parsed) = Request::from_prompt("tense dungeon chase in D minor, 150 bpm", &moods);
//! assert!(parsed.unused.is_empty());
//! request.seed = 7;
//! let composer = Composer::load(&ModelSource::DefaultTransformer, BackendChoice::Cpu)?;
//! let phrase = composer.compose(&request)?;
//! assert!(phrase.violations().is_empty());
//! phrase.write(std::path::Path::new("chase"))?; // chase.mid, chase.melody.json, chase.tone.json
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Hard constraints hold by construction (see the `engine` module's docs): every output
//! decodes to a valid score with the exact bars and meter asked for; a locked key masks
//! out-of-scale pitches (a minor key allows natural minor plus the raised 6th and 7th;
//! drums are exempt); every layer stays in its pitch range; melody and bass never overlap
//! themselves. [`Composition::violations`] checks all of them again on the finished score.
//!
//! [`parse_prompt`] turns "tense dungeon chase in D minor, 150 bpm" into controls and
//! reports every word it did not use; [`MoodTable`] is the editable RON table of mood words
//! behind it.

pub mod adherence;
mod assemble;
mod bars;
mod composer;
mod drafts;
mod engine;
mod error;
#[cfg(feature = "wgpu")]
mod gpu;
pub mod listening;
pub mod ngram;
mod plan;
pub mod realism;
mod session;

// Requests, moods, prompts and compositions live in `leitmotif_request` (no models, so the
// director builds without burn); re-exported here so one import serves a composer's user.
pub use leitmotif_request::{composition, harmonize, moods, prompt, request, theme};

pub use bars::{BarPlan, sample_bars};
pub use composer::{Composer, MODEL_LAYER_SHARE};
pub use error::ComposeError;
#[cfg(feature = "wgpu")]
pub use gpu::GpuDecodeStats;
pub use leitmotif_request::{
    Composition, Curve, KeyRule, LayerRanges, LayerReport, Mood, MoodError, MoodTable,
    PromptControls, Request, RequestError, SamplingSettings, Source, Task, TempoRule, Transition,
    parse_prompt,
};
