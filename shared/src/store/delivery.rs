//! Writing one authenticated delivery: an immutable event item and the record's
//! state item, atomically, in one `TransactWriteItems` round trip.
//!
//! - The event put is conditional on `attribute_not_exists(pk)`; a duplicate is
//!   detected from the failed condition (with the old item returned), never by a
//!   read first.
//! - The state update advances `status` only when the new rank is higher
//!   (`status_rank < :rank`). When that condition fails the whole transaction is
//!   cancelled, and it is re-sent with a state update that only records that the
//!   status was seen. That second round trip happens only for out-of-order
//!   deliveries; in-order and duplicate deliveries cost one.
//! - Because event and state commit together, a duplicate never needs its state
//!   re-applied: no earlier attempt can have stored the event without the state.
//!   The exception is a status confirmed with the provider's API at delivery time
//!   (CityPay orders, CCPayment v2): it may have changed since the first copy. The
//!   event keeps the status it applied (`applied_status`, returned with the failed
//!   condition), so only a duplicate whose confirmed status differs costs a second
//!   request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::Serialize;

use super::attr::dynamo;
use super::expr::{n, s, Expr};
use super::schema::{self, OPEN_PK, OPEN_SINCE, PK, SK, STATE_SK};
use super::Store;

/// A status the provider's model knows, with its place in the order of progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub name: String,
    pub rank: u8,
    pub terminal: bool,
}

/// One authenticated, parsed notification, ready to store.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub provider: &'static str,
    /// The provider's id of the record (transaction, order) the notification is about.
    pub record_key: String,
    /// The rest of the provider's identity of this notification (e.g. its status).
    pub event_id: Vec<String>,
    /// The status as sent, kept even when unknown.
    pub status_text: String,
    /// `None` for a status the model does not know: stored and flagged, no state change.
    pub status: Option<StatusChange>,
    pub kind: Option<String>,
    /// Order-level keys (order id, merchant order id, invoice id, user id...).
    pub refs: BTreeMap<String, String>,
    pub amounts: BTreeMap<String, String>,
    pub details: BTreeMap<String, String>,
    pub flags: BTreeSet<String>,
    /// The stored copy of the body (already redacted where the provider needs it).
    pub body: String,
    /// SHA-256 of the raw bytes received.
    pub body_sha256: String,
    /// SHA-256 ignoring JSON whitespace; equal means "same notification".
    pub content_sha256: String,
    pub received_at_ms: i64,
    /// Partition of the `open` index while the record is not final.
    pub open_queue: Option<String>,
    /// Put the record in the `open` index even without a status change: the
    /// notification could not be confirmed yet and the reconciler must look again.
    pub needs_reconcile: bool,
    /// The status comes from the provider's API, not from this notification: apply
    /// it even when the notification itself is a duplicate.
    pub reapply_status_on_duplicate: bool,
}

impl Delivery {
    /// A delivery with its identity, body and fingerprints; everything else empty.
    /// `stored_body` is the (redacted) copy to keep; the hashes are over `raw`.
    pub fn new(
        provider: &'static str,
        record_key: String,
        event_id: Vec<String>,
        status_text: String,
        raw: &[u8],
        stored_body: String,
    ) -> Self {
        Self {
            provider,
            record_key,
            event_id,
            status_text,
            status: None,
            kind: None,
            refs: BTreeMap::new(),
            amounts: BTreeMap::new(),
            details: BTreeMap::new(),
            flags: BTreeSet::new(),
            body: stored_body,
            body_sha256: crate::hashing::sha256_hex(raw),
            content_sha256: crate::hashing::content_sha256_hex(raw),
            received_at_ms: crate::clock::now_ms(),
            open_queue: None,
            needs_reconcile: false,
            reapply_status_on_duplicate: false,
        }
    }
}

/// A status learned after the event was stored: what the reconciler found out.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub provider: &'static str,
    pub record_key: String,
    pub status: StatusChange,
    pub flags: BTreeSet<String>,
    pub at_ms: i64,
}

impl StatusChange {
    /// From a provider model's `(rank, terminal)`; `None` for a status it does not know.
    pub fn ranked(name: &str, rank: Option<(u8, bool)>) -> Option<Self> {
        rank.map(|(rank, terminal)| Self {
            name: name.to_string(),
            rank,
            terminal,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time this notification was seen; `state_advanced` is false when the
    /// record already had an equal or higher status (late or out-of-order delivery).
    New { state_advanced: bool },
    /// Same key, same content: already stored.
    Duplicate,
    /// Same key, different content: kept beside the original, nothing overwritten.
    Conflict,
}

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

#[derive(Serialize)]
struct EventItem<'a> {
    pk: &'a str,
    sk: &'a str,
    item_type: &'static str,
    provider: &'static str,
    record_key: &'a str,
    status: &'a str,
    /// The status the state was given with this event, where it differs from or
    /// confirms the claimed one: a duplicate that confirms the same needs no update.
    #[serde(skip_serializing_if = "Option::is_none")]
    applied_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    refs: &'a BTreeMap<String, String>,
    amounts: &'a BTreeMap<String, String>,
    details: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    flags: Vec<&'a str>,
    body: &'a str,
    body_sha256: &'a str,
    content_sha256: &'a str,
    received_at_ms: i64,
    expires_at: i64,
}

const MAX_CONTENTION_ATTEMPTS: u32 = 8;

impl Store {
    pub async fn record(&self, d: &Delivery) -> Result<Recorded, StoreError> {
        let pk = schema::record_pk(d.provider, &d.record_key);
        let event_item = self.event_item(d, &pk, &schema::event_sk(&d.event_id))?;
        let mut advance = d.status.is_some();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let items = self.transaction(d, &pk, event_item.clone(), advance)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match result {
                Ok(_) => {
                    return Ok(Recorded::New {
                        state_advanced: advance,
                    })
                }
                Err(e) => e,
            };
            match classify(&err) {
                Cancel::Duplicate(old) => {
                    // The first copy committed its status with its event; only a
                    // status confirmed differently since needs the state touched.
                    let applied_then = old
                        .as_ref()
                        .and_then(|item| item.get("applied_status"))
                        .and_then(|v| v.as_s().ok());
                    let confirmed_now = d.status.as_ref().map(|st| &st.name);
                    let changed = confirmed_now.is_some() && applied_then != confirmed_now;
                    let recorded = self.duplicate_or_conflict(d, &pk, old).await?;
                    if d.reapply_status_on_duplicate && changed {
                        self.advance_state(d).await?;
                    }
                    return Ok(recorded);
                }
                Cancel::StaleStatus if advance => {
                    advance = false;
                }
                Cancel::Contended if attempt < MAX_CONTENTION_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Cancel::Contended => return Err(StoreError::Contention(attempt)),
                Cancel::StaleStatus | Cancel::Other => return Err(dynamo(err)),
            }
        }
    }

    /// The event put and the state update, conditioned as described above.
    fn transaction(
        &self,
        d: &Delivery,
        pk: &str,
        event_item: HashMap<String, AttributeValue>,
        advance: bool,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(event_item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        let update = self.state_update(d, pk, advance, true)?;
        Ok(vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(update).build(),
        ])
    }

    /// The event item `record` puts for `d`, for writing it elsewhere under the same
    /// condition (the benchmark's bare `PutItem` floor).
    pub fn event_item_of(
        &self,
        d: &Delivery,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let pk = schema::record_pk(d.provider, &d.record_key);
        self.event_item(d, &pk, &schema::event_sk(&d.event_id))
    }

    /// The `TransactWriteItems` items `record` sends first for `d` (the benchmark
    /// sends them bare to separate the write's cost from everything around it).
    pub fn first_write_of(&self, d: &Delivery) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = schema::record_pk(d.provider, &d.record_key);
        let event_item = self.event_item(d, &pk, &schema::event_sk(&d.event_id))?;
        self.transaction(d, &pk, event_item, d.status.is_some())
    }

    fn event_item(
        &self,
        d: &Delivery,
        pk: &str,
        sk: &str,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let item = EventItem {
            pk,
            sk,
            item_type: "event",
            provider: d.provider,
            record_key: &d.record_key,
            status: &d.status_text,
            applied_status: d.status.as_ref().map(|st| st.name.as_str()),
            kind: d.kind.as_deref(),
            refs: &d.refs,
            amounts: &d.amounts,
            details: &d.details,
            flags: d.flags.iter().map(String::as_str).collect(),
            body: &d.body,
            body_sha256: &d.body_sha256,
            content_sha256: &d.content_sha256,
            received_at_ms: d.received_at_ms,
            expires_at: d.received_at_ms / 1000 + self.event_ttl_secs,
        };
        serde_dynamo::to_item(item).map_err(|e| StoreError::Build(e.to_string()))
    }

    /// Applies a status found out later to the record's state, without an event.
    /// Returns whether the status advanced.
    pub async fn advance_status(&self, u: &StatusUpdate) -> Result<bool, StoreError> {
        let d = Delivery {
            status: Some(u.status.clone()),
            flags: u.flags.clone(),
            received_at_ms: u.at_ms,
            ..Delivery::new(
                u.provider,
                u.record_key.clone(),
                Vec::new(),
                u.status.name.clone(),
                b"",
                String::new(),
            )
        };
        self.advance_state(&d).await
    }

    /// Applies `d.status` to the record's state without writing an event: for a
    /// status confirmed after the event was stored (a duplicate callback).
    async fn advance_state(&self, d: &Delivery) -> Result<bool, StoreError> {
        if d.status.is_none() {
            return Ok(false);
        }
        let pk = schema::record_pk(d.provider, &d.record_key);
        let u = self.state_update(d, &pk, true, false)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(dynamo(e)),
        }
    }

    fn state_update(
        &self,
        d: &Delivery,
        pk: &str,
        advance: bool,
        with_event: bool,
    ) -> Result<Update, StoreError> {
        let mut e = Expr::default();
        let now = e.value(n(d.received_at_ms));
        let mut set = vec![
            format!("{} = {}", e.name("item_type"), e.value(s("state"))),
            format!("{} = {}", e.name("provider"), e.value(s(d.provider))),
            format!("{} = {}", e.name("record_key"), e.value(s(&d.record_key))),
            format!("{} = {now}", e.name("last_event_at_ms")),
        ];
        let first = e.name("first_seen_at_ms");
        set.push(format!("{first} = if_not_exists({first}, {now})"));
        // The status the state follows: the provider's confirmed one where it differs
        // from what the notification claimed.
        let seen_status = d
            .status
            .as_ref()
            .map_or(d.status_text.as_str(), |st| st.name.as_str());
        let seen = e.name(&format!("seen_{}", attribute_safe(seen_status)));
        set.push(format!("{seen} = if_not_exists({seen}, {now})"));
        if let Some(kind) = &d.kind {
            let k = e.name("kind");
            let v = e.value(s(kind));
            set.push(format!("{k} = if_not_exists({k}, {v})"));
        }
        for (name, value) in &d.refs {
            let k = e.name(name);
            let v = e.value(s(value));
            set.push(format!("{k} = if_not_exists({k}, {v})"));
        }
        let mut add = Vec::new();
        if with_event {
            add.push(format!("{} {}", e.name("event_count"), e.value(n(1))));
        }
        let mut flags: Vec<String> = d.flags.iter().cloned().collect();
        let mut remove = Vec::new();
        let mut condition = None;
        match (&d.status, advance) {
            (Some(st), true) => {
                set.push(format!("{} = {}", e.name("status"), e.value(s(&st.name))));
                let rank_name = e.name("status_rank");
                let rank = e.value(n(i64::from(st.rank)));
                set.push(format!("{rank_name} = {rank}"));
                set.push(format!("{} = {now}", e.name("status_at_ms")));
                if st.terminal {
                    remove.push(e.name(OPEN_PK));
                    remove.push(e.name(OPEN_SINCE));
                } else if let Some(queue) = &d.open_queue {
                    let q = e.name(OPEN_PK);
                    let qv = e.value(s(queue));
                    set.push(format!("{q} = if_not_exists({q}, {qv})"));
                    let since = e.name(OPEN_SINCE);
                    set.push(format!("{since} = if_not_exists({since}, {now})"));
                }
                condition = Some(format!(
                    "attribute_not_exists({rank_name}) OR {rank_name} < {rank}"
                ));
            }
            (Some(st), false) if st.terminal => {
                // Only another terminal status outranks a terminal one: two different
                // final answers for one record is worth a human's look.
                flags.push("terminal_clash".to_string());
            }
            (None, _) if d.needs_reconcile => {
                if let Some(queue) = &d.open_queue {
                    let q = e.name(OPEN_PK);
                    let qv = e.value(s(queue));
                    set.push(format!("{q} = if_not_exists({q}, {qv})"));
                    let since = e.name(OPEN_SINCE);
                    set.push(format!("{since} = if_not_exists({since}, {now})"));
                }
            }
            _ => {}
        }
        if !flags.is_empty() {
            add.push(format!(
                "{} {}",
                e.name("flags"),
                e.value(AttributeValue::Ss(flags))
            ));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !add.is_empty() {
            expression.push_str(&format!(" ADD {}", add.join(", ")));
        }
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        Ok(Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(STATE_SK))
            .update_expression(expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .build()?)
    }

    async fn duplicate_or_conflict(
        &self,
        d: &Delivery,
        pk: &str,
        old: Option<HashMap<String, AttributeValue>>,
    ) -> Result<Recorded, StoreError> {
        let same = old
            .as_ref()
            .and_then(|item| item.get("content_sha256"))
            .and_then(|v| v.as_s().ok())
            .is_some_and(|h| *h == d.content_sha256);
        if same {
            return Ok(Recorded::Duplicate);
        }
        let mut item =
            self.event_item(d, pk, &schema::conflict_sk(&d.event_id, &d.content_sha256))?;
        item.insert("item_type".into(), s("conflict"));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::Conflict),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Recorded::Conflict)
            }
            Err(e) => Err(dynamo(e)),
        }
    }
}

enum Cancel {
    Duplicate(Option<HashMap<String, AttributeValue>>),
    StaleStatus,
    Contended,
    Other,
}

fn classify<R>(err: &SdkError<TransactWriteItemsError, R>) -> Cancel {
    let Some(TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error()
    else {
        return Cancel::Other;
    };
    let reasons = tc.cancellation_reasons();
    let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
    if code(0) == "ConditionalCheckFailed" {
        let old = reasons.first().and_then(|r| r.item().cloned());
        return Cancel::Duplicate(old);
    }
    if code(1) == "ConditionalCheckFailed" && code(0) == "None" {
        return Cancel::StaleStatus;
    }
    if reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
    {
        return Cancel::Contended;
    }
    Cancel::Other
}

fn backoff(attempt: u32) -> Duration {
    // Jitter from the clock: contending writers started at the same instant drift apart.
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos() % 20))
        .unwrap_or(0);
    Duration::from_millis(10 * u64::from(attempt.min(6)) + jitter)
}

/// Status text from a provider, reduced to what an attribute name can safely hold.
fn attribute_safe(status: &str) -> String {
    let cleaned: String = status
        .chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "unknown".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::attribute_safe;

    #[test]
    fn status_names_become_safe_attribute_names() {
        assert_eq!(attribute_safe("success"), "success");
        assert_eq!(attribute_safe("Paid/Unconfirmed"), "paid_unconfirmed");
        assert_eq!(attribute_safe(""), "unknown");
        assert_eq!(attribute_safe(&"x".repeat(100)).len(), 32);
    }
}
