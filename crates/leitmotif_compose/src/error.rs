//! What composing can fail with.

use thiserror::Error;

/// Anything that stops a composition. Every message names the problem.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// A request the composer cannot honour (an absurd parameter, an unknown meter...).
    #[error("invalid request: {0}")]
    Request(String),
    /// The primer or infill score cannot be used (a meter the vocabulary lacks...).
    #[error("the given score cannot be used: {0}")]
    Score(#[from] leitmotif_tokens::TokenizeError),
    /// The model could not be loaded.
    #[error(transparent)]
    Weights(#[from] leitmotif_model::WeightsError),
    /// The requested backend is not available.
    #[error(transparent)]
    Backend(#[from] leitmotif_model::backend::BackendError),
    /// The model failed while running.
    #[error(transparent)]
    Model(#[from] leitmotif_model::ModelError),
    /// The sampler refused its input.
    #[error(transparent)]
    Sampling(#[from] leitmotif_model::SamplingError),
    /// Generated tokens did not decode (a grammar bug, never expected).
    #[error(transparent)]
    Decode(#[from] leitmotif_tokens::DecodeError),
    /// The arranger refused its settings.
    #[error(transparent)]
    Arrange(#[from] leitmotif_arrange::ArrangeError),
    /// The finished score broke a hard constraint (a bug, never expected; nothing is
    /// returned or written).
    #[error("constraint broken: {0}")]
    Constraint(String),
    /// The finished score is not a valid score (a bug, never expected).
    #[error(transparent)]
    Invalid(#[from] leitmotif_score::ScoreError),
}

impl From<leitmotif_request::RequestError> for ComposeError {
    fn from(error: leitmotif_request::RequestError) -> Self {
        match error {
            leitmotif_request::RequestError::Invalid(message) => ComposeError::Request(message),
            leitmotif_request::RequestError::Constraint(message) => {
                ComposeError::Constraint(message)
            }
            other => ComposeError::Request(other.to_string()),
        }
    }
}
