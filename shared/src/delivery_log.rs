//! The one log line and the metrics each delivery produces. Only identifiers,
//! outcomes and short reasons go in: never a body, a header value or a secret.

use std::time::Instant;

use crate::metrics::{Metrics, Unit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    Duplicate,
    Conflict,
    Rejected,
    StoreFailed,
    /// Authentic, answered, nothing to store (a URL-registration ping).
    Acknowledged,
    /// Authentic but unusable: kept in quarantine for a human, answered success.
    Quarantined,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Duplicate => "duplicate",
            Outcome::Conflict => "conflict",
            Outcome::Rejected => "rejected",
            Outcome::StoreFailed => "store_failed",
            Outcome::Acknowledged => "acknowledged",
            Outcome::Quarantined => "quarantined",
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Outcome::Stored => "Stored",
            Outcome::Duplicate => "Duplicate",
            Outcome::Conflict => "Conflict",
            Outcome::Rejected => "Rejected",
            Outcome::StoreFailed => "StoreFailed",
            Outcome::Acknowledged => "Acknowledged",
            Outcome::Quarantined => "Quarantined",
        }
    }
}

#[derive(Debug)]
pub struct Report {
    pub provider: &'static str,
    pub kind: Option<String>,
    pub key: Option<String>,
    pub outcome: Outcome,
    pub status: u16,
    pub reject_code: Option<&'static str>,
    pub reason: Option<String>,
    pub state_advanced: Option<bool>,
    pub flags: Vec<String>,
}

impl Report {
    pub fn new(provider: &'static str) -> Self {
        Self {
            provider,
            kind: None,
            key: None,
            outcome: Outcome::Rejected,
            status: 0,
            reject_code: None,
            reason: None,
            state_advanced: None,
            flags: Vec::new(),
        }
    }

    pub fn finish(&self, started: Instant, metrics: &Metrics) {
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let flags = self.flags.join(",");
        match self.outcome {
            Outcome::StoreFailed => tracing::error!(
                provider = self.provider,
                kind = self.kind.as_deref(),
                key = self.key.as_deref(),
                outcome = self.outcome.as_str(),
                status = self.status,
                reason = self.reason.as_deref(),
                latency_ms,
                "delivery"
            ),
            Outcome::Conflict | Outcome::Rejected | Outcome::Quarantined => tracing::warn!(
                provider = self.provider,
                kind = self.kind.as_deref(),
                key = self.key.as_deref(),
                outcome = self.outcome.as_str(),
                status = self.status,
                reject = self.reject_code,
                reason = self.reason.as_deref(),
                latency_ms,
                "delivery"
            ),
            Outcome::Stored | Outcome::Duplicate | Outcome::Acknowledged => tracing::info!(
                provider = self.provider,
                kind = self.kind.as_deref(),
                key = self.key.as_deref(),
                outcome = self.outcome.as_str(),
                status = self.status,
                state_advanced = self.state_advanced,
                flags = (!flags.is_empty()).then_some(flags.as_str()),
                latency_ms,
                "delivery"
            ),
        }
        let mut values = vec![
            ("Received", 1.0, Unit::Count),
            (self.outcome.metric(), 1.0, Unit::Count),
            ("Latency", latency_ms, Unit::Milliseconds),
        ];
        if !self.flags.is_empty() {
            values.push(("Flagged", 1.0, Unit::Count));
        }
        metrics.emit(&[("Provider", self.provider)], &values);
        // Flags are a fixed vocabulary of this code's, so the dimension stays small.
        for flag in &self.flags {
            metrics.emit(
                &[("Provider", self.provider), ("Flag", flag)],
                &[("FlaggedByReason", 1.0, Unit::Count)],
            );
        }
        if let Some(code) = self.reject_code {
            metrics.emit(
                &[("Provider", self.provider), ("Reason", code)],
                &[("RejectedByReason", 1.0, Unit::Count)],
            );
        }
    }
}
