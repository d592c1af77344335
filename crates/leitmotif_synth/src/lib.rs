//! Leitmotif's synthesizer: built-in instruments, SoundFont 2 playback, a sample-accurate
//! voice engine and WAV output. It knows nothing of Bevy or of the models.
//!
//! ```
//! use leitmotif_score::{Note, Role, Score, Track};
//! use leitmotif_synth::{RenderOptions, encode_wav, render_score};
//!
//! let mut score = Score::default();
//! let mut melody = Track::new("Melody", Role::Melody, 80, 0);
//! for (i, pitch) in [69u8, 72, 76].into_iter().enumerate() {
//!     melody.notes.push(Note { start: i as u64 * 480, duration: 480, pitch, velocity: 100 });
//! }
//! score.tracks.push(melody);
//! score.normalize();
//!
//! let options = RenderOptions { tail_seconds: 0.5, ..RenderOptions::default() };
//! let audio = render_score(&score, &options)?;
//! assert_eq!(audio.sample_rate, 48_000);
//! assert!(audio.peak() > 0.01 && audio.peak() < 1.0);
//! let wav = encode_wav(&audio)?;
//! assert_eq!(&wav[..4], b"RIFF");
//! # Ok::<(), leitmotif_synth::SynthError>(())
//! ```
//!
//! - [`BuiltIn`] instruments need no files: a lead, a bass, a pad, keys and a drum kit,
//!   chosen by General MIDI program family ([`BuiltIn::for_program`]).
//! - [`SoundFont`] plays any SoundFont 2 file through `rustysynth`, by bank and program,
//!   drums on channel 10.
//! - [`Engine`] is the one render path for offline and live use: events queued ahead with
//!   [`Engine::schedule`] take effect on their exact frame, and [`Engine::render`] never
//!   allocates, locks or does I/O, so it can run on an audio thread.
//! - [`render_score`] and [`render_stems`] render a whole
//!   [`Score`](leitmotif_score::Score) through an engine; [`encode_wav`] and [`write_wav`]
//!   turn the result into 16-bit WAV (written atomically).

mod builtin;
mod dsp;
mod engine;
mod error;
mod instrument;
mod master;
mod offline;
mod queue;
mod soundfont;
mod wav;

pub use engine::{
    Engine, EngineSettings, Event, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, SOUNDFONT_BLOCK, Scheduled,
};
pub use error::SynthError;
pub use instrument::{BuiltIn, Instrument};
pub use offline::{
    Audio, MAX_RENDER_SECONDS, RenderOptions, ScoreEvents, Stem, render_score, render_stems,
    score_events,
};
pub use soundfont::SoundFont;
pub use wav::{encode_wav, encode_wav_mono, write_wav};

/// The sample rate used unless told otherwise, in Hz.
pub const DEFAULT_SAMPLE_RATE: u32 = 48_000;
