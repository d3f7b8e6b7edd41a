//! How a request to the table fails.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("dynamodb request failed: {0}")]
    Dynamo(String),
    #[error("transaction still contended after {0} attempts")]
    Contention(u32),
    #[error("could not build request: {0}")]
    Build(String),
}

impl From<aws_sdk_dynamodb::error::BuildError> for StoreError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        StoreError::Build(e.to_string())
    }
}
