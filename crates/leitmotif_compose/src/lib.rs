//! Leitmotif's composer front end: text prompts and mood tables to musical controls.
//!
//! [`parse_prompt`] turns "tense dungeon chase in D minor, 150 bpm" into controls (key,
//! tempo, meter, bars, layers, instruments, moods) and reports every word it did not use;
//! [`MoodTable`] is the editable RON table of mood words behind it.

pub mod moods;
pub mod prompt;

pub use moods::{Mood, MoodError, MoodTable};
pub use prompt::{PromptControls, parse_prompt};
