//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong when loading a SoundFont, building an engine or writing audio.
///
/// Every message names the file or the parameter at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A SoundFont that is missing, unreadable, truncated or not a SoundFont 2 file.
    #[error("cannot use SoundFont {}: {reason}", path.display())]
    SoundFont {
        /// The file (or the name given to [`crate::SoundFont::from_bytes`]).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A WAV file that could not be written (nothing is left behind).
    #[error("cannot write WAV file {}: {reason}", path.display())]
    Wav {
        /// The file that was to be written.
        path: PathBuf,
        /// Why it could not be.
        reason: String,
    },
    /// An absurd parameter (sample rate 0 or above 384 000, bus out of range, zero buses...).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The parameter at fault.
        what: &'static str,
        /// Why its value cannot be used.
        reason: String,
    },
}
