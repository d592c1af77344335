//! What the director reports: events as time advances, and phrases on the timeline.

use leitmotif_score::theory::{Chord, Scale};
use leitmotif_score::time::Meter;
use leitmotif_tokens::Layer;

/// Something that happened in the music, reported by [`Director::advance`](crate::Director::advance). Events at one
/// tick come in this order: `PhraseLate`, `TransitionDone`, `PhraseStarted`,
/// `StingerStarted`, `Bar`, `Beat`.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectorEvent {
    /// A beat line (one denominator unit of the meter) was crossed.
    Beat {
        /// Bar, from 1.
        bar: u64,
        /// Beat in the bar, from 1.
        beat: u32,
        /// Tempo in quarter notes per minute.
        bpm: f64,
        /// The meter.
        meter: Meter,
        /// The session tick.
        tick: u64,
    },
    /// A bar line was crossed.
    Bar {
        /// Bar, from 1.
        bar: u64,
        /// The session tick.
        tick: u64,
    },
    /// A phrase began (a repeat of a phrase too).
    PhraseStarted {
        /// Its game state.
        state: String,
        /// Bar, from 1.
        bar: u64,
        /// Its job's id.
        id: u64,
        /// 0 for its first play, then 1, 2... for each repeat.
        repeat: u32,
        /// The session tick.
        tick: u64,
    },
    /// The music of a new game state began.
    TransitionDone {
        /// The state before.
        from: String,
        /// The state now.
        to: String,
        /// Bar, from 1.
        bar: u64,
        /// The session tick.
        tick: u64,
        /// How long an audio layer should crossfade the old music into the new, in beats:
        /// the new state's mood's `crossfade_beats` (0 for a cue).
        crossfade_beats: f64,
    },
    /// A phrase was due and not delivered: the music playing goes on (repeating if it runs
    /// out), and the phrase lands on the next boundary of its rule once delivered.
    PhraseLate {
        /// The game state it is for.
        state: String,
        /// Bar, from 1.
        bar: u64,
        /// Its job's id.
        id: u64,
        /// The session tick.
        tick: u64,
    },
    /// A stinger began.
    StingerStarted {
        /// The name the game gave it.
        name: String,
        /// Bar, from 1.
        bar: u64,
        /// Beat, from 1.
        beat: u32,
        /// Its job's id.
        id: u64,
        /// The session tick.
        tick: u64,
    },
    /// The host reported a job failed ([`Director::fail`](crate::Director::fail) or an unusable delivery).
    PhraseFailed {
        /// The game state it was for.
        state: String,
        /// Its job's id.
        id: u64,
        /// Why.
        message: String,
    },
}

impl DirectorEvent {
    /// The session tick it happens on (`None` for a failure, which has none).
    pub fn tick(&self) -> Option<u64> {
        match self {
            DirectorEvent::Beat { tick, .. }
            | DirectorEvent::Bar { tick, .. }
            | DirectorEvent::PhraseStarted { tick, .. }
            | DirectorEvent::TransitionDone { tick, .. }
            | DirectorEvent::PhraseLate { tick, .. }
            | DirectorEvent::StingerStarted { tick, .. } => Some(*tick),
            DirectorEvent::PhraseFailed { .. } => None,
        }
    }
}

/// A phrase on the timeline, as [`Director::current_phrase`](crate::Director::current_phrase) and
/// [`Director::next_phrase`](crate::Director::next_phrase) describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseInfo {
    /// Its job's id.
    pub id: u64,
    /// Its game state.
    pub state: String,
    /// Where it starts.
    pub start_tick: u64,
    /// Where it stops (cut or full).
    pub end_tick: u64,
    /// Its first bar, from 1.
    pub bar: u64,
    /// Tempo in quarter notes per minute.
    pub bpm: f64,
    /// Meter.
    pub meter: Meter,
    /// Key.
    pub key: Scale,
    /// Layers it was written with: all of its mood's layers (which of them are heard
    /// follows the intensity, see [`Director::active_layers`](crate::Director::active_layers)).
    pub layers: Vec<Layer>,
    /// 0 for its first play, then 1, 2... for each repeat.
    pub repeat: u32,
    /// Where its end moves onto a pivot chord that prepares the key of the music after it
    /// (its bass and chords from that tick to its end sound the chord), and the chord.
    pub pivot: Option<(u64, Chord)>,
}
