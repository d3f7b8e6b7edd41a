//! Authentic deliveries we cannot use (not UTF-8, not JSON, a field of a shape we
//! do not read): kept, never applied. The provider would only send the same bytes
//! again, so refusing one loses it for good. Each is one item keyed by the hash of
//! its stored (redacted) copy, so a retry is the same item; it touches no state,
//! payment or event, and stays on the operator's list until acknowledged.

use super::attr::dynamo;
use super::error::StoreError;
use super::expr::{n, s};
use super::notification::Recorded;
use super::schema::{self, OPEN_PK, OPEN_SINCE, PK, SK};
use super::table::Store;

/// The `open` index queue of quarantined deliveries, until acknowledged.
pub const QUARANTINE_QUEUE: &str = "quarantine";

const QUARANTINE_SK: &str = "quarantine";
const RECORD_PREFIX: &str = "quarantine:";

/// One authentic delivery that could not be used.
#[derive(Debug, Clone)]
pub struct Quarantined {
    pub provider: &'static str,
    /// The stored copy: redacted where the provider's bodies can hold card numbers.
    pub body: String,
    /// Why it could not be used, in a word (`malformed`, `not_utf8`) and in a line.
    pub code: &'static str,
    pub reason: String,
    pub received_at_ms: i64,
    pub body_sha256: String,
}

impl Quarantined {
    pub fn new(provider: &'static str, body: String, code: &'static str, reason: String) -> Self {
        Self {
            provider,
            body_sha256: crate::hashing::sha256_hex(body.as_bytes()),
            body,
            code,
            reason,
            received_at_ms: crate::clock::now_ms(),
        }
    }

    /// Its key among the provider's records: `quarantine:<hash of the stored copy>`.
    pub fn record_key(&self) -> String {
        format!("{RECORD_PREFIX}{}", self.body_sha256)
    }
}

impl Store {
    /// `New` the first time, `Duplicate` for the same bytes again.
    pub async fn quarantine(&self, q: &Quarantined) -> Result<Recorded, StoreError> {
        let record_key = q.record_key();
        let result = self
            .client
            .put_item()
            .table_name(self.table())
            .item(PK, s(schema::record_pk(q.provider, &record_key)))
            .item(SK, s(QUARANTINE_SK))
            .item("item_type", s("quarantine"))
            .item("provider", s(q.provider))
            .item("record_key", s(&record_key))
            .item("body", s(&q.body))
            .item("body_sha256", s(&q.body_sha256))
            .item("reason_code", s(q.code))
            .item("reason", s(&q.reason))
            .item("received_at_ms", n(q.received_at_ms))
            .item("first_seen_at_ms", n(q.received_at_ms))
            .item(OPEN_PK, s(QUARANTINE_QUEUE))
            .item(OPEN_SINCE, n(q.received_at_ms))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::New {
                state_advanced: false,
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_conditional_check_failed_exception()) =>
            {
                Ok(Recorded::Duplicate)
            }
            Err(e) => Err(dynamo(e)),
        }
    }
}

/// A body as text for keeping: itself when it is UTF-8, else its bytes in hex
/// (`hex:` first), so nothing of it is lost.
pub fn text_or_hex(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(t) => t.to_string(),
        Err(_) => format!("hex:{}", hex::encode(raw)),
    }
}
