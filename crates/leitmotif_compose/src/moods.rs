//! Mood tables: named moods, the words a prompt may use for them, and the musical controls
//! each stands for. Stored as RON (`*.moods.ron`), editable by hand.

use std::collections::BTreeMap;

use leitmotif_score::Role;
use leitmotif_score::theory::Mode;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The default table shipped in `assets/moods/default.moods.ron`.
pub const DEFAULT_MOODS_RON: &str = include_str!("../../../assets/moods/default.moods.ron");

/// A table of moods by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoodTable {
    /// The moods.
    pub moods: BTreeMap<String, Mood>,
}

/// One mood's words and controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mood {
    /// Words that name this mood in a prompt (lowercase).
    #[serde(default)]
    pub words: Vec<String>,
    /// The mode the music takes.
    pub mode: Mode,
    /// Tempo in quarter notes per minute.
    pub tempo_bpm: f64,
    /// Note density, 0 (sparse) to 1 (busy).
    pub density: f64,
    /// Register, 0 (low) to 1 (high).
    pub register: f64,
    /// Intensity, 0 (calm) to 1 (full).
    pub intensity: f64,
    /// Layers that play.
    pub layers: Vec<Role>,
}

/// A mood table that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MoodError {
    /// Not valid RON, or not the table's shape.
    #[error("invalid mood table: {0}")]
    Syntax(String),
    /// A value out of range.
    #[error("mood {mood:?}: {reason}")]
    Value {
        /// The mood.
        mood: String,
        /// What is wrong.
        reason: String,
    },
}

impl MoodTable {
    /// Parses and checks a RON mood table.
    ///
    /// # Errors
    /// [`MoodError`] for RON errors, unknown fields, values outside their ranges, or a word
    /// claimed by two moods.
    pub fn from_ron(text: &str) -> Result<Self, MoodError> {
        let table: MoodTable = ron::from_str(text).map_err(|e| MoodError::Syntax(e.to_string()))?;
        table.validate()?;
        Ok(table)
    }

    /// The default table.
    ///
    /// # Errors
    /// Only if the shipped file is broken, which a test rules out.
    pub fn default_table() -> Result<Self, MoodError> {
        Self::from_ron(DEFAULT_MOODS_RON)
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), MoodError> {
        let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, mood) in &self.moods {
            let bad = |reason: String| MoodError::Value {
                mood: name.clone(),
                reason,
            };
            if !(20.0..=300.0).contains(&mood.tempo_bpm) {
                return Err(bad(format!(
                    "tempo {} bpm is outside 20..=300",
                    mood.tempo_bpm
                )));
            }
            for (what, value) in [
                ("density", mood.density),
                ("register", mood.register),
                ("intensity", mood.intensity),
            ] {
                if !(0.0..=1.0).contains(&value) {
                    return Err(bad(format!("{what} {value} is outside 0..=1")));
                }
            }
            if mood.layers.is_empty() {
                return Err(bad("no layers".to_owned()));
            }
            for word in &mood.words {
                if let Some(other) = owners.insert(word, name) {
                    return Err(bad(format!("the word {word:?} also names mood {other:?}")));
                }
            }
        }
        Ok(())
    }

    /// The mood a word names: a mood's own name or one of its words (case-insensitive).
    pub fn lookup(&self, word: &str) -> Option<(&str, &Mood)> {
        let word = word.to_lowercase();
        self.moods
            .iter()
            .find(|(name, mood)| **name == word || mood.words.contains(&word))
            .map(|(name, mood)| (name.as_str(), mood))
    }
}
