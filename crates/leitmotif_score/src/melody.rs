//! The project's own asset format, `*.melody.json` (and `*.melody.ron`): a whole [`Score`]
//! plus the generation metadata needed to make it again.
//!
//! ```json
//! {
//!   "format": "leitmotif/1",
//!   "score": { "name": "", "ppq": 480, "end_tick": 1920, "tempos": [], "time_signatures": [],
//!              "key_signatures": [], "markers": [], "tracks": [] },
//!   "generation": { "model": "melody-rnn", "seed": 7, "controls": { "key": "D minor" } }
//! }
//! ```
//!
//! Unknown fields and other `format` versions are errors, not silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DocumentError;
use crate::score::Score;

/// The `format` string this version writes and reads.
pub const MELODY_FORMAT: &str = "leitmotif/1";

/// A `.melody.json` / `.melody.ron` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MelodyDocument {
    /// Always [`MELODY_FORMAT`].
    pub format: String,
    /// The music.
    pub score: Score,
    /// How the music was generated, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<Generation>,
}

/// What reproduces a generated phrase: the model, the seed and the controls asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    /// The model's identifier (name and weights hash).
    pub model: String,
    /// The sampling seed.
    pub seed: u64,
    /// The controls, by name (key, tempo, meter, bars, per-bar intensity...).
    #[serde(default)]
    pub controls: BTreeMap<String, ControlValue>,
}

/// One control's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ControlValue {
    /// A switch, e.g. `loop`.
    Bool(bool),
    /// A number, e.g. a tempo.
    Number(f64),
    /// Text, e.g. a key name.
    Text(String),
    /// A series, e.g. intensity per bar.
    Numbers(Vec<f64>),
}

impl MelodyDocument {
    /// A document holding `score` with no generation metadata.
    pub fn new(score: Score) -> Self {
        Self {
            format: MELODY_FORMAT.to_owned(),
            score,
            generation: None,
        }
    }

    /// Parses a `.melody.json` document and checks its version and score.
    ///
    /// # Errors
    /// [`DocumentError`] for malformed JSON, unknown or missing fields, another `format`
    /// version, or a score that breaks [`Score::validate`].
    pub fn from_json(text: &str) -> Result<Self, DocumentError> {
        check_version_json(text)?;
        let doc: Self = serde_json::from_str(text).map_err(|e| DocumentError::Syntax {
            format: "melody JSON",
            message: e.to_string(),
        })?;
        doc.checked()
    }

    /// Parses a `.melody.ron` document and checks its version and score.
    ///
    /// # Errors
    /// As [`MelodyDocument::from_json`], for RON.
    pub fn from_ron(text: &str) -> Result<Self, DocumentError> {
        let doc: Self = ron::from_str(text).map_err(|e| DocumentError::Syntax {
            format: "melody RON",
            message: e.to_string(),
        })?;
        doc.checked()
    }

    /// The document as pretty-printed JSON.
    ///
    /// # Errors
    /// [`DocumentError::InvalidScore`] if the score is not valid.
    pub fn to_json(&self) -> Result<String, DocumentError> {
        self.score.validate()?;
        serde_json::to_string_pretty(self).map_err(|e| DocumentError::Value(e.to_string()))
    }

    /// The document as pretty-printed RON.
    ///
    /// # Errors
    /// [`DocumentError::InvalidScore`] if the score is not valid.
    pub fn to_ron(&self) -> Result<String, DocumentError> {
        self.score.validate()?;
        let config = ron::ser::PrettyConfig::default();
        ron::ser::to_string_pretty(self, config).map_err(|e| DocumentError::Value(e.to_string()))
    }

    fn checked(self) -> Result<Self, DocumentError> {
        if self.format != MELODY_FORMAT {
            return Err(DocumentError::UnsupportedVersion {
                found: self.format,
                expected: MELODY_FORMAT,
            });
        }
        if let Some(generation) = &self.generation {
            for (name, value) in &generation.controls {
                let finite = match value {
                    ControlValue::Number(x) => x.is_finite(),
                    ControlValue::Numbers(xs) => xs.iter().all(|x| x.is_finite()),
                    ControlValue::Bool(_) | ControlValue::Text(_) => true,
                };
                if !finite {
                    return Err(DocumentError::Value(format!(
                        "control {name:?} is not a finite number"
                    )));
                }
            }
        }
        self.score.validate()?;
        Ok(self)
    }
}

/// Reports a wrong version before field errors, which a newer version would make likely.
fn check_version_json(text: &str) -> Result<(), DocumentError> {
    #[derive(Deserialize)]
    struct Version {
        format: Option<String>,
    }
    if let Ok(Version {
        format: Some(found),
    }) = serde_json::from_str::<Version>(text)
        && found != MELODY_FORMAT
    {
        return Err(DocumentError::UnsupportedVersion {
            found,
            expected: MELODY_FORMAT,
        });
    }
    Ok(())
}
