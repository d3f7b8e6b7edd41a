//! The sparse `open` index: records whose status is not final, by queue
//! (`<provider>#<kind>`), oldest first. The reconciler reads it here; it never
//! builds a query itself.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::attr::{dynamo, AttrExt, Item};
use super::expr::s;
use super::schema::{OPEN_INDEX, OPEN_PK, OPEN_SINCE, PK, SK};
use super::{Store, StoreError};
use crate::lifecycle::{amount, Direction, Lifecycle, PaymentView};

const ROUND_ROBIN_SK: &str = "recheck-cursor";

/// A record's state item as the reconciler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRecord {
    pub record_key: String,
    pub status: Option<String>,
    pub open_since_ms: Option<i64>,
    /// Every string attribute of the state item (the record's refs among them).
    pub attrs: BTreeMap<String, String>,
}

impl OpenRecord {
    fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            record_key: item.text("record_key")?.to_string(),
            status: item.text("status").map(str::to_string),
            open_since_ms: item.int(OPEN_SINCE),
            attrs: item
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                .collect(),
        })
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    /// The view the record's last write gave it, for a status found out later: the
    /// caller sets what the new status means.
    pub fn payment_view(&self) -> PaymentView {
        let text = |name: &str| self.attr(name).map(str::to_string);
        PaymentView {
            direction: self
                .attr("direction")
                .and_then(Direction::parse)
                .unwrap_or_default(),
            lifecycle: self
                .attr("lifecycle")
                .and_then(Lifecycle::parse)
                .unwrap_or_default(),
            merchant_ref: text("merchant_ref"),
            user_ref: text("user_ref"),
            currency: text("currency"),
            amount_due: amount(self.attrs.get("amount_due")),
            amount_paid: amount(self.attrs.get("amount_paid")),
            order: text("payment_order"),
        }
    }
}

/// One page of a round-robin walk through a queue.
#[derive(Debug)]
pub struct Batch {
    pub records: Vec<OpenRecord>,
    next: Option<Item>,
}

impl Store {
    /// Records of `queue` open since before `older_than_ms`, oldest first, at most `max`.
    pub async fn open_records(
        &self,
        queue: &str,
        older_than_ms: i64,
        max: usize,
    ) -> Result<Vec<OpenRecord>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(self.table())
            .index_name(OPEN_INDEX)
            .key_condition_expression("#q = :q AND #since <= :t")
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_names("#since", OPEN_SINCE)
            .expression_attribute_values(":q", s(queue))
            .expression_attribute_values(":t", AttributeValue::N(older_than_ms.to_string()));
        Ok(self
            .query_all(query, Some(max))
            .await?
            .iter()
            .filter_map(OpenRecord::from_item)
            .collect())
    }

    /// The next `limit` records of `queue` after where the walk saved under `scope`
    /// stopped; `save_round_robin` records where this batch ends.
    pub async fn open_batch(
        &self,
        queue: &str,
        limit: i32,
        scope: &str,
    ) -> Result<Batch, StoreError> {
        let saved = self
            .client
            .get_item()
            .table_name(self.table())
            .key(PK, s(scope))
            .key(SK, s(ROUND_ROBIN_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?
            .item()
            .and_then(|i| i.get("last_key")?.as_m().ok().cloned());
        let page = self
            .client
            .query()
            .table_name(self.table())
            .index_name(OPEN_INDEX)
            .key_condition_expression("#q = :q")
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_values(":q", s(queue))
            .limit(limit)
            .set_exclusive_start_key(saved)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(Batch {
            records: page
                .items()
                .iter()
                .filter_map(OpenRecord::from_item)
                .collect(),
            next: page.last_evaluated_key().cloned(),
        })
    }

    /// The next walk starts after `batch`; after the last page, from the start.
    pub async fn save_round_robin(&self, scope: &str, batch: &Batch) -> Result<(), StoreError> {
        match &batch.next {
            Some(last) => {
                self.client
                    .put_item()
                    .table_name(self.table())
                    .item(PK, s(scope))
                    .item(SK, s(ROUND_ROBIN_SK))
                    .item("item_type", s("recheck_cursor"))
                    .item("last_key", AttributeValue::M(last.clone()))
                    .send()
                    .await
                    .map_err(dynamo)?;
            }
            None => {
                self.client
                    .delete_item()
                    .table_name(self.table())
                    .key(PK, s(scope))
                    .key(SK, s(ROUND_ROBIN_SK))
                    .send()
                    .await
                    .map_err(dynamo)?;
            }
        }
        Ok(())
    }

    /// Records of `queue` that have never had a confirmed status.
    pub async fn count_open_without_status(&self, queue: &str) -> Result<u32, StoreError> {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(self.table())
                .index_name(OPEN_INDEX)
                .key_condition_expression("#q = :q")
                .filter_expression("attribute_not_exists(#st)")
                .expression_attribute_names("#q", OPEN_PK)
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":q", s(queue))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            count += u32::try_from(page.count()).unwrap_or(0);
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(count);
            }
        }
    }
}
