//! The sparse `open` index: records whose status is not final, by queue
//! (`<provider>#<kind>`), oldest first; beside them, in queues of their own, what
//! waits for someone: open resend windows, conflicting notifications and terminal
//! clashes. The reconciler and the operator's list read it here; they never build
//! a query themselves.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::attr::{dynamo, AttrExt, Item};
use super::error::StoreError;
use super::expr::s;
use super::quarantine::QUARANTINE_QUEUE;
use super::schema::{OPEN_INDEX, OPEN_PK, OPEN_SINCE, PK, SK};
use super::table::Store;
use crate::lifecycle::{amount, Direction, Lifecycle, PaymentView};

const ROUND_ROBIN_SK: &str = "recheck-cursor";

/// Open resend windows of every scope, by the hour they cover.
pub const RESEND_WINDOW_QUEUE: &str = "resend-window";
/// Conflicting notifications (one identity, two bodies), until acknowledged.
pub const CONFLICT_QUEUE: &str = "conflict";
/// Records given two different final statuses, until acknowledged.
pub const CLASH_QUEUE: &str = "terminal-clash";
/// When an operator acknowledged a conflict or clash.
const ACKNOWLEDGED_AT: &str = "acknowledged_at_ms";

/// A record's state item as the reconciler needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRecord {
    pub record_key: String,
    /// The item's sort key: `state`, or the conflict item's own.
    pub sk: String,
    pub status: Option<String>,
    pub open_since_ms: Option<i64>,
    /// Every string attribute of the state item (the record's refs among them).
    pub attrs: BTreeMap<String, String>,
    pub flags: BTreeSet<String>,
    /// Every status the record has been seen with (`seen_<status>`), in key form.
    pub seen: BTreeSet<String>,
    /// An operator has looked at its conflicts and clash.
    pub acknowledged: bool,
}

impl OpenRecord {
    fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            record_key: item.text("record_key")?.to_string(),
            sk: item.text(SK)?.to_string(),
            status: item.text("status").map(str::to_string),
            open_since_ms: item.int(OPEN_SINCE),
            attrs: item
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                .collect(),
            flags: item
                .get("flags")
                .and_then(|v| v.as_ss().ok())
                .map(|f| f.iter().cloned().collect())
                .unwrap_or_default(),
            // `seen` is projected; `seen_<status>` of records written before it
            // existed is there only when the item is read from the table.
            seen: item
                .get("seen")
                .and_then(|v| v.as_ss().ok())
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_else(|| {
                    item.keys()
                        .filter_map(|k| k.strip_prefix("seen_"))
                        .map(str::to_string)
                        .collect()
                }),
            acknowledged: item.contains_key(ACKNOWLEDGED_AT),
        })
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        debug_assert!(
            super::schema::OPEN_PROJECTION.contains(&name)
                || [PK, SK, OPEN_PK, OPEN_SINCE].contains(&name),
            "`{name}` is not in the open index's projection"
        );
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
            amounts_source: self
                .attr("amounts_source")
                .and_then(crate::lifecycle::AmountsSource::parse),
            // Kept on the payment item; a later write without it changes nothing.
            price: None,
        }
    }
}

/// A conditional update's answer: applied, or not because its condition no longer
/// held (another writer got there first).
fn applied<T, R>(result: Result<T, SdkError<UpdateItemError, R>>) -> Result<bool, StoreError>
where
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|x| x.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(dynamo(e)),
    }
}

/// What `list_unlisted` put on the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unlisted {
    pub windows: usize,
    pub conflicts: usize,
    pub clashes: usize,
    /// Records moved from a queue nobody walks.
    pub requeued: usize,
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

    /// A query of one whole queue of the `open` index, oldest first.
    fn queue_query(&self, queue: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(self.table())
            .index_name(OPEN_INDEX)
            .key_condition_expression("#q = :q")
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_values(":q", s(queue))
    }

    /// The items of `queue`, oldest first, up to `max`; `true` when there are more.
    pub(super) async fn queue_items(
        &self,
        queue: &str,
        max: usize,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut items = self
            .query_all(self.queue_query(queue), Some(max.saturating_add(1)))
            .await?;
        let more = items.len() > max;
        items.truncate(max);
        Ok((items, more))
    }

    /// The records of `queue`, oldest first, up to `max`, handed over a page at a
    /// time (at most 1 MB each), so a reader keeps no more than it wants of a long
    /// queue; `true` when there are more than `max`.
    pub async fn open_pages(
        &self,
        queue: &str,
        max: usize,
        on_page: &mut (dyn FnMut(Vec<OpenRecord>) + Send),
    ) -> Result<bool, StoreError> {
        let query = self.queue_query(queue);
        let mut handed = 0;
        let mut start = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            let items = page.items();
            let room = max.saturating_sub(handed);
            if items.len() > room {
                on_page(
                    items
                        .iter()
                        .take(room)
                        .filter_map(OpenRecord::from_item)
                        .collect(),
                );
                return Ok(true);
            }
            handed += items.len();
            on_page(items.iter().filter_map(OpenRecord::from_item).collect());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(false);
            }
        }
    }

    /// Every record of `queue`, oldest first, up to `max`; `true` when there are more.
    pub async fn open_all(
        &self,
        queue: &str,
        max: usize,
    ) -> Result<(Vec<OpenRecord>, bool), StoreError> {
        let (items, more) = self.queue_items(queue, max).await?;
        Ok((
            items.iter().filter_map(OpenRecord::from_item).collect(),
            more,
        ))
    }

    /// An operator has looked at the record's conflicts and terminal clash: they
    /// leave the list, keep their history, and conflicts age out like events from
    /// now. Returns how many items were acknowledged.
    pub async fn acknowledge(
        &self,
        provider: &str,
        record_key: &str,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        let pk = super::schema::record_pk(provider, record_key);
        let query = self
            .client
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk")
            // A clashing record still in its own queue stays there: it is only marked.
            .filter_expression(
                "#q IN (:conflict, :clash, :quarantine) OR \
                 (item_type = :state AND contains(flags, :flag) AND attribute_not_exists(#ack))",
            )
            .expression_attribute_values(":quarantine", s(QUARANTINE_QUEUE))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_names("#ack", ACKNOWLEDGED_AT)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":conflict", s(CONFLICT_QUEUE))
            .expression_attribute_values(":clash", s(CLASH_QUEUE))
            .expression_attribute_values(":state", s("state"))
            .expression_attribute_values(":flag", s(crate::lifecycle::TERMINAL_CLASH))
            .consistent_read(true);
        let mut acknowledged = 0;
        for item in self.query_all(query, None).await? {
            let Some(sk) = item.text(SK) else { continue };
            let update = self
                .client
                .update_item()
                .table_name(self.table())
                .key(PK, s(&pk))
                .key(SK, s(sk))
                .expression_attribute_names("#ack", ACKNOWLEDGED_AT)
                .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()));
            let leave = |update: UpdateItemFluentBuilder, queue: &str| {
                update
                    .condition_expression("#q = :queue")
                    .expression_attribute_names("#q", OPEN_PK)
                    .expression_attribute_names("#since", OPEN_SINCE)
                    .expression_attribute_values(":queue", s(queue))
            };
            let update = match item.text(OPEN_PK) {
                Some(q @ (CONFLICT_QUEUE | QUARANTINE_QUEUE)) => leave(update, q)
                    .update_expression("SET #ack = :now, #exp = :exp REMOVE #q, #since")
                    .expression_attribute_names("#exp", super::schema::TTL_ATTRIBUTE)
                    .expression_attribute_values(
                        ":exp",
                        AttributeValue::N((now_ms / 1000 + self.event_ttl_secs).to_string()),
                    ),
                Some(CLASH_QUEUE) => leave(update, CLASH_QUEUE)
                    .update_expression("SET #ack = :now REMOVE #q, #since"),
                _ => update
                    .update_expression("SET #ack = :now")
                    .condition_expression("attribute_not_exists(#ack)"),
            };
            // Not applied: acknowledged meanwhile by someone else.
            if applied(update.send().await)? {
                acknowledged += 1;
            }
        }
        Ok(acknowledged)
    }

    /// Puts on the list what was written before the list had queues of its own:
    /// open resend windows, conflicts and terminal clashes without `open_pk`, and
    /// records in a queue outside `known` (a type nobody documents had a queue of
    /// its own), moved to the queue `requeue` names. One scan of the table, for an
    /// operator once after upgrading; safe to repeat.
    pub async fn list_unlisted(
        &self,
        known: &[&str],
        requeue: impl Fn(&str) -> Option<String>,
    ) -> Result<Unlisted, StoreError> {
        let mut scan = self
            .client
            .scan()
            .table_name(self.table())
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_names("#ack", ACKNOWLEDGED_AT)
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":conflict", s("conflict"))
            .expression_attribute_values(":state", s("state"))
            .expression_attribute_values(":clash", s(crate::lifecycle::TERMINAL_CLASH))
            .expression_attribute_values(":window", s("resend_window"))
            .expression_attribute_values(":open", s("open"));
        let mut names = Vec::new();
        for (i, queue) in known
            .iter()
            .chain(&[RESEND_WINDOW_QUEUE, CONFLICT_QUEUE, CLASH_QUEUE])
            .enumerate()
        {
            names.push(format!(":k{i}"));
            scan = scan.expression_attribute_values(format!(":k{i}"), s(*queue));
        }
        let scan = scan.filter_expression(format!(
            "(attribute_not_exists(#q) AND attribute_not_exists(#ack) AND \
             ((item_type = :conflict) OR (item_type = :state AND contains(flags, :clash)) \
             OR (item_type = :window AND #st = :open))) \
             OR (item_type = :state AND attribute_exists(#q) AND NOT (#q IN ({})))",
            names.join(", ")
        ));
        let mut found = Unlisted::default();
        let mut start = None;
        loop {
            let page = scan
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            for item in page.items() {
                let stray = item.text(OPEN_PK);
                let (queue, since_ms, counter) = match (item.text("item_type"), stray) {
                    (Some("state"), Some(old)) => match requeue(old) {
                        Some(q) => (q, item.int(OPEN_SINCE), &mut found.requeued),
                        None => continue,
                    },
                    (Some("conflict"), _) => (
                        CONFLICT_QUEUE.to_string(),
                        item.int("received_at_ms"),
                        &mut found.conflicts,
                    ),
                    (Some("state"), None) => (
                        CLASH_QUEUE.to_string(),
                        item.int("status_at_ms").or(item.int("last_event_at_ms")),
                        &mut found.clashes,
                    ),
                    _ => (
                        RESEND_WINDOW_QUEUE.to_string(),
                        item.int("start").map(|t| t.saturating_mul(1000)),
                        &mut found.windows,
                    ),
                };
                if self.put_in_queue(item, &queue, since_ms, stray).await? {
                    *counter += 1;
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// Moves `item` into `queue`, unless it was moved meanwhile.
    async fn put_in_queue(
        &self,
        item: &Item,
        queue: &str,
        since_ms: Option<i64>,
        from: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (Some(pk), Some(sk)) = (item.text(PK), item.text(SK)) else {
            return Ok(false);
        };
        let mut update = self
            .client
            .update_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_names("#since", OPEN_SINCE)
            .expression_attribute_values(":q", s(queue))
            .expression_attribute_values(
                ":since",
                AttributeValue::N(since_ms.unwrap_or(0).to_string()),
            );
        update = match from {
            Some(old) => update
                .condition_expression("#q = :old")
                .expression_attribute_values(":old", s(old)),
            None => update.condition_expression("attribute_not_exists(#q)"),
        };
        update = if queue == CONFLICT_QUEUE {
            update
                .update_expression("SET #q = :q, #since = :since REMOVE #exp")
                .expression_attribute_names("#exp", super::schema::TTL_ATTRIBUTE)
        } else {
            update.update_expression("SET #q = :q, #since = :since")
        };
        applied(update.send().await)
    }

    /// Takes a record out of the `open` index while its status is still `status`:
    /// nothing is left to ask about it, though a later notification still moves it.
    /// Returns whether it was closed.
    pub async fn close_open(
        &self,
        provider: &str,
        record_key: &str,
        status: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(self.table())
            .key(PK, s(super::schema::record_pk(provider, record_key)))
            .key(SK, s(super::schema::STATE_SK))
            .update_expression("SET #closed = :now REMOVE #q, #since")
            .condition_expression("#st = :st AND attribute_exists(#q)")
            .expression_attribute_names("#closed", "open_closed_at_ms")
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_names("#since", OPEN_SINCE)
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(status))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .send()
            .await;
        applied(result)
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
            .queue_query(queue)
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
                .queue_query(queue)
                .filter_expression("attribute_not_exists(#st)")
                .expression_attribute_names("#st", "status")
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
