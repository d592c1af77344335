//! Mood tables: named moods, the words a prompt may use for them, and the musical controls
//! each stands for. Stored as RON (`*.moods.ron`), editable by hand.

use std::collections::BTreeMap;

use leitmotif_score::Role;
use leitmotif_score::theory::{Chord, Mode, Scale};
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

use crate::form::Form;

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
    /// Where the key goes when the music enters this mood from a key of another mode
    /// (default: [`KeyRule::SameTonic`]).
    #[serde(default)]
    pub key: KeyRule,
    /// How the tempo gets from the music before to this mood's (default: a jump).
    #[serde(default)]
    pub tempo_change: TempoRule,
    /// How loosely it is played, 0 (the exact grid, the default) to 1: a seeded groove in
    /// timing and velocity (see `leitmotif_arrange::Feel`).
    #[serde(default)]
    pub humanize: f64,
    /// The theme this mood states when the music enters it (a name registered with the
    /// director: the boss's theme when the boss appears); `None`, the default: no theme.
    #[serde(default)]
    pub theme: Option<String>,
    /// The form the music walks while the game stays in this mood, one phrase a section:
    /// `form: "A A' B A''"` (see [`Form`]); `"A"` is through-composed (every phrase new
    /// music continuing the last). `None`, the default: [`Form::default`] (`A A' B A''`),
    /// with a theme the game or the mood states developed by its own plan first. A form
    /// written here with a [`theme`](Self::theme) makes the theme its A.
    #[serde(
        default,
        with = "crate::form::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub form: Option<Form>,
    /// The chord progression the melody and the arranger follow while the game is in this
    /// mood, one chord a bar, round again (`chords: "Am F C G"`, as `generate --chords`
    /// reads it). Empty, the default: the harmony is heard in the melody the model writes.
    #[serde(default, with = "progression", skip_serializing_if = "Vec::is_empty")]
    pub chords: Vec<Chord>,
}

/// A mood's `chords` in RON: one string of chord symbols, read by
/// [`parse_chords`](crate::request::parse_chords) (an unknown symbol is an error naming it).
mod progression {
    use leitmotif_score::theory::Chord;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Chord>, D::Error> {
        let text = String::deserialize(d)?;
        crate::request::parse_chords(&text).map_err(de::Error::custom)
    }

    pub(super) fn serialize<S: Serializer>(chords: &[Chord], s: S) -> Result<S::Ok, S::Error> {
        let text: Vec<String> = chords.iter().map(ToString::to_string).collect();
        s.serialize_str(&text.join(" "))
    }
}

/// Where the key goes when the music enters a mood whose mode differs from the key playing.
///
/// In RON: `key: same_tonic`, `key: relative`, `key: keep` or `key: fixed("E minor")`. The
/// older spellings still load: `key: Some("D minor")` is `fixed("D minor")` and
/// `key: None` is the default.
///
/// The default is [`SameTonic`](Self::SameTonic): a change of mode on the same tonic (E
/// major to E minor) changes the third and sixth the ear follows while the bass's home
/// note stays, so the new mood is heard at once and the seam still sounds like one piece.
/// The relative key (E major to C# minor) shares every note with the old one; over a
/// phrase or two it is easily heard (and estimated) as the old key, which is how a game
/// going from `explore` to `tense` once never heard minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyRule {
    /// The same tonic in the new mode (the parallel key: E major to E minor).
    #[default]
    SameTonic,
    /// The new mode's scale that shares the most notes with the key playing (the relative
    /// key: E major to C# minor, E mixolydian to F# minor).
    Relative,
    /// The key playing stays, whatever the mood's mode (the mode only shapes a session's
    /// first phrase).
    Keep,
    /// Always this key, from whatever key the music was in.
    Fixed(Scale),
}

/// [`KeyRule`] as written in RON, before the key is read.
#[derive(Deserialize)]
enum KeyRuleText {
    #[serde(rename = "same_tonic", alias = "None")]
    SameTonic,
    #[serde(rename = "relative")]
    Relative,
    #[serde(rename = "keep")]
    Keep,
    #[serde(rename = "fixed", alias = "Some")]
    Fixed(String),
}

/// A mood-table rule that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RuleError {
    /// `fixed(..)` names no key.
    #[error(
        "key rule fixed({text:?}): {reason} (a key is a tonic and a mode: \"D minor\", \"F# dorian\")"
    )]
    NotAKey {
        /// The text inside `fixed(..)`.
        text: String,
        /// Why it is no key.
        reason: String,
    },
    /// Not a rule at all.
    #[error(
        "{text:?} is not a key rule ({reason}); write same_tonic, relative, keep or fixed(\"E minor\")"
    )]
    Unreadable {
        /// The text given.
        text: String,
        /// What the reader found wrong.
        reason: String,
    },
}

impl std::str::FromStr for KeyRule {
    type Err = RuleError;

    /// Reads a rule as RON writes it: `same_tonic`, `relative`, `keep`, `fixed("E minor")`.
    fn from_str(s: &str) -> Result<Self, RuleError> {
        ron::from_str(s).map_err(|e| RuleError::Unreadable {
            text: s.to_owned(),
            reason: e.code.to_string(),
        })
    }
}

impl<'de> Deserialize<'de> for KeyRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match KeyRuleText::deserialize(deserializer)? {
            KeyRuleText::SameTonic => Self::SameTonic,
            KeyRuleText::Relative => Self::Relative,
            KeyRuleText::Keep => Self::Keep,
            KeyRuleText::Fixed(text) => Self::Fixed(text.parse().map_err(
                |e: leitmotif_score::theory::TheoryError| {
                    serde::de::Error::custom(RuleError::NotAKey {
                        text: text.clone(),
                        reason: e.to_string(),
                    })
                },
            )?),
        })
    }
}

impl Serialize for KeyRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::SameTonic => serializer.serialize_unit_variant("KeyRule", 0, "same_tonic"),
            Self::Relative => serializer.serialize_unit_variant("KeyRule", 1, "relative"),
            Self::Keep => serializer.serialize_unit_variant("KeyRule", 2, "keep"),
            Self::Fixed(scale) => {
                serializer.serialize_newtype_variant("KeyRule", 3, "fixed", &scale.to_string())
            }
        }
    }
}

impl KeyRule {
    /// The key of music in mode `mode` entered from music in `playing` (`None`: no music
    /// yet, so the key is the composer's choice unless the rule fixes one).
    ///
    /// A key already in `mode` stays (a continuation, or a change between moods of one
    /// mode), except under [`Fixed`](Self::Fixed).
    pub fn key_after(self, playing: Option<Scale>, mode: Mode) -> Option<Scale> {
        if let Self::Fixed(scale) = self {
            return Some(scale);
        }
        let playing = playing?;
        if playing.mode == mode {
            return Some(playing);
        }
        Some(match self {
            Self::SameTonic => Scale::new(playing.tonic, mode),
            Self::Relative => relative(playing, mode),
            Self::Keep | Self::Fixed(_) => playing,
        })
    }
}

/// The scale of `mode` sharing the most notes with `playing`; among equals, one whose
/// tonic is in `playing`, then the first going up from a minor third below `playing`'s
/// tonic (where a major key's relative minor stands).
fn relative(playing: Scale, mode: Mode) -> Scale {
    let old = playing.mask();
    (0..12)
        .map(|step| {
            let offset = (step + 9) % 12;
            Scale::new(playing.tonic.transpose(offset), mode)
        })
        .enumerate()
        .max_by_key(|(step, scale)| {
            let shared = scale
                .mask()
                .iter()
                .zip(&old)
                .filter(|(a, b)| **a && **b)
                .count();
            (shared, playing.contains(scale.tonic), 12 - step)
        })
        .map_or(playing, |(_, scale)| scale)
}

/// How the tempo gets from the music before a mood's to the mood's own.
///
/// In RON: `tempo_change: jump` (the default) or `tempo_change: ramp(4)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TempoRule {
    /// The new tempo from the boundary on.
    #[default]
    Jump,
    /// The tempo moves beat by beat over this many beats from the boundary, in equal
    /// steps, and holds the new tempo from the beat after (1..=64).
    Ramp(u32),
}

impl TempoRule {
    /// The tempo of beat `beat` (0-based, from the boundary) going from `from` to `to` bpm.
    pub fn bpm_at(self, beat: u32, from: f64, to: f64) -> f64 {
        match self {
            Self::Ramp(beats) if beat < beats => {
                from + (to - from) * f64::from(beat + 1) / f64::from(beats + 1)
            }
            _ => to,
        }
    }
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
    /// The form the music walks in this mood: its own, else [`Form::default`].
    pub fn form_or_default(&self) -> Form {
        self.form.clone().unwrap_or_default()
    }

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
    /// A rule whose value cannot be read (a mood's `key: fixed(..)` that names no key),
    /// where it stands in the text.
    #[error("invalid mood table at {line}:{column}: {reason}")]
    Rule {
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What is wrong (a [`RuleError`]'s message).
        reason: String,
    },
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
        let table: MoodTable = ron::from_str(text).map_err(|e| match e.code {
            // Only the rules' own readers raise free-form messages in a mood table.
            ron::Error::Message(reason) => MoodError::Rule {
                line: e.span.start.line,
                column: e.span.start.col,
                reason,
            },
            _ => MoodError::Syntax(e.to_string()),
        })?;
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
            if let TempoRule::Ramp(beats) = mood.tempo_change
                && !(1..=64).contains(&beats)
            {
                return Err(bad(format!(
                    "tempo_change: ramp({beats}) is outside ramp(1)..=ramp(64) beats"
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
        assert_eq!(combat.layers_at(0.45), [Role::Melody, Role::Bass]);
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

    fn scale(text: &str) -> Scale {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// A one-mood table whose `calm` mood ends with `extra`.
    fn table_with(extra: &str) -> Result<MoodTable, MoodError> {
        MoodTable::from_ron(&format!(
            "(moods: {{\"calm\": (mode: natural_minor, tempo_bpm: 90, density: 0.5, \
             register: 0.5, intensity: 0.5, layers: [melody]{extra})}})"
        ))
    }

    #[test]
    fn a_mood_names_its_chords_and_a_wrong_symbol_is_named() {
        let table = table_with(", chords: \"Am F | C G7\"").unwrap_or_else(|e| panic!("{e}"));
        let chords: Vec<String> = table.moods["calm"]
            .chords
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(chords, ["Am", "F", "C", "G7"]);
        let text = ron::to_string(&table).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.contains("chords:\"Am F C G7\""), "{text}");
        assert_eq!(MoodTable::from_ron(&text).ok(), Some(table));
        assert!(table_with("").is_ok_and(|t| t.moods["calm"].chords.is_empty()));
        for (extra, needle) in [
            (", chords: \"Am Fx C\"", "Fx"),
            (", chords: \"\"", "no chords"),
            (", chords: [\"Am\"]", "string"),
        ] {
            let e = table_with(extra)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(needle), "{extra}: {e}");
        }
    }

    #[test]
    fn key_and_tempo_rules_read_old_and_new_spellings() {
        for (extra, key) in [
            ("", KeyRule::SameTonic),
            (", key: same_tonic", KeyRule::SameTonic),
            (", key: relative", KeyRule::Relative),
            (", key: keep", KeyRule::Keep),
            (
                ", key: fixed(\"E minor\")",
                KeyRule::Fixed(scale("E minor")),
            ),
            (", key: Some(\"D minor\")", KeyRule::Fixed(scale("D minor"))),
            (", key: None", KeyRule::SameTonic),
        ] {
            let table = table_with(extra).unwrap_or_else(|e| panic!("{extra}: {e}"));
            assert_eq!(table.moods["calm"].key, key, "{extra}");
            assert_eq!(table.moods["calm"].tempo_change, TempoRule::Jump);
        }
        let table = table_with(", tempo_change: ramp(4)").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(table.moods["calm"].tempo_change, TempoRule::Ramp(4));
        // What is written reads back the same.
        let text = ron::to_string(&table).unwrap_or_else(|e| panic!("{e}"));
        let again = MoodTable::from_ron(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(again, table);
        let fixed = table_with(", key: fixed(\"F# dorian\")").unwrap_or_else(|e| panic!("{e}"));
        let text = ron::to_string(&fixed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(MoodTable::from_ron(&text).ok(), Some(fixed));
        assert_eq!("relative".parse::<KeyRule>(), Ok(KeyRule::Relative));
        assert!(matches!(
            "sideways".parse::<KeyRule>(),
            Err(RuleError::Unreadable { .. })
        ));
    }

    #[test]
    fn malformed_rules_are_refused_by_name() {
        let e = table_with(", key: fixed(\"E minurr\")").err();
        assert!(
            matches!(&e, Some(MoodError::Rule { line: 1, reason, .. }) if reason.contains("\"E minurr\"")),
            "{e:?}"
        );
        for (extra, needle) in [
            (", key: sideways", "sideways"),
            (", key: fixed(4)", "Expected string"),
            (", tempo_change: ramp(0)", "ramp(0)"),
            (", tempo_change: ramp(65)", "ramp(65)"),
            (", tempo_change: glide", "glide"),
        ] {
            let e = table_with(extra)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(needle), "{extra}: {e}");
        }
    }

    #[test]
    fn key_rules_move_the_key_into_the_new_mode() {
        let e_major = Some(scale("E major"));
        let minor = Mode::NaturalMinor;
        assert_eq!(
            KeyRule::SameTonic.key_after(e_major, minor),
            Some(scale("E minor"))
        );
        assert_eq!(
            KeyRule::Relative.key_after(e_major, minor),
            Some(scale("C# minor"))
        );
        assert_eq!(
            KeyRule::Relative.key_after(Some(scale("E mixolydian")), minor),
            Some(scale("F# minor"))
        );
        assert_eq!(
            KeyRule::Relative.key_after(Some(scale("A minor")), Mode::Major),
            Some(scale("C major"))
        );
        assert_eq!(KeyRule::Keep.key_after(e_major, minor), e_major);
        let fixed = KeyRule::Fixed(scale("D dorian"));
        assert_eq!(fixed.key_after(e_major, minor), Some(scale("D dorian")));
        assert_eq!(fixed.key_after(None, minor), Some(scale("D dorian")));
        // Music already in the mode keeps its key; no music leaves the choice open.
        assert_eq!(
            KeyRule::SameTonic.key_after(Some(scale("G minor")), minor),
            Some(scale("G minor"))
        );
        assert_eq!(KeyRule::Relative.key_after(None, minor), None);
    }

    #[test]
    fn a_ramp_steps_evenly_to_the_new_tempo() {
        let ramp = TempoRule::Ramp(3);
        let steps: Vec<f64> = (0..5).map(|b| ramp.bpm_at(b, 100.0, 140.0)).collect();
        assert_eq!(steps, [110.0, 120.0, 130.0, 140.0, 140.0]);
        assert!((TempoRule::Jump.bpm_at(0, 100.0, 140.0) - 140.0).abs() < 1e-12);
    }
}
