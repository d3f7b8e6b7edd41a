//! Keeps every answer and event the tests produce, so that a script can hold them
//! all against the published contracts (`docs/contracts/`) after the run.
//!
//! Samples go to `$CONTRACT_SAMPLES_DIR/<kind>/<sha-256 of the sample>.json` (set by
//! `scripts/test.sh`); without it nothing is kept. Equal samples share a file.

use sha2::{Digest, Sha256};

pub const DIR_VAR: &str = "CONTRACT_SAMPLES_DIR";

/// What a sample is held against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An event as a bus rule delivers it (`detail-type`, `detail`, …).
    Event,
    /// A lookup answer, `GET /payments/…` or `/users/…/payments`.
    Lookup,
    /// An answer of `GET /unresolved`.
    UnresolvedList,
    /// An answer of `POST /unresolved/{provider}/{record_id}/acknowledge`.
    UnresolvedAcknowledge,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Lookup => "lookup",
            Kind::UnresolvedList => "unresolved-list",
            Kind::UnresolvedAcknowledge => "unresolved-acknowledge",
        }
    }
}

/// Keeps one answer (its status and JSON body) or event (status 0).
pub fn keep(kind: Kind, status: u16, body: &str) {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let parsed: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| serde_json::Value::String(body.into()));
    let sample = serde_json::json!({ "status": status, "body": parsed });
    let text = sample.to_string();
    let name = hex::encode(Sha256::digest(text.as_bytes()));
    let dir = std::path::Path::new(&dir).join(kind.dir());
    // A sample that cannot be kept fails the contract check for too few samples,
    // never the test that produced it.
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{name}.json")), text);
}
