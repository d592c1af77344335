//! Leitmotif: generative, adaptive game music.
//!
//! This facade re-exports Leitmotif's crates so a game needs one dependency:
//!
//! - [`score`]: the score model, music theory, analysis, MIDI and JSON in and out.
//!
//! ```
//! use leitmotif::score::{Score, midi};
//!
//! let bytes = midi::write_midi(&Score::default())?;
//! assert_eq!(midi::read_midi(&bytes)?, Score::default());
//! # Ok::<(), leitmotif::score::MidiError>(())
//! ```

pub use leitmotif_score as score;
