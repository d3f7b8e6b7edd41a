//! What one authenticated notification brings to the store, and what became of
//! it: the types the writing modules share, below all of them.

use std::collections::{BTreeMap, BTreeSet};

use crate::lifecycle::PaymentView;

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
    /// SHA-256 of the stored copy of the body. Never of the raw bytes: where the
    /// raw body held a card number, its hash would give the number back after at
    /// most a million guesses at the masked digits.
    pub body_sha256: String,
    /// The same, ignoring JSON whitespace; equal means "same notification".
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
    /// What the delivery says to the merchant, in the provider-agnostic lifecycle.
    pub view: PaymentView,
}

impl Delivery {
    /// A delivery with its identity, body and fingerprints; everything else empty.
    /// `stored_body` is the (redacted) copy to keep, and what the hashes are over.
    pub fn new(
        provider: &'static str,
        record_key: String,
        event_id: Vec<String>,
        status_text: String,
        stored_body: String,
    ) -> Self {
        let body_sha256 = crate::hashing::sha256_hex(stored_body.as_bytes());
        let content_sha256 = crate::hashing::content_sha256_hex(stored_body.as_bytes());
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
            body_sha256,
            content_sha256,
            received_at_ms: crate::clock::now_ms(),
            open_queue: None,
            needs_reconcile: false,
            reapply_status_on_duplicate: false,
            view: PaymentView::default(),
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
    /// The view the status gives, with the refs and amounts the record carries.
    pub view: PaymentView,
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
