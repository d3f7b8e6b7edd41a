//! DynamoDB storage: one table holding immutable event items and one state item per
//! provider record, in the same partition (`pk`), so a record's whole history is one
//! `Query`; beside them, the reconciler's own items (resend windows, call budgets,
//! cursors). Every DynamoDB request of the project is built in this module.

mod attr;
pub mod budget;
mod client;
mod delivery;
mod error;
mod expr;
pub mod lookup;
mod merge;
mod notification;
mod open;
mod paging;
pub mod payment;
mod quarantine;
mod rehash;
pub mod schema;
pub mod sweep;
mod table;
pub mod windows;

pub use attr::{AttrExt, Item};
pub use client::{dynamodb_client, sdk_config};
pub use delivery::{HELD_MERCHANT_REF, MAX_OPEN_CONFLICTS};
pub use error::StoreError;
pub use notification::{Delivery, Recorded, StatusChange, StatusUpdate};
pub use open::{OpenRecord, Unlisted, CLASH_QUEUE, CONFLICT_QUEUE, RESEND_WINDOW_QUEUE};
pub use quarantine::{text_or_hex, Quarantined, QUARANTINE_QUEUE};
pub use rehash::Rehashed;
pub use table::Store;
