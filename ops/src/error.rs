//! Why a command stopped, and an AWS error in one line.

/// Why a command stopped, and so its exit code.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A negative answer: exit code 1.
    #[error("{0}")]
    No(String),
    /// It could not run: exit code 3.
    #[error("{0}")]
    CannotRun(String),
}

impl OpsError {
    pub fn cannot(e: impl std::fmt::Display) -> Self {
        Self::CannotRun(e.to_string())
    }
}

/// An AWS error in one line: its code and message, never the raw response.
pub fn aws_error<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}
