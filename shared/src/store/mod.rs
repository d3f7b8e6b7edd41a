//! DynamoDB storage: one table holding immutable event items and one state item per
//! provider record, in the same partition (`pk`), so a record's whole history is one
//! `Query`; beside them, the reconciler's own items (resend windows, call budgets,
//! cursors). Every DynamoDB request of the project is built in this module.

mod attr;
pub mod budget;
mod client;
mod delivery;
mod expr;
pub mod lookup;
mod merge;
mod open;
mod paging;
pub mod payment;
mod quarantine;
mod rehash;
pub mod schema;
pub mod sweep;
pub mod windows;

use aws_sdk_dynamodb::Client;

pub use attr::{AttrExt, Item};
pub use client::{dynamodb_client, sdk_config};
pub use delivery::{
    Delivery, Recorded, StatusChange, StatusUpdate, StoreError, HELD_MERCHANT_REF,
    MAX_OPEN_CONFLICTS,
};
pub use open::{OpenRecord, Unlisted, CLASH_QUEUE, CONFLICT_QUEUE, RESEND_WINDOW_QUEUE};
pub use quarantine::{text_or_hex, Quarantined, QUARANTINE_QUEUE};
pub use rehash::Rehashed;

/// The table, through one client built per cold start.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    event_ttl_secs: i64,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, event_ttl_days: u32) -> Self {
        Self {
            client,
            table: table.into(),
            event_ttl_secs: i64::from(event_ttl_days) * 86_400,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
