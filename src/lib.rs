//! Leitmotif: generative, adaptive game music.
//!
//! This facade re-exports Leitmotif's crates so a game needs one dependency:
//!
//! - [`score`]: the score model, music theory, analysis, MIDI and JSON in and out;
//! - [`tokens`]: the event vocabulary the models read and write;
//! - [`model`]: the burn models (a melody LSTM and a multi-part transformer);
//! - [`train`]: training, evaluation, the embedded default models and controlled sampling.
//!
//! ```
//! use leitmotif::score::{Score, midi};
//!
//! let bytes = midi::write_midi(&Score::default())?;
//! assert_eq!(midi::read_midi(&bytes)?, Score::default());
//! # Ok::<(), leitmotif::score::MidiError>(())
//! ```

pub use leitmotif_model as model;
pub use leitmotif_score as score;
pub use leitmotif_tokens as tokens;
pub use leitmotif_train as train;
