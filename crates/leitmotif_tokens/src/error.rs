//! Typed errors for tokenizing and decoding.

use thiserror::Error;

/// A score the vocabulary cannot represent.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum TokenizeError {
    /// A meter outside [`crate::vocab::METERS`].
    #[error("bar {bar}: meter {meter} is not in the vocabulary")]
    UnsupportedMeter {
        /// Bar number from 0.
        bar: usize,
        /// The meter, e.g. "7/4".
        meter: String,
    },
    /// A bar cut short by a meter change (the vocabulary has whole bars only).
    #[error("bar {bar} is {len} ticks long where its meter makes {expected}")]
    IrregularBar {
        /// Bar number from 0.
        bar: usize,
        /// Its length.
        len: u64,
        /// A full bar's length.
        expected: u64,
    },
    /// The quantized score broke a score rule (should not happen for a valid input).
    #[error("quantized score is invalid: {0}")]
    Score(#[from] leitmotif_score::ScoreError),
    /// A broken internal invariant.
    #[error("internal tokenizer error: {0}")]
    Internal(&'static str),
}

/// A token that may not come where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unexpected {token}: {reason}")]
pub struct GrammarError {
    /// The token, readable.
    pub token: String,
    /// What the grammar expected instead.
    pub reason: String,
}

/// A token sequence that is not a piece.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// An id past the vocabulary.
    #[error("token {index}: id {id} is not in the vocabulary")]
    UnknownId {
        /// Position in the sequence.
        index: usize,
        /// The id.
        id: u32,
    },
    /// A token the grammar does not allow there.
    #[error("token {index}: {source}")]
    Grammar {
        /// Position in the sequence.
        index: usize,
        /// What is wrong.
        source: GrammarError,
    },
    /// The sequence stops before `Eos`.
    #[error("the sequence ends before Eos")]
    Unfinished,
}
