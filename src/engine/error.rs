//! Why an engine cannot be built from its configuration.

use crate::burn::streams::StreamsError;
use crate::window::Window;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Streams(#[from] StreamsError),
    #[error("evaluation.fine_step {step} must divide 6h")]
    FineStep { step: Window },
    #[error("the built-in probe SLI does not load: {0}")]
    ProbeSpec(String),
}
