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
    /// A finished composition broke one of its hard constraints.
    #[error("constraint broken: {0}")]
    Constraint(String),
}
