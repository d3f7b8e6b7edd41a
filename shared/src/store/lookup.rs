//! Reads for the lookup and for replays: a merchant reference's payments, a
//! record's payment, each record's history, and the payments changed in a time
//! range. Every item is read strongly consistent from the table itself: what a
//! notification just wrote is what the next lookup or replay sees.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::{dynamo, AttrExt, Item};
use super::error::StoreError;
use super::expr::s;
use super::payment::Payment;
use super::schema::{self, PK, SK, STATE_SK};
use super::table::Store;

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

    /// The latest view of every payment whose last change is between `from_ms`
    /// and `to_ms` (inclusive), oldest change first: keys from the `changed`
    /// index, then the items themselves, strongly consistent.
    pub async fn payments_changed_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Payment>, StoreError> {
        let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
        for bucket in schema::changed_pks_between(from_ms, to_ms) {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::CHANGED_INDEX)
                .key_condition_expression("#b = :b AND #at BETWEEN :from AND :to")
                .expression_attribute_names("#b", schema::CHANGED_PK)
                .expression_attribute_names("#at", schema::CHANGED_AT)
                .expression_attribute_values(":b", s(&bucket))
                .expression_attribute_values(":from", AttributeValue::N(from_ms.to_string()))
                .expression_attribute_values(":to", AttributeValue::N(to_ms.to_string()));
            for item in self.query_all(query, None).await? {
                if let (Some(pk), Some(sk)) = (item.text(PK), item.text(SK)) {
                    keys.insert((pk.to_string(), sk.to_string()));
                }
            }
        }
        let keys: Vec<(String, String)> = keys.into_iter().collect();
        let mut out: Vec<Payment> = self
            .batch_get(&keys, &[])
            .await?
            .iter()
            .filter_map(Payment::from_item)
            .collect();
        // The index is eventually consistent: an item read now may have changed
        // since, out of the range; its latest view is what a replay sends.
        out.sort_by(|a, b| {
            a.changed_at_ms
                .cmp(&b.changed_at_ms)
                .then(a.key.cmp(&b.key))
        });
        Ok(out)
    }

    /// Every item of a record's partition as JSON, as stored (bodies masked where
    /// the provider's are): what an operator reads of a record or a quarantined body.
    pub async fn record_partition(
        &self,
        provider: &str,
        record_key: &str,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let items = self
            .partition(&schema::record_pk(provider, record_key))
            .await?;
        items
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item(item)
                    .map_err(|e| StoreError::Build(format!("item not readable as JSON: {e}")))
            })
            .collect()
    }

    async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true);
        self.query_all(query, None).await
    }
}
