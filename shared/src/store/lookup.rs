//! Reads for the lookup: a merchant reference's payments, a record's payment, and
//! each record's history. Every read is strongly consistent and on the table's own
//! keys: what a notification just wrote is what the next lookup sees.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{dynamo, AttrExt, Item};
use super::expr::s;
use super::payment::Payment;
use super::schema::{self, PK, SK, STATE_SK};
use super::{Store, StoreError};

/// A provider record as the lookup shows it: its state and its stored events.
#[derive(Debug, Clone)]
pub struct RecordItems {
    pub state: Option<Item>,
    /// Events and conflicts, oldest key first.
    pub events: Vec<Item>,
}

impl Store {
    /// Every payment item under one partition (`ref#…`, `user#…`, `id#…`).
    pub async fn payments_under(&self, pk: &str) -> Result<Vec<Payment>, StoreError> {
        Ok(self
            .partition(pk)
            .await?
            .iter()
            .filter_map(Payment::from_item)
            .collect())
    }

    pub async fn payment_at(&self, pk: &str, sk: &str) -> Result<Option<Payment>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out.item().and_then(Payment::from_item))
    }

    /// The payment a record belongs to, by the pointer on its state item; `None`
    /// when the record is unknown or was stored before payments existed.
    pub async fn payment_of_record(
        &self,
        provider: &str,
        record_key: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let state = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(schema::record_pk(provider, record_key)))
            .key(SK, s(STATE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        let Some(state) = state.item() else {
            return Ok(None);
        };
        match (state.text("payment_pk"), state.text("payment_sk")) {
            (Some(pk), Some(sk)) => self.payment_at(pk, sk).await,
            _ => Ok(None),
        }
    }

    /// A record's state item and stored events, in one query of its partition.
    pub async fn record_items(
        &self,
        provider: &str,
        record_key: &str,
    ) -> Result<RecordItems, StoreError> {
        let items = self
            .partition(&schema::record_pk(provider, record_key))
            .await?;
        let mut out = RecordItems {
            state: None,
            events: Vec::new(),
        };
        for item in items {
            match item.text("item_type") {
                Some("state") => out.state = Some(item),
                Some("event" | "conflict") => out.events.push(item),
                _ => {}
            }
        }
        Ok(out)
    }

    async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}
