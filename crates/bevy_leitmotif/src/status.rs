//! What the game can know about the music's health: whether the model loaded, which mood
//! table is in force, whether sound plays. A resource to read at any time, and a message
//! on every change, so a game can show "music unavailable" instead of a log line nobody
//! reads.

use bevy::ecs::message::Message;
use bevy::prelude::Resource;

/// The plugin's health: model, director, mood table and audio output. Read it any time;
/// every change is also sent as [`LeitmotifStatusChanged`].
#[derive(Resource, Debug, Clone, PartialEq, Eq, Default)]
pub struct LeitmotifStatus {
    /// The model that composes the phrases.
    pub model: ModelStatus,
    /// The director (the musical clock and its settings).
    pub director: DirectorStatus,
    /// The mood table the director follows.
    pub moods: MoodsStatus,
    /// Sound through the audio device.
    pub audio: AudioStatus,
}

impl LeitmotifStatus {
    /// Whether music is being composed: the model is ready and the director runs.
    pub fn is_composing(&self) -> bool {
        matches!(self.model, ModelStatus::Ready { .. })
            && matches!(self.director, DirectorStatus::Running)
    }
}

/// Where the model stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ModelStatus {
    /// Not loaded yet (the plugin loads it when the app finishes building, or, with Bevy's
    /// render device, in `cleanup`).
    #[default]
    Loading,
    /// Loaded: phrases are composed.
    Ready {
        /// The model's identifier (name and weights hash).
        model: String,
        /// Where it runs, as the composer names the backend.
        backend: String,
    },
    /// The model could not be loaded (a missing or broken weights file, no device): the
    /// game runs on without music.
    Failed {
        /// Why, naming the file or device.
        message: String,
    },
}

/// Where the director stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DirectorStatus {
    /// Not built yet (before the app finishes building).
    #[default]
    Starting,
    /// The musical clock runs.
    Running,
    /// The director's settings were refused (or the embedded mood table is broken): there
    /// is no [`MusicDirector`](crate::MusicDirector) and no music.
    Failed {
        /// Why.
        message: String,
    },
}

/// Which mood table the director follows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MoodsStatus {
    /// The embedded default table (no table asset named, or it has not loaded yet).
    #[default]
    Default,
    /// A table asset loaded (or edited and reloaded) and is in force.
    Loaded {
        /// Its asset path (`None` for a table the game added to `Assets<Moods>` itself).
        path: Option<String>,
    },
    /// A table asset failed to load or was refused by the director. The table in force
    /// before (the embedded default, or the last good load) stays in force.
    Failed {
        /// Its asset path, when it has one.
        path: Option<String>,
        /// Why (the file, line and reason for a parse error).
        message: String,
    },
}

/// Sound through the audio device. Set by the plugin's playback: [`AudioStatus::Off`] when
/// it is not in use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AudioStatus {
    /// No sound is played (playback not enabled, or not started yet).
    #[default]
    Off,
    /// The music plays through the audio device.
    Playing,
    /// There is no usable audio device: the game runs on silently and the musical clock
    /// follows frame time.
    NoDevice {
        /// Why, as the audio backend said.
        message: String,
    },
}

/// The [`LeitmotifStatus`] changed (sent once in the first frame too, with the status
/// then). Carries the whole new status.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct LeitmotifStatusChanged(pub LeitmotifStatus);
