//! What the director can fail with.

use std::path::PathBuf;

use thiserror::Error;

/// Anything the director refuses or cannot do. Every message names the problem.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DirectorError {
    /// A game state that no mood of the table names (neither a mood's name nor one of its
    /// words).
    #[error(
        "unknown game state {name:?}: no mood is called that or has it as a word (moods: {known})"
    )]
    UnknownState {
        /// The name the game used.
        name: String,
        /// The table's mood names, comma-separated.
        known: String,
    },
    /// A setting or lock outside its range (a tempo of 0, a meter the models do not know).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The setting.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A delivered composition that cannot be placed (no bars written, a tempo of 0...).
    /// The job counts as failed.
    #[error("phrase {id} cannot be used: {reason}")]
    InvalidPhrase {
        /// The job's id.
        id: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An action that needs music playing, asked for before the first phrase arrived.
    #[error("no music is playing yet: deliver the first phrase before asking for {0}")]
    NotStarted(&'static str),
    /// A theme that is not registered, or cannot be read or stated.
    #[error(transparent)]
    Theme(#[from] leitmotif_request::theme::ThemeError),
    /// A mood table that does not validate.
    #[error(transparent)]
    Mood(#[from] leitmotif_request::MoodError),
    /// A score that cannot be encoded or a file that cannot be written.
    #[error(transparent)]
    File(#[from] leitmotif_score::Error),
    /// The export folder cannot be created.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
