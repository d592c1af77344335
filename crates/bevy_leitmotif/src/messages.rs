//! Messages in (what the game tells the music) and out (what the music tells the game).

use std::path::PathBuf;

use bevy::asset::Handle;
use bevy::ecs::message::Message;
use leitmotif_compose::Transition;
use leitmotif_score::theory::{Chord, Scale};
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

/// Lock the harmony to a chord progression, one chord a bar (`Some`, e.g. from
/// `leitmotif_request::request::parse_chords("Am F C G")`), or let each state's mood choose
/// again (`None`). An empty progression is refused with a warning.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct LockChords(pub Option<Vec<Chord>>);

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
    /// The session tick of the beat line (480 per quarter note).
    pub tick: u64,
    /// Seconds after the frame's start at which the beat falls on the musical clock: the
    /// clock's time at `tick` minus its time when the frame's advance began, at least 0
    /// (the clock counts whole ticks, so a line crossed less than a tick before the frame
    /// began is reported in it at 0). At most the frame's musical time step. An audio layer
    /// or an animation can place the beat within the frame with it; every output message
    /// carries one.
    pub frame_offset: f64,
}

/// A bar line was crossed.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct BarTick {
    /// The bar that begins, from 1.
    pub bar: u32,
    /// The session tick of the bar line.
    pub tick: u64,
    /// Seconds after the frame's start at which the bar line falls.
    pub frame_offset: f64,
}

/// A phrase began to play (a repeat of the phrase playing too).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PhraseStarted {
    /// The state it belongs to.
    pub state: String,
    /// The bar it starts on, from 1.
    pub bar: u32,
    /// The session tick it starts on.
    pub tick: u64,
    /// Seconds after the frame's start at which it starts.
    pub frame_offset: f64,
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
    /// The session tick where it landed.
    pub tick: u64,
    /// Seconds after the frame's start at which it landed.
    pub frame_offset: f64,
}

/// A stinger (a [`FireStinger`]) began over the music, on its beat.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct StingerStarted {
    /// The name the game fired it with.
    pub name: String,
    /// The bar it starts in, from 1.
    pub bar: u32,
    /// The beat it starts on, from 1.
    pub beat: u32,
    /// The session tick it starts on.
    pub tick: u64,
    /// Seconds after the frame's start at which it starts.
    pub frame_offset: f64,
}

/// A phrase was due and had not been composed in time. The music playing goes on
/// (repeating if it runs out), and the phrase lands on the next boundary of its rule once
/// it arrives ([`PhraseStarted`] then says so).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PhraseLate {
    /// The game state it is for.
    pub state: String,
    /// The bar where it was due, from 1.
    pub bar: u32,
    /// The session tick where it was due.
    pub tick: u64,
    /// Seconds after the frame's start at which it was due.
    pub frame_offset: f64,
}

/// A phrase could not be composed (the model failed, or its music could not be used). The
/// music goes on; the director asks again for a first phrase or a state change, up to its
/// `max_retries`, and drops a failed stinger.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PhraseFailed {
    /// The game state (or stinger name) it was for.
    pub state: String,
    /// Why.
    pub message: String,
    /// The session tick when the failure was reported: the frame's start.
    pub tick: u64,
    /// Always 0: a failure is reported at the frame's start.
    pub frame_offset: f64,
}

/// An [`ExportSession`] finished (or failed, with the message naming why). The files are
/// written on Bevy's [`IoTaskPool`](bevy::tasks::IoTaskPool), so this arrives in a later
/// frame than the request (in the same frame with
/// [`LeitmotifPlugin::wait_for_phrases`](crate::LeitmotifPlugin::wait_for_phrases)).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct ExportDone {
    /// The folder asked for.
    pub dir: PathBuf,
    /// The files written.
    pub files: Vec<PathBuf>,
    /// The error, if the export failed (then nothing was written, or only whole files:
    /// each file is written atomically).
    pub error: Option<String>,
}

/// Play a [`Melody`](crate::Melody) asset (a composer's theme, a jingle) as a fixed cue:
/// on the boundary `transition` names, cutting what plays there; the generated music then
/// continues from it in the current game state. With `harmonize`, the playing mood's bass,
/// chords and drums that the melody lacks are written under it first, the melody kept note
/// for note ([`Director::harmonized`](leitmotif_director::Director::harmonized)). Waits for
/// the asset to load; a melody that fails to load, or that the director refuses (no notes,
/// a tempo or meter change), is reported as a warning and skipped.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PlayCue {
    /// The melody to play.
    pub melody: Handle<Melody>,
    /// Its name in markers, [`PhraseStarted`] messages and exports.
    pub name: String,
    /// Where it lands.
    pub transition: Transition,
    /// Whether the mood's accompaniment is written under it.
    pub harmonize: bool,
}

/// Make a [`Melody`](crate::Melody) asset the theme the next phrase continues and
/// develops, in place of the music playing (`None` forgets it). Waits for the asset to
/// load.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PrimeWith(pub Option<Handle<Melody>>);

/// Register a [`Melody`](crate::Melody) asset (any score: its melody track is the theme) as
/// the theme called `name`, replacing one of that name. Waits for the asset to load; a
/// melody that fails to load or is no theme (no pitched notes) is a warning and skipped.
/// A mood whose `theme` names it states it when the game enters that mood.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct RegisterTheme {
    /// The theme's name.
    pub name: String,
    /// The melody.
    pub melody: Handle<Melody>,
}

/// Call a registered theme: on the boundary `transition` names, the music states it in the
/// mood playing (its key and mode by scale degree, its tempo, meter and register, under its
/// layers), and the next phrases develop it. Handled after every [`RegisterTheme`] sent
/// before it; an unknown name is a warning.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct PlayTheme {
    /// The theme's name, as registered.
    pub name: String,
    /// Where the statement lands.
    pub transition: Transition,
}
