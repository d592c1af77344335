//! Leitmotif: generative, adaptive game music.
//!
//! This facade re-exports Leitmotif's crates so a game needs one dependency:
//!
//! - [`score`]: the score model, music theory, analysis, MIDI and JSON in and out;
//! - [`tokens`]: the event vocabulary the models read and write;
//! - [`model`]: inference: the burn models (a melody LSTM and a multi-part transformer),
//!   decoding, sampling, weights and the embedded default models;
//! - [`train`]: training and evaluation (burn's autodiff; nothing else depends on it);
//! - [`request`]: requests, mood tables, text prompts and compositions (no models);
//! - [`compose`]: the composer (prompts, hard constraints, continue, infill, loops, layers);
//! - [`arrange`]: the arranger (bass, chords, drums and dynamics from a melody);
//! - [`director`]: the engine-agnostic music director (clock, transitions, look-ahead,
//!   session export) that the Bevy plugin `bevy_leitmotif` wraps;
//! - [`synth`]: the synthesizer (built-in instruments, SoundFonts, the sample-accurate voice
//!   engine, WAV files);
//! - [`player`]: the adaptive music player that plays the director's timeline through kira.
//!
//! ```
//! use leitmotif::score::{Score, midi};
//!
//! let bytes = midi::write_midi(&Score::default())?;
//! assert_eq!(midi::read_midi(&bytes)?, Score::default());
//! # Ok::<(), leitmotif::score::MidiError>(())
//! ```

pub use leitmotif_arrange as arrange;
pub use leitmotif_compose as compose;
pub use leitmotif_director as director;
pub use leitmotif_model as model;
pub use leitmotif_player as player;
pub use leitmotif_request as request;
pub use leitmotif_score as score;
pub use leitmotif_synth as synth;
pub use leitmotif_tokens as tokens;
pub use leitmotif_train as train;
