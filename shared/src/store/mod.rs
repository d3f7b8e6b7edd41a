//! DynamoDB storage: one table holding immutable event items and one state item per
//! provider record, in the same partition (`pk`), so a record's whole history is one
//! `Query`.

mod client;
mod delivery;
mod expr;
pub mod schema;

pub use client::{dynamodb_client, sdk_config};
pub use delivery::{Delivery, Recorded, StatusChange, Store, StoreError};
