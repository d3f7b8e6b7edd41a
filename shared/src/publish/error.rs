//! How publishing fails before the bus is even asked.

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("stream record {0} has no sequence number: cannot report it, failing the batch")]
    NoSequenceNumber(String),
    #[error("event cannot be encoded: {0}")]
    Encode(String),
}
