//! Errors from the models' decoding API.

/// Errors from building token batches and from cached decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A token id is not below the model's vocabulary size.
    #[error("token id {token} is out of range for a vocabulary of {vocab_size}")]
    TokenOutOfRange {
        /// The offending id.
        token: u32,
        /// The model's vocabulary size.
        vocab_size: usize,
    },
    /// The rows of a token batch have different lengths.
    #[error("token rows have different lengths ({first} and {other})")]
    RaggedBatch {
        /// Length of the first row.
        first: usize,
        /// Length of a row that differs.
        other: usize,
    },
    /// A batch or a prompt has no tokens.
    #[error("empty token batch or prompt")]
    Empty,
    /// The decoding state was built for a different batch size.
    #[error("decoding state holds a batch of {state}, but the input has a batch of {input}")]
    BatchMismatch {
        /// Batch size of the cache or recurrent state.
        state: usize,
        /// Batch size of the input.
        input: usize,
    },
}

/// Checks that every id of `tokens` is below `vocab_size`.
///
/// # Errors
/// [`ModelError::TokenOutOfRange`] naming the first id that is not.
pub fn check_ids(tokens: &[u32], vocab_size: usize) -> Result<(), ModelError> {
    match tokens.iter().find(|&&t| t as usize >= vocab_size) {
        Some(&token) => Err(ModelError::TokenOutOfRange { token, vocab_size }),
        None => Ok(()),
    }
}
