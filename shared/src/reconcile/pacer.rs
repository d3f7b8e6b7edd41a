//! Spacing a provider's requests out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Spaces requests out in real time, across the runs of one warm container too
/// (a manual invocation right after a scheduled one must not burst).
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    last: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl Pacer {
    pub async fn wait(&self, interval: Duration) {
        let last = match self.last.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        if let Some(last) = last {
            tokio::time::sleep_until(last + interval).await;
        }
        let now = tokio::time::Instant::now();
        match self.last.lock() {
            Ok(mut g) => *g = Some(now),
            Err(p) => *p.into_inner() = Some(now),
        }
    }
}
