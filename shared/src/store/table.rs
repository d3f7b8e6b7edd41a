//! The table, and the one client every request of the store goes through.

use aws_sdk_dynamodb::Client;

/// The table, through one client built per cold start.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) client: Client,
    pub(super) table: String,
    pub(super) event_ttl_secs: i64,
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
