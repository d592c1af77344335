//! Leitmotif's score model: the music every other part of Leitmotif reads and writes.
//!
//! A [`Score`] holds notes on tracks plus the tempo, meter, key and marker maps. This crate
//! reads and writes it as Standard MIDI Files ([`midi`]), as the project's own asset format
//! `*.melody.json` / `*.melody.ron` ([`melody`]), and as `*.tone.json` in the shape of
//! @tonejs/midi's `Midi.toJSON()` ([`tone`]); it also knows the theory ([`theory`]), the
//! bar/beat arithmetic ([`time`]) and the analysis ([`analysis`]) that the models are
//! conditioned on. It knows nothing of Bevy or of the models.
//!
//! ```
//! use leitmotif_score::{Note, Role, Score, Track, analysis, midi};
//!
//! let mut score = Score::default();
//! let mut melody = Track::new("Melody", Role::Melody, 73, 0);
//! for (i, pitch) in [62u8, 65, 69, 74].into_iter().enumerate() {
//!     melody.notes.push(Note { start: i as u64 * 480, duration: 480, pitch, velocity: 90 });
//! }
//! score.tracks.push(melody);
//! score.normalize();
//!
//! let bytes = midi::write_midi(&score)?;
//! let back = midi::read_midi(&bytes)?;
//! assert_eq!(back, score);
//! let key = analysis::analyze(&back).estimated_key.map(|k| k.key.name());
//! assert_eq!(key.as_deref(), Some("D minor"));
//! # Ok::<(), leitmotif_score::MidiError>(())
//! ```

pub mod analysis;
mod error;
pub mod files;
pub mod melody;
pub mod midi;
mod score;
pub mod theory;
pub mod time;
pub mod tone;

pub use error::{DocumentError, Error, MidiError, ScoreError};
pub use files::{FileFormat, read_document, read_score, write_document, write_score};
pub use melody::{ControlValue, Generation, MELODY_FORMAT, MelodyDocument};
pub use score::{
    DEFAULT_PPQ, DRUM_CHANNEL, KeySignatureChange, MAX_QUARTERS, Marker, Note, Role, Score,
    TempoChange, TimeSignatureChange, Track,
};
