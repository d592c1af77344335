//! What checking a request or a finished composition can fail with.

use thiserror::Error;

/// A request that cannot be honoured, or a composition that breaks what it was asked for.
/// Every message names the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// An absurd or inconsistent parameter (a zero bar count, an unknown meter...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A chord symbol that cannot be read (`Am`, `F`, `G7`, `Bm7b5` can).
    #[error(
        "unknown chord symbol {symbol:?} (chord {position} of the progression): write a root A-G with # or b and a quality such as m, dim, aug, 7, maj7, m7"
    )]
    UnknownChord {
        /// The symbol as written.
        symbol: String,
        /// Its place in the progression, counted from 1.
        position: usize,
    },
    /// A chord with tones the locked key masks out.
    #[error(
        "chord {chord} has tones outside {key}: name a key that holds it, or let pitches leave the key"
    )]
    ChordOutOfKey {
        /// The chord's symbol.
        chord: String,
        /// The key.
        key: String,
    },
    /// A finished composition broke one of its hard constraints.
    #[error("constraint broken: {0}")]
    Constraint(String),
}
