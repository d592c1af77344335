//! What the player can fail with.

use thiserror::Error;

/// Anything the player refuses or cannot do. Every message names the problem.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlayerError {
    /// A setting outside its range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The setting.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The voice engine could not be built (a sample rate it cannot play, a SoundFont
    /// preset it cannot load).
    #[error(transparent)]
    Synth(#[from] leitmotif_synth::SynthError),
    /// No audio device could be opened (none there, or the driver refused the stream).
    #[error("no audio output: {0}")]
    Device(String),
    /// kira refused to play the music (its sound capacity is full).
    #[error("kira cannot play the music: {0}")]
    Kira(String),
}
