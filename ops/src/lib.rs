//! The operator's command line, as a library: the commands and the doctor, so the
//! tests drive them against stand-ins exactly as the binary does.

pub mod clients;
pub mod commands;
pub mod deployment;
pub mod doctor;
pub mod permissions;
pub mod sigv4;

pub use clients::Clients;
pub use deployment::Deployment;

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
