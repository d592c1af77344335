//! What Leitmotif's composer is asked for and what it gives back, with no model attached.
//!
//! - [`Request`]: a new phrase, a continuation or an infill, with its key, tempo, meter, bar
//!   count, per-bar controls ([`Curve`]), layers, ranges, sampling and seed;
//! - [`MoodTable`] / [`Mood`]: the editable RON table of game moods and the words of text
//!   prompts, with each mood's [`Transition`], [`KeyRule`] and [`TempoRule`];
//! - [`parse_prompt`]: "tense dungeon chase in D minor, 150 bpm" to controls, reporting every
//!   word it did not use;
//! - [`Composition`]: a finished phrase with everything that reproduces it;
//! - [`theme`]: leitmotifs, a theme stated in the mood playing, developed, and recalled;
//! - [`harmonize`]: bass, chords and drums under a given melody, kept note for note;
//! - [`form`]: the plan of sections (`A A' B A''`) a mood's music walks while it lasts, and
//!   [`similarity`]: how often a melody's bar groups return later, exactly or varied.
//!
//! The composer (`leitmotif_compose`) turns requests into compositions with a model; the
//! director (`leitmotif_director`) builds requests from game state and places compositions
//! on the game's clock with this crate alone, so neither a game's logic nor its tests build
//! the models.
//!
//! ```
//! use leitmotif_request::{MoodTable, Request};
//!
//! let moods = MoodTable::default_table()?;
//! let (request, parsed) = Request::from_prompt("tense dungeon chase in D minor, 150 bpm", &moods);
//! assert!(parsed.unused.is_empty());
//! request.validate()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod composition;
mod error;
pub mod form;
pub mod harmonize;
pub mod moods;
pub mod prompt;
pub mod request;
pub mod similarity;
pub mod theme;

pub use composition::{Composition, LayerReport, Source};
pub use error::RequestError;
pub use form::{Form, FormError};
pub use moods::{KeyRule, Mood, MoodError, MoodTable, RuleError, TempoRule, Transition};
pub use prompt::{PromptControls, parse_prompt};
pub use request::{Curve, LayerRanges, Request, SamplingSettings, Task};
