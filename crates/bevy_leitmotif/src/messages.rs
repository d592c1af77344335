//! Messages in (what the game tells the music) and out (what the music tells the game).

use std::path::PathBuf;

use bevy::asset::Handle;
use bevy::ecs::message::Message;
use leitmotif_compose::Transition;
use leitmotif_score::theory::Scale;
use leitmotif_score::time::Meter;

use crate::Melody;

/// Switch to a named game state ("explore", "combat", "boss", "victory", or any name the
/// mood table defines as a mood or one of its words). The change lands on the boundary
/// the state's transition rule names.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct SetGameState(pub String);

/// Set the music's intensity, 0 (calm) to 1 (full); the director smooths it, and layers
/// enter and leave as it crosses their entry intensities.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct SetIntensity(pub f64);

/// Play a stinger (a short phrase over the music) on the next beat, in a mood's style.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct FireStinger(pub String);

/// Lock the key (`Some`) or let each state choose again (`None`).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockKey(pub Option<Scale>);

/// Lock the tempo in quarter notes per minute (`Some`) or let each state choose (`None`).
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct LockTempo(pub Option<f64>);

/// Export every phrase so far and the whole session (.mid, .melody.json, .tone.json) to a
/// folder, with file names starting with `name` (both sanitized).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct ExportSession {
    /// The folder (created if missing).
    pub dir: PathBuf,
    /// The files' common name.
    pub name: String,
}

/// A beat line was crossed: what FMOD's beat callback gives.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct BeatTick {
    /// Bar number, from 1.
    pub bar: u32,
    /// Beat in the bar, from 1.
    pub beat: u32,
    /// Tempo in quarter notes per minute.
    pub bpm: f64,
    /// The meter.
    pub meter: Meter,
}

/// A bar line was crossed.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarTick {
    /// The bar that begins, from 1.
    pub bar: u32,
}

/// A phrase began to play.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct PhraseStarted {
    /// The state it belongs to.
    pub state: String,
    /// The bar it starts on, from 1.
    pub bar: u32,
}

/// A change of state has landed: the new state's music is playing.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct TransitionDone {
    /// The state before.
    pub from: String,
    /// The state now.
    pub to: String,
    /// The bar where it landed, from 1.
    pub bar: u32,
    /// How long to crossfade the old music into the new, in beats (the new state's
    /// `crossfade_beats` in the mood table; 0 for a cue): for the game's audio layer.
    pub crossfade_beats: f64,
}

/// An export finished (or failed, with the message naming why).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct ExportDone {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// The error, if the export failed.
    pub error: Option<String>,
}

/// Play a [`Melody`](crate::Melody) asset (a composer's theme, a jingle) as a fixed cue:
/// on the boundary `transition` names, cutting what plays there; the generated music then
/// continues from it in the current game state. Waits for the asset to load; a melody that
/// fails to load, or that the director refuses (no notes, a tempo or meter change), is
/// reported as a warning and skipped.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PlayCue {
    /// The melody to play.
    pub melody: Handle<Melody>,
    /// Its name in markers, [`PhraseStarted`] messages and exports.
    pub name: String,
    /// Where it lands.
    pub transition: Transition,
}

/// Make a [`Melody`](crate::Melody) asset the theme the next phrase continues and
/// develops, in place of the music playing (`None` forgets it). Waits for the asset to
/// load.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PrimeWith(pub Option<Handle<Melody>>);
