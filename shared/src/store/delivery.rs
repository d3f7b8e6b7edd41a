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
//! - A record keeps the first merchant reference it was given: a write that names
//!   another fails the state's condition, and the notification is kept as a
//!   conflict (`reference_conflict`, on the operator's list) that changes no
//!   payment. Otherwise anyone able to deliver could re-key a paid record onto
//!   another merchant order.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::Serialize;

use super::attr::{dynamo, AttrExt};
use super::error::StoreError;
use super::expr::{n, s, update_expression, Expr};
use super::merge::{adopt, Moving, ID_PREFIX};
use super::notification::{Delivery, Recorded, StatusUpdate};
use super::payment::{decimal, payment_key, Found, ViewWrite};
use super::schema::{self, OPEN_PK, OPEN_SINCE, PK, SK, STATE_SK};
use super::table::Store;
use crate::lifecycle::{REFERENCE_CONFLICT, TERMINAL_CLASH};

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
    // An empty map is left out: nothing reads it, and DynamoDB Local's stream
    // renders one as `{}`, which the SDK's stream client cannot read.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    refs: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    amounts: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
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
    pub async fn record(&self, delivery: &Delivery) -> Result<Recorded, StoreError> {
        let pk = schema::record_pk(delivery.provider, &delivery.record_key);
        let mut event_item =
            self.event_item(delivery, &pk, &schema::event_sk(&delivery.event_id))?;
        let mut mode = first_mode(delivery);
        let mut found = Found::default();
        // The delivery as written once it turned out to name another reference
        // (then kept as a conflict) or to lack the one its record holds.
        let mut own: Option<Delivery> = None;
        let mut conflict = false;
        let mut moving: Option<Moving> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let d = own.as_ref().unwrap_or(delivery);
            let (items, wrote) = match &moving {
                Some(m) => {
                    let (rest, wrote) = self.move_items(d, &pk, m, found, true)?;
                    let mut items = vec![self.event_put(event_item.clone())?];
                    items.extend(rest);
                    (items, wrote)
                }
                None => (
                    self.transaction(d, &pk, event_item.clone(), mode, found)?,
                    mode,
                ),
            };
            let err = match self.transact(items).await {
                Ok(_) if conflict => return Ok(Recorded::Conflict),
                Ok(_) => {
                    return Ok(Recorded::New {
                        state_advanced: wrote == ViewWrite::Advance,
                    })
                }
                Err(e) => e,
            };
            let retries = attempt < MAX_CONTENTION_ATTEMPTS;
            match classify(&err, d) {
                Cancel::Move(m) if retries => moving = Some(*m),
                // The state changed while moving it: start again from what it is now.
                Cancel::StaleState | Cancel::OtherReference(_) | Cancel::Adopt(_)
                    if moving.is_some() && retries =>
                {
                    moving = None;
                    mode = first_mode(d);
                }
                Cancel::NothingToClose if moving.as_ref().is_some_and(|m| m.close) => {
                    if let Some(m) = moving.as_mut() {
                        m.close = false;
                    }
                }
                Cancel::OtherReference(held) if !conflict => {
                    let mut kept = d.clone();
                    kept.flags.insert(REFERENCE_CONFLICT.to_string());
                    event_item = self.event_item(&kept, &pk, &schema::event_sk(&kept.event_id))?;
                    // Beyond the cap it is kept like any event (it ages out), off the list.
                    if self.open_conflicts(&pk).await? < MAX_OPEN_CONFLICTS {
                        reference_conflict(
                            &mut event_item,
                            kept.view.merchant_ref.as_deref(),
                            held,
                            kept.received_at_ms,
                        );
                    }
                    mode = ViewWrite::Seen;
                    own = Some(kept);
                    conflict = true;
                }
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
                Cancel::Adopt(old) if mode != ViewWrite::Create && own.is_none() => {
                    own = Some(adopt(d, &old));
                }
                Cancel::StaleState | Cancel::Adopt(_) if mode != ViewWrite::Seen => {
                    mode = next_mode(d, mode);
                }
                Cancel::OtherCurrency if !found.mixed_currency => {
                    found.mixed_currency = true;
                }
                Cancel::RecordsFull if !found.records_full => {
                    found.records_full = true;
                }
                Cancel::Contended if retries => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Cancel::Contended => return Err(StoreError::Contention(attempt)),
                Cancel::StaleState
                | Cancel::OtherCurrency
                | Cancel::RecordsFull
                | Cancel::OtherReference(_)
                | Cancel::Move(_)
                | Cancel::Adopt(_)
                | Cancel::NothingToClose
                | Cancel::Other => return Err(dynamo(err)),
            }
        }
    }

    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError, HttpResponse>> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
    }

    /// The event put, the state update and, when the view changes, the payment
    /// update, conditioned as described above.
    fn transaction(
        &self,
        d: &Delivery,
        pk: &str,
        event_item: HashMap<String, AttributeValue>,
        mode: ViewWrite,
        found: Found,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = vec![self.event_put(event_item)?];
        items.extend(self.state_and_payment(d, pk, mode, found, true)?);
        Ok(items)
    }

    /// The event's put: only where no item is; a failure returns the one there.
    fn event_put(
        &self,
        event_item: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(event_item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The state update, the reference's payment and the id-keyed payment's close,
    /// in this order, and what the write does to the record's view.
    pub(crate) fn move_items(
        &self,
        d: &Delivery,
        pk: &str,
        m: &Moving,
        found: Found,
        with_event: bool,
    ) -> Result<(Vec<TransactWriteItem>, ViewWrite), StoreError> {
        let mode = m.mode(d);
        let state = self.state_update(d, pk, mode, with_event, Some(m))?;
        let (share, write) = m.share(d, mode);
        let payment = self.payment_update(&share, write, found)?;
        let mut items = vec![
            TransactWriteItem::builder().update(state).build(),
            TransactWriteItem::builder().update(payment).build(),
        ];
        if m.close {
            let close = self.close_update(m, d)?;
            items.push(TransactWriteItem::builder().update(close).build());
        }
        Ok((items, mode))
    }

    /// The state update and, unless nothing the merchant sees changes, the
    /// payment update: always in this order, so a cancellation's reasons say which.
    fn state_and_payment(
        &self,
        d: &Delivery,
        pk: &str,
        mode: ViewWrite,
        found: Found,
        with_event: bool,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let state = self.state_update(d, pk, mode, with_event, None)?;
        let mut items = vec![TransactWriteItem::builder().update(state).build()];
        if mode != ViewWrite::Seen {
            let payment = self.payment_update(d, mode, found)?;
            items.push(TransactWriteItem::builder().update(payment).build());
        }
        Ok(items)
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
        self.transaction(d, &pk, event_item, first_mode(d), Found::default())
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
            view: u.view.clone(),
            ..Delivery::new(
                u.provider,
                u.record_key.clone(),
                Vec::new(),
                u.status.name.clone(),
                String::new(),
            )
        };
        self.advance_state(&d).await
    }

    /// Applies `d.status` to the record's state and payment without writing an
    /// event: for a status confirmed after the event was stored (a duplicate
    /// callback, the reconciler). Returns whether the status advanced.
    async fn advance_state(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        if delivery.status.is_none() {
            return Ok(false);
        }
        let pk = schema::record_pk(delivery.provider, &delivery.record_key);
        let mut found = Found::default();
        let mut own: Option<Delivery> = None;
        let mut moving: Option<Moving> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let d = own.as_ref().unwrap_or(delivery);
            let (items, wrote) = match &moving {
                Some(m) => self.move_items(d, &pk, m, found, false)?,
                None => (
                    self.state_and_payment(d, &pk, ViewWrite::Advance, found, false)?,
                    ViewWrite::Advance,
                ),
            };
            let Err(err) = self.transact(items).await else {
                return Ok(wrote == ViewWrite::Advance);
            };
            let retries = attempt < MAX_CONTENTION_ATTEMPTS;
            match classify_reasons(&err, 0, d) {
                Cancel::Move(m) if retries => moving = Some(*m),
                Cancel::StaleState | Cancel::OtherReference(_) | Cancel::Adopt(_)
                    if moving.is_some() && retries =>
                {
                    moving = None;
                }
                Cancel::NothingToClose if moving.as_ref().is_some_and(|m| m.close) => {
                    if let Some(m) = moving.as_mut() {
                        m.close = false;
                    }
                }
                Cancel::Adopt(old) if own.is_none() => own = Some(adopt(d, &old)),
                // Another reference: the record's own view stays as it is.
                Cancel::StaleState | Cancel::OtherReference(_) => return Ok(false),
                Cancel::OtherCurrency if !found.mixed_currency => found.mixed_currency = true,
                Cancel::RecordsFull if !found.records_full => found.records_full = true,
                Cancel::Contended if retries => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Cancel::Contended => return Err(StoreError::Contention(attempt)),
                _ => return Err(dynamo(err)),
            }
        }
    }

    /// The record's state update for `mode`; `moving` when the record moves to its
    /// reference's payment (then conditioned on the state as read).
    pub(super) fn state_update(
        &self,
        d: &Delivery,
        pk: &str,
        mode: ViewWrite,
        with_event: bool,
        moving: Option<&Moving>,
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
        let seen_name = attribute_safe(seen_status);
        let seen = e.name(&format!("seen_{seen_name}"));
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
        // Every status seen, also as one set the `open` index can project.
        let mut add = vec![format!(
            "{} {}",
            e.name("seen"),
            e.value(AttributeValue::Ss(vec![seen_name]))
        )];
        if with_event {
            add.push(format!("{} {}", e.name("event_count"), e.value(n(1))));
        }
        let mut flags: Vec<String> = d.flags.iter().cloned().collect();
        let mut remove = Vec::new();
        let mut condition = None;
        let open = |e: &mut Expr, set: &mut Vec<String>| {
            if let Some(queue) = &d.open_queue {
                let q = e.name(OPEN_PK);
                let qv = e.value(s(queue));
                set.push(format!("{q} = if_not_exists({q}, {qv})"));
                let since = e.name(OPEN_SINCE);
                set.push(format!("{since} = if_not_exists({since}, {now})"));
            }
        };
        match (&d.status, mode) {
            (Some(st), ViewWrite::Advance) => {
                set.push(format!("{} = {}", e.name("status"), e.value(s(&st.name))));
                let rank_name = e.name("status_rank");
                let rank = e.value(n(i64::from(st.rank)));
                set.push(format!("{rank_name} = {rank}"));
                set.push(format!("{} = {now}", e.name("status_at_ms")));
                if st.terminal {
                    remove.push(e.name(OPEN_PK));
                    remove.push(e.name(OPEN_SINCE));
                } else {
                    open(&mut e, &mut set);
                }
                self.record_view(d, &mut e, &mut set, d.view.lifecycle);
                condition = Some(format!(
                    "(attribute_not_exists({rank_name}) OR {rank_name} < {rank})"
                ));
            }
            (_, ViewWrite::Create) => {
                if d.needs_reconcile {
                    open(&mut e, &mut set);
                }
                self.record_view(d, &mut e, &mut set, crate::lifecycle::Lifecycle::Unknown);
                condition = Some(format!("attribute_not_exists({})", e.name(PK)));
            }
            (Some(st), ViewWrite::Clash) => {
                // Only another terminal status outranks a terminal one: two different
                // final answers for one record is worth a human's look, once.
                flags.push(TERMINAL_CLASH.to_string());
                // On the operator's list until acknowledged, unless the record is
                // still in its own queue (then it is listed from there).
                let q = e.name(OPEN_PK);
                let qv = e.value(s(super::open::CLASH_QUEUE));
                set.push(format!("{q} = if_not_exists({q}, {qv})"));
                let since = e.name(OPEN_SINCE);
                set.push(format!("{since} = if_not_exists({since}, {now})"));
                // A move holds the state to what it read instead (`Moving::condition`).
                if moving.is_none() {
                    let f = e.name("flags");
                    let clash = e.value(s(TERMINAL_CLASH));
                    let status = e.name("status");
                    let name = e.value(s(&st.name));
                    condition = Some(format!(
                        "(attribute_exists({status}) AND {status} <> {name} AND NOT contains({f}, {clash}))"
                    ));
                }
            }
            (None, _) if d.needs_reconcile => open(&mut e, &mut set),
            _ => {}
        }
        // The first merchant reference a record is given stays its reference.
        if matches!(mode, ViewWrite::Advance | ViewWrite::Clash) && moving.is_none() {
            if let (Some(c), Some(r)) = (condition.as_mut(), &d.view.merchant_ref) {
                let k = e.name("merchant_ref");
                let v = e.value(s(r));
                c.push_str(&format!(" AND (attribute_not_exists({k}) OR {k} = {v})"));
            }
        }
        match moving {
            Some(m) => {
                if mode != ViewWrite::Advance {
                    pointers(d, &mut e, &mut set);
                }
                condition = Some(m.condition(&mut e, mode));
            }
            None => {
                if let Some(keyed) = payment_key_condition(d, mode, &mut e) {
                    condition = Some(match condition {
                        Some(c) => format!("{c} AND {keyed}"),
                        None => keyed,
                    });
                }
            }
        }
        if !flags.is_empty() {
            add.push(format!(
                "{} {}",
                e.name("flags"),
                e.value(AttributeValue::Ss(flags))
            ));
        }
        let expression = update_expression(&set, &add, &remove);
        // The old state comes back with a failed condition: it tells a late status
        // from another merchant reference, or from a record still keyed by its id.
        let old = condition
            .as_ref()
            .map(|_| ReturnValuesOnConditionCheckFailure::AllOld);
        Ok(Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(STATE_SK))
            .update_expression(expression)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .set_return_values_on_condition_check_failure(old)
            .build()?)
    }

    /// The record's own share of the view, beside its raw status, and where its
    /// payment item is.
    fn record_view(
        &self,
        d: &Delivery,
        e: &mut Expr,
        set: &mut Vec<String>,
        lifecycle: crate::lifecycle::Lifecycle,
    ) {
        let v = &d.view;
        set.push(format!(
            "{} = {}",
            e.name("lifecycle"),
            e.value(s(lifecycle.as_str()))
        ));
        set.push(format!(
            "{} = {}",
            e.name("direction"),
            e.value(s(v.direction.as_str()))
        ));
        pointers(d, e, set);
        let texts = [
            ("currency", v.currency.clone()),
            ("amount_due", v.amount_due.map(decimal)),
            ("amount_paid", v.amount_paid.map(decimal)),
            (
                "amounts_source",
                v.amounts_source.map(|a| a.as_str().to_string()),
            ),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                set.push(format!("{} = {}", e.name(name), e.value(s(value))));
            }
        }
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
        if self.open_conflicts(pk).await? >= MAX_OPEN_CONFLICTS {
            // Someone able to deliver is varying bodies: counted, not kept.
            self.count_unkept_conflict(pk).await?;
            return Ok(Recorded::Conflict);
        }
        let mut item =
            self.event_item(d, pk, &schema::conflict_sk(&d.event_id, &d.content_sha256))?;
        item.insert("item_type".into(), s("conflict"));
        // Kept, and on the operator's list, until someone has looked at it.
        item.remove(schema::TTL_ATTRIBUTE);
        item.insert(OPEN_PK.into(), s(super::open::CONFLICT_QUEUE));
        item.insert(OPEN_SINCE.into(), n(d.received_at_ms));
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

/// Conflicts kept per record until an operator acknowledges them; beyond, each one
/// is counted on the record's state (`conflicts_unkept`) and raises the `Conflict`
/// metric, but is not kept: a flood of varied bodies cannot grow the table.
pub const MAX_OPEN_CONFLICTS: usize = 20;

impl Store {
    /// The record's conflicts still on the operator's list.
    async fn open_conflicts(&self, pk: &str) -> Result<usize, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .filter_expression("#q = :conflict")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":conflict", s(super::open::CONFLICT_QUEUE))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(usize::try_from(out.count()).unwrap_or(usize::MAX))
    }

    async fn count_unkept_conflict(&self, pk: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(STATE_SK))
            .update_expression("ADD conflicts_unkept :one")
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}

enum Cancel {
    Duplicate(Option<HashMap<String, AttributeValue>>),
    /// The state's condition: the record holds another merchant reference (this one).
    OtherReference(String),
    /// The state's condition: a late status, a record that exists, a clash known.
    StaleState,
    /// The state's condition: the record is keyed by its id and this write brings
    /// its reference. Or, during a move, the state changed since it was read.
    Move(Box<Moving>),
    /// The state's condition: the record has a reference this write lacks.
    Adopt(HashMap<String, AttributeValue>),
    /// The close's condition: the id-keyed payment is not there.
    NothingToClose,
    /// The payment's condition: a paid payment in another currency than its order's.
    OtherCurrency,
    /// The payment's condition: the order lists as many records as it may.
    RecordsFull,
    Contended,
    Other,
}

/// The first attempt's view write: every later one only ever does less.
fn first_mode(d: &Delivery) -> ViewWrite {
    if d.status.is_some() {
        ViewWrite::Advance
    } else {
        ViewWrite::Create
    }
}

fn next_mode(d: &Delivery, failed: ViewWrite) -> ViewWrite {
    match (failed, &d.status) {
        (ViewWrite::Advance, Some(st)) if st.terminal => ViewWrite::Clash,
        _ => ViewWrite::Seen,
    }
}

fn classify<R>(err: &SdkError<TransactWriteItemsError, R>, d: &Delivery) -> Cancel {
    let Some(TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error()
    else {
        return Cancel::Other;
    };
    let reasons = tc.cancellation_reasons();
    if reasons.first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") {
        let old = reasons.first().and_then(|r| r.item().cloned());
        return Cancel::Duplicate(old);
    }
    classify_reasons(err, 1, d)
}

/// The state update's and the payment update's reasons, at `first` and `first + 1`,
/// for the write of `d`.
fn classify_reasons<R>(
    err: &SdkError<TransactWriteItemsError, R>,
    first: usize,
    d: &Delivery,
) -> Cancel {
    let merchant_ref = d.view.merchant_ref.as_deref();
    let Some(TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error()
    else {
        return Cancel::Other;
    };
    let reasons = tc.cancellation_reasons();
    let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
    let others_clear = |skip: usize| {
        (0..reasons.len())
            .filter(|i| *i != skip)
            .all(|i| code(i) == "None")
    };
    if code(first) == "ConditionalCheckFailed" && others_clear(first) {
        let old = reasons.get(first).and_then(|r| r.item());
        let held = old
            .and_then(|item| item.get("merchant_ref"))
            .and_then(|v| v.as_s().ok());
        if let (Some(held), Some(ours)) = (held, merchant_ref) {
            if held != ours {
                return Cancel::OtherReference(held.clone());
            }
        }
        let (ours, _) = payment_key(d);
        let theirs = old.and_then(|item| item.text("payment_pk"));
        return match (old, theirs) {
            (Some(old), Some(_)) if !ours.starts_with(ID_PREFIX) => {
                Moving::from_state(old).map_or(Cancel::StaleState, |m| Cancel::Move(Box::new(m)))
            }
            (Some(old), Some(theirs)) if theirs != ours => Cancel::Adopt(old.clone()),
            _ => Cancel::StaleState,
        };
    }
    if code(first + 2) == "ConditionalCheckFailed" && others_clear(first + 2) {
        // Only a move has a third update, and its condition fails only for an
        // item that is not there (a payment already closed is a state that moved).
        let there = reasons.get(first + 2).and_then(|r| r.item()).is_some();
        return if there {
            Cancel::Other
        } else {
            Cancel::NothingToClose
        };
    }
    if code(first + 1) == "ConditionalCheckFailed" && others_clear(first + 1) {
        // A list that is full is the only other reason the payment's condition has.
        let full = reasons
            .get(first + 1)
            .and_then(|r| r.item())
            .and_then(|item| item.get("records"))
            .and_then(|v| v.as_ss().ok())
            .is_some_and(|r| {
                r.len() >= super::payment::MAX_LISTED_RECORDS && !r.contains(&d.record_key)
            });
        return if full {
            Cancel::RecordsFull
        } else {
            Cancel::OtherCurrency
        };
    }
    if reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
    {
        return Cancel::Contended;
    }
    Cancel::Other
}

/// Where the record's payment is, and the references that key it.
fn pointers(d: &Delivery, e: &mut Expr, set: &mut Vec<String>) {
    let (payment_pk, payment_sk) = payment_key(d);
    set.push(format!(
        "{} = {}",
        e.name("payment_pk"),
        e.value(s(payment_pk))
    ));
    set.push(format!(
        "{} = {}",
        e.name("payment_sk"),
        e.value(s(payment_sk))
    ));
    let v = &d.view;
    for (name, value) in [
        ("merchant_ref", &v.merchant_ref),
        ("user_ref", &v.user_ref),
        ("payment_order", &v.order),
    ] {
        if let Some(value) = value {
            set.push(format!("{} = {}", e.name(name), e.value(s(value))));
        }
    }
}

/// A record belongs to one payment. A write keyed by the record's id finds the
/// state at that payment (else the record has a reference this write lacks); a
/// write with a reference finds it at no id-keyed payment (else the record moves).
fn payment_key_condition(d: &Delivery, mode: ViewWrite, e: &mut Expr) -> Option<String> {
    let (payment_pk, _) = payment_key(d);
    let keyed_by_id = payment_pk.starts_with(ID_PREFIX);
    let writes_payment = matches!(mode, ViewWrite::Advance | ViewWrite::Clash);
    if keyed_by_id && writes_payment {
        let p = e.name("payment_pk");
        let v = e.value(s(payment_pk));
        Some(format!("(attribute_not_exists({p}) OR {p} = {v})"))
    } else if !keyed_by_id && (writes_payment || mode == ViewWrite::Seen) {
        let p = e.name("payment_pk");
        let v = e.value(s(ID_PREFIX));
        Some(format!(
            "(attribute_not_exists({p}) OR NOT begins_with({p}, {v}))"
        ))
    } else {
        None
    }
}

/// On a notification kept for naming another merchant reference: its record's.
pub const HELD_MERCHANT_REF: &str = "held_merchant_ref";

/// The event item of a notification that names another reference than its
/// record's: kept, and on the operator's list (no TTL) until acknowledged.
fn reference_conflict(
    item: &mut HashMap<String, AttributeValue>,
    claimed: Option<&str>,
    held: String,
    at_ms: i64,
) {
    item.remove(schema::TTL_ATTRIBUTE);
    item.insert(OPEN_PK.into(), s(super::open::CONFLICT_QUEUE));
    item.insert(OPEN_SINCE.into(), n(at_ms));
    item.insert(HELD_MERCHANT_REF.into(), s(held));
    if let Some(claimed) = claimed {
        item.insert("merchant_ref".into(), s(claimed));
    }
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
