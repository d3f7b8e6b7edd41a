//! What CityPay's two read APIs share on the wire: one way to build the client,
//! and to read an answer no bigger than it should be.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Timeout,
    Transport(String),
    TooLarge,
}

pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::outbound::client(timeout)
}

pub(crate) fn failure(e: reqwest::Error) -> Failure {
    if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Transport(e.to_string())
    }
}

/// The body, refused beyond `max` bytes whether or not the length was announced.
pub(crate) async fn body(resp: reqwest::Response, max: usize) -> Result<Vec<u8>, Failure> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(Failure::TooLarge);
    }
    let bytes = resp.bytes().await.map_err(failure)?;
    if bytes.len() > max {
        return Err(Failure::TooLarge);
    }
    Ok(bytes.to_vec())
}
