//! Leitmotif's token vocabulary: scores to bar-structured event tokens and back.
//!
//! The vocabulary belongs to the REMI family (Huang & Yang 2020), extended with layers
//! and with control tokens before every bar, as in FIGARO and `MuseCoco`, whose values are
//! computed from the music itself ([`controls`]) so the models learn them from real data.
//!
//! # The vocabulary
//!
//! | kind | values | where |
//! |---|---|---|
//! | `Pad`, `Bos`, `Eos` | — | padding, start, end |
//! | `Style` | air, jig, slip jig, reel, hornpipe, waltz, march, chorale, folk, other | piece, after `Bos` |
//! | `Tempo` | 16 buckets, 48–200 bpm ([`vocab::TEMPOS`]) | piece, after `Style` |
//! | `Bar` | — | opens every bar |
//! | `Key` | 30 key signatures: −7..=7 sharps × major/minor | bar control |
//! | `Meter` | 16 meters ([`vocab::METERS`]) | bar control |
//! | `Density` | 8 buckets of lead-layer onsets per quarter | bar control |
//! | `Register` | 9 buckets of lead-layer mean pitch | bar control |
//! | `Intensity` | 8 buckets of all onsets per second × velocity | bar control |
//! | `Layer` | melody, bass, chords, drums, three inner voices | before a layer's notes |
//! | `Position` | 108 onsets: a twelfth of a quarter (16ths and triplets) | note, when the onset changes |
//! | `Velocity` | 32 levels | note, when the level changes |
//! | `Pitch` | 128: semitones above the bar key's tonic (drums: MIDI drum note) | note |
//! | `Duration` | 57 lengths: 1..=48 twelfths, then up to 4 whole notes | note |
//!
//! [`grammar::Grammar`] states the order (`Bos Style Tempo (Bar Key Meter Density Register
//! Intensity (Layer note+)*)* Eos`) and lets a decoder mask every token that would break it.
//!
//! **Key is encoded key-relative**: pitches count semitones above the tonic of the bar's key,
//! so a tune and its transpositions are the same tokens but for the `Key` token. On two CPU
//! cores this beats transposition augmentation: every pass over the data teaches each
//! melodic pattern once for all twelve keys, instead of spending 12× the training tokens to
//! see each key, and the tonic stays visible for register.
//!
//! ```
//! use leitmotif_score::{Note, Role, Score, Track};
//! use leitmotif_tokens::{Style, decode, encode_ids, quantize};
//!
//! let mut score = Score::default();
//! let mut melody = Track::new("Melody", Role::Melody, 73, 0);
//! for (i, pitch) in [62u8, 65, 69, 74].into_iter().enumerate() {
//!     melody.notes.push(Note { start: i as u64 * 480, duration: 480, pitch, velocity: 90 });
//! }
//! score.tracks.push(melody);
//! score.normalize();
//!
//! let ids = encode_ids(&score, Style::Air)?;
//! let decoded = decode(&ids)?;
//! assert_eq!(decoded.score, quantize(&score)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod controls;
pub mod corpus;
mod decode;
mod encode;
mod error;
pub mod fnv;
pub mod grammar;
pub mod ngram;
pub mod vocab;

pub use controls::{BarControls, bar_controls};
pub use corpus::{Corpus, Piece, Split};
pub use decode::{Decoded, decode, decode_prefix, decode_tokens};
pub use encode::{assign_layers, bar_units, encode, encode_ids, quantize, unit_ticks};
pub use error::{DecodeError, GrammarError, TokenizeError};
pub use vocab::{Layer, Style, Token, TokenKind, VOCAB_SIZE};
