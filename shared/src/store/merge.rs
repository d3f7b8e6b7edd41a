//! A record whose merchant (or user) reference becomes known after its payment
//! exists under the record's own id (a CityPay order found by the sweep, whose
//! callback names the order later): the write that brings the reference moves
//! the record to the reference's payment, in the same transaction as its event.
//!
//! - The record's share (its status, amounts and flags as its state holds them, or
//!   the delivery's where its status advances) joins the reference's payment once:
//!   the state's condition holds it to the pointer and status the cancelled attempt
//!   read, so a retry or a duplicate finds the record moved and adds nothing.
//! - The id-keyed payment gets one last version naming where it went
//!   (`merged_into_*`). Its key is the record's id, so it held this record only.
//! - Only a record without a reference moves. One holding a reference keeps it:
//!   another reference is a conflict, and a write that lacks the record's
//!   reference takes it from the state (`delivery.rs`).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, Update};

use super::attr::{AttrExt, Item};
use super::error::StoreError;
use super::expr::{n, s, update_expression, Expr};
use super::notification::{Delivery, StatusChange};
use super::payment::{
    payment_key, ViewWrite, MERGED_INTO_MERCHANT_REF, MERGED_INTO_PK, MERGED_INTO_SK,
    MERGED_INTO_USER_REF,
};
use super::schema::{changed_pk, CHANGED_AT, CHANGED_PK, PK, SK};
use super::table::Store;
use crate::lifecycle::{amount, AmountsSource, Direction, Lifecycle, PaymentView, TERMINAL_CLASH};

/// How a payment keyed by a record's own id begins.
pub(crate) const ID_PREFIX: &str = "id#";

/// A record's state as a cancelled write found it: keyed by the record's id.
#[derive(Debug, Clone)]
pub(crate) struct Moving {
    from: (String, String),
    rank: Option<i64>,
    status: Option<String>,
    flags: BTreeSet<String>,
    view: PaymentView,
    /// The id-keyed payment is there to close (a record stored before payments
    /// existed has none).
    pub close: bool,
}

impl Moving {
    /// `None` unless the state points at a payment keyed by the record's id.
    pub fn from_state(old: &Item) -> Option<Self> {
        let pk = old.text("payment_pk")?;
        if !pk.starts_with(ID_PREFIX) {
            return None;
        }
        let text = |name: &str| old.text(name).map(str::to_string);
        let dec = |name: &str| amount(old.text(name).map(str::to_string).as_ref());
        Some(Self {
            from: (pk.to_string(), old.text("payment_sk")?.to_string()),
            rank: old.int("status_rank"),
            status: text("status"),
            flags: old
                .get("flags")
                .and_then(|f| f.as_ss().ok())
                .map(|f| f.iter().cloned().collect())
                .unwrap_or_default(),
            view: PaymentView {
                direction: old
                    .text("direction")
                    .and_then(Direction::parse)
                    .unwrap_or_default(),
                lifecycle: old
                    .text("lifecycle")
                    .and_then(Lifecycle::parse)
                    .unwrap_or_default(),
                currency: text("currency"),
                amount_due: dec("amount_due"),
                amount_paid: dec("amount_paid"),
                amounts_source: old.text("amounts_source").and_then(AmountsSource::parse),
                ..PaymentView::default()
            },
            close: true,
        })
    }

    /// What `d` does to the record, judged against the state as read: the
    /// conditions below hold the write to exactly that state.
    pub fn mode(&self, d: &Delivery) -> ViewWrite {
        match &d.status {
            Some(st) if self.rank.is_none_or(|r| i64::from(st.rank) > r) => ViewWrite::Advance,
            Some(st)
                if st.terminal
                    && self.status.as_ref().is_some_and(|s| *s != st.name)
                    && !self.flags.contains(TERMINAL_CLASH) =>
            {
                ViewWrite::Clash
            }
            _ => ViewWrite::Seen,
        }
    }

    /// The state's condition: still pointing where it pointed, at the status read.
    pub fn condition(&self, e: &mut Expr, mode: ViewWrite) -> String {
        let p = e.name("payment_pk");
        let from = e.value(s(&self.from.0));
        let rank = e.name("status_rank");
        let mut c = match self.rank {
            Some(r) => format!("{p} = {from} AND {rank} = {}", e.value(n(r))),
            None => format!("{p} = {from} AND attribute_not_exists({rank})"),
        };
        if mode == ViewWrite::Clash {
            let f = e.name("flags");
            let clash = e.value(s(TERMINAL_CLASH));
            c.push_str(&format!(" AND NOT contains({f}, {clash})"));
        }
        c
    }

    /// The record's share of the reference's payment, as `d` leaves it, and the
    /// write that adds it: the delivery itself where its status advances, else
    /// the state's view under the delivery's references.
    pub fn share(&self, d: &Delivery, mode: ViewWrite) -> (Delivery, ViewWrite) {
        if mode == ViewWrite::Advance {
            return (d.clone(), ViewWrite::Advance);
        }
        let mut flags = self.flags.clone();
        flags.extend(d.flags.iter().cloned());
        if mode == ViewWrite::Clash {
            flags.insert(TERMINAL_CLASH.to_string());
        }
        let status = self.status.as_ref().map(|name| StatusChange {
            name: name.clone(),
            rank: self
                .rank
                .and_then(|r| u8::try_from(r).ok())
                .unwrap_or_default(),
            terminal: false,
        });
        let write = if status.is_some() {
            ViewWrite::Advance
        } else {
            ViewWrite::Create
        };
        let share = Delivery {
            status_text: self.status.clone().unwrap_or_else(|| d.status_text.clone()),
            status,
            flags,
            view: PaymentView {
                merchant_ref: d.view.merchant_ref.clone(),
                user_ref: d.view.user_ref.clone(),
                order: d.view.order.clone(),
                price: d.view.price.clone(),
                ..self.view.clone()
            },
            ..d.clone()
        };
        (share, write)
    }
}

impl Store {
    /// One more version of the id-keyed payment, naming where its record went;
    /// once only.
    pub(super) fn close_update(&self, m: &Moving, d: &Delivery) -> Result<Update, StoreError> {
        let (to_pk, to_sk) = payment_key(d);
        let mut e = Expr::default();
        let now = e.value(n(d.received_at_ms));
        let merged = e.name(MERGED_INTO_PK);
        let mut set = vec![
            format!("{merged} = {}", e.value(s(to_pk))),
            format!("{} = {}", e.name(MERGED_INTO_SK), e.value(s(to_sk))),
            format!("{} = {now}", e.name(CHANGED_AT)),
            format!(
                "{} = {}",
                e.name(CHANGED_PK),
                e.value(s(changed_pk(&m.from.0, d.received_at_ms)))
            ),
        ];
        let version = e.name("version");
        set.push(format!("{version} = {version} + {}", e.value(n(1))));
        for (name, value) in [
            (MERGED_INTO_MERCHANT_REF, &d.view.merchant_ref),
            (MERGED_INTO_USER_REF, &d.view.user_ref),
        ] {
            if let Some(value) = value {
                set.push(format!("{} = {}", e.name(name), e.value(s(value))));
            }
        }
        let condition = format!(
            "attribute_exists({}) AND attribute_not_exists({merged})",
            e.name(PK)
        );
        Ok(Update::builder()
            .table_name(&self.table)
            .key(PK, s(&m.from.0))
            .key(SK, s(&m.from.1))
            .update_expression(update_expression(&set, &[], &[]))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()?)
    }
}

/// A delivery that lacks the reference its record holds: it takes the record's
/// (a reconciler's view read before the record moved, a late status without it).
pub(crate) fn adopt(d: &Delivery, old: &Item) -> Delivery {
    let mut d = d.clone();
    let text = |name: &str| old.text(name).map(str::to_string);
    d.view.merchant_ref = d.view.merchant_ref.take().or_else(|| text("merchant_ref"));
    d.view.user_ref = d.view.user_ref.take().or_else(|| text("user_ref"));
    d.view.order = d.view.order.take().or_else(|| text("payment_order"));
    d
}
