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
    /// The intensity (0..=1) at which a layer enters; layers not named enter at 0.
    #[serde(default)]
    pub enter: BTreeMap<Role, f64>,
    /// When a game switching to this mood hears it begin.
    #[serde(default)]
    pub transition: Transition,
    /// How long the old music fades under the new, in beats (0: a cut on the boundary).
    #[serde(default)]
    pub crossfade_beats: f64,
    /// A fixed key ("D minor"), or none to keep the music's key (or pick one in `mode`).
    #[serde(default)]
    pub key: Option<String>,
    /// How loosely it is played, 0 (the exact grid, the default) to 1: a seeded groove in
    /// timing and velocity (see `leitmotif_arrange::Feel`).
    #[serde(default)]
    pub humanize: f64,
}

/// When a change of mood lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// At once.
    Immediate,
    /// On the next beat.
    NextBeat,
    /// On the next bar line.
    #[default]
    NextBar,
    /// On the bar line that starts the next group of this many bars (counted from bar 1).
    Bars(u32),
}

impl Mood {
    /// The layers that play at `intensity`: those of [`layers`](Self::layers) whose entry
    /// intensity has been reached (the melody always plays).
    pub fn layers_at(&self, intensity: f64) -> Vec<Role> {
        self.layers
            .iter()
            .copied()
            .filter(|role| {
                *role == Role::Melody || self.enter.get(role).is_none_or(|at| intensity >= *at)
            })
            .collect()
    }
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
                ("humanize", mood.humanize),
            ] {
                if !(0.0..=1.0).contains(&value) {
                    return Err(bad(format!("{what} {value} is outside 0..=1")));
                }
            }
            if mood.layers.is_empty() {
                return Err(bad("no layers".to_owned()));
            }
            if let Some((role, at)) = mood.enter.iter().find(|(_, at)| !(0.0..=1.0).contains(*at)) {
                return Err(bad(format!(
                    "{} enters at {at}, outside 0..=1",
                    role.as_str()
                )));
            }
            if !(mood.crossfade_beats.is_finite() && (0.0..=64.0).contains(&mood.crossfade_beats)) {
                return Err(bad(format!(
                    "crossfade of {} beats is outside 0..=64",
                    mood.crossfade_beats
                )));
            }
            if mood.transition == Transition::Bars(0) {
                return Err(bad("a transition every 0 bars never lands".to_owned()));
            }
            if let Some(key) = &mood.key
                && key.parse::<leitmotif_score::theory::Scale>().is_err()
            {
                return Err(bad(format!(
                    "key {key:?} is not a key (\"D minor\", \"F# dorian\")"
                )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_enter_with_intensity_and_transitions_parse() {
        let table = MoodTable::default_table().unwrap_or_else(|e| panic!("{e}"));
        let (name, combat) = table
            .lookup("combat")
            .unwrap_or_else(|| panic!("no combat"));
        assert_eq!(name, "exciting");
        assert_eq!(combat.transition, Transition::NextBeat);
        assert_eq!(combat.layers_at(0.1), [Role::Melody]);
        assert_eq!(
            combat.layers_at(0.45),
            [Role::Melody, Role::Bass, Role::Chords]
        );
        assert_eq!(combat.layers_at(0.9).len(), 4);
        let calm = &table.moods["calm"];
        assert_eq!(calm.transition, Transition::Bars(2));
        assert!((calm.crossfade_beats - 4.0).abs() < 1e-9);
        for (from, to, needle) in [
            (
                "enter: {bass: 0.4}",
                "enter: {bass: 1.4}",
                "bass enters at 1.4",
            ),
            (
                "transition: bars(2),\n            crossfade_beats: 4",
                "transition: bars(0),\n            crossfade_beats: 4",
                "every 0 bars",
            ),
            (
                "crossfade_beats: 4",
                "crossfade_beats: -1",
                "crossfade of -1",
            ),
            (
                "transition: next_beat",
                "transition: next_century",
                "next_century",
            ),
        ] {
            let text = DEFAULT_MOODS_RON.replacen(from, to, 1);
            assert_ne!(text, DEFAULT_MOODS_RON, "{from}");
            let e = MoodTable::from_ron(&text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
