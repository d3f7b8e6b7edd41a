//! The queue of CCPayment resend windows. Each window is one hour, aligned to the
//! hour, one item `window#<start>` under the reconciler's partition.
//!
//! Three things open a window: the routine cursor (every hour, once it is older
//! than the settle delay), evidence from the receiver (an answer that was not a
//! success marks its hour as suspect), and a manual request. A window stays open
//! until a resend call for it succeeds; a failed or refused call only pushes its
//! next attempt back. The cursor never skips an hour: it moves past an hour only in
//! the same transaction that opens that hour's window.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::budget::PK;
use crate::store::{Store, StoreError};

pub const HOUR: i64 = 3600;
const CURSOR_SK: &str = "resend-cursor";
/// Done windows are kept this long for the record, then expire.
const DONE_TTL_SECS: i64 = 30 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Manual,
    Suspect,
    Routine,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub reason: Reason,
    pub webhook_result: String,
    pub transaction_type: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

pub fn hour_of(t: i64) -> i64 {
    t.div_euclid(HOUR) * HOUR
}

fn sk(start: i64) -> String {
    format!("window#{start:012}")
}

fn dynamo(e: impl std::error::Error) -> StoreError {
    StoreError::Dynamo(DisplayErrorContext(&e).to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Opens (or re-marks) the window of hour `start`. `All Result` is sticky: a later
/// `Failed` request never narrows a window someone asked to be resent in full.
fn open_update(
    store: &Store,
    start: i64,
    reason: Reason,
    all_results: bool,
    transaction_type: Option<&str>,
) -> Result<Update, StoreError> {
    let mut set = vec![
        "#st = :open",
        "#start = :start",
        "#end = :end",
        "item_type = :type",
        "attempts = if_not_exists(attempts, :zero)",
        "next_attempt_at = if_not_exists(next_attempt_at, :zero)",
    ];
    let mut values: HashMap<String, AttributeValue> = HashMap::from([
        (":open".into(), s("open")),
        (":start".into(), n(start)),
        (":end".into(), n(start + HOUR)),
        (":type".into(), s("resend_window")),
        (":zero".into(), n(0)),
        (":true".into(), AttributeValue::Bool(true)),
    ]);
    if all_results {
        set.push("webhook_result = :all");
        values.insert(":all".into(), s("All Result"));
    } else {
        set.push("webhook_result = if_not_exists(webhook_result, :failed)");
        values.insert(":failed".into(), s("Failed"));
    }
    // One type asked twice stays that type; two different ones widen to all.
    match transaction_type {
        Some(t) if t != "All Type" => {
            set.push("transaction_type = if_not_exists(transaction_type, :tt)");
            values.insert(":tt".into(), s(t));
        }
        _ => {
            set.push("transaction_type = :alltypes");
            values.insert(":alltypes".into(), s("All Type"));
        }
    }
    match reason {
        Reason::Manual => set.push("manual = :true"),
        Reason::Suspect => set.push("suspect = :true"),
        Reason::Routine => set.push("scheduled = :true"),
    }
    Ok(Update::builder()
        .table_name(store.table())
        .key("pk", s(PK))
        .key("sk", s(sk(start)))
        .update_expression(format!("SET {} REMOVE expires_at", set.join(", ")))
        .expression_attribute_names("#st", "state")
        .expression_attribute_names("#start", "start")
        .expression_attribute_names("#end", "end")
        .set_expression_attribute_values(Some(values))
        .build()?)
}

async fn apply(store: &Store, u: Update) -> Result<(), StoreError> {
    store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(u.key))
        .update_expression(u.update_expression)
        .set_expression_attribute_names(u.expression_attribute_names)
        .set_expression_attribute_values(u.expression_attribute_values)
        .send()
        .await
        .map_err(dynamo)?;
    Ok(())
}

/// Evidence from the receiver: something at `at` may not have been stored.
pub async fn mark_suspect(store: &Store, at: i64) -> Result<(), StoreError> {
    apply(
        store,
        open_update(store, hour_of(at), Reason::Suspect, false, None)?,
    )
    .await
}

/// An operator's request: every hour touching `[from, to)`.
pub async fn queue_manual(
    store: &Store,
    from: i64,
    to: i64,
    all_results: bool,
    transaction_type: Option<&str>,
) -> Result<usize, StoreError> {
    let mut count = 0;
    let mut start = hour_of(from);
    while start < to {
        apply(
            store,
            open_update(store, start, Reason::Manual, all_results, transaction_type)?,
        )
        .await?;
        start += HOUR;
        count += 1;
    }
    Ok(count)
}

/// Opens every routine window whose hour ended at least `settle_secs` ago, moving
/// the cursor with each. Returns how many were opened.
pub async fn advance_cursor(
    store: &Store,
    now: i64,
    settle_secs: i64,
    initial: i64,
    max: usize,
) -> Result<usize, StoreError> {
    let client = store.client();
    let cursor = client
        .get_item()
        .table_name(store.table())
        .key("pk", s(PK))
        .key("sk", s(CURSOR_SK))
        .consistent_read(true)
        .send()
        .await
        .map_err(dynamo)?
        .item()
        .and_then(|i| i.get("next_start")?.as_n().ok()?.parse::<i64>().ok());
    let mut next = match cursor {
        Some(c) => c,
        None => {
            let start = hour_of(initial);
            let created = client
                .put_item()
                .table_name(store.table())
                .item("pk", s(PK))
                .item("sk", s(CURSOR_SK))
                .item("item_type", s("resend_cursor"))
                .item("next_start", n(start))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match created {
                Ok(_) => start,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|x| x.is_conditional_check_failed_exception()) =>
                {
                    return Ok(0)
                }
                Err(e) => return Err(dynamo(e)),
            }
        }
    };
    let mut opened = 0;
    while opened < max && next + HOUR + settle_secs <= now {
        let move_cursor = Update::builder()
            .table_name(store.table())
            .key("pk", s(PK))
            .key("sk", s(CURSOR_SK))
            .update_expression("SET next_start = :next")
            .condition_expression("next_start = :current")
            .expression_attribute_values(":next", n(next + HOUR))
            .expression_attribute_values(":current", n(next))
            .build()?;
        let result = client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(open_update(store, next, Reason::Routine, false, None)?)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(move_cursor).build())
            .send()
            .await;
        match result {
            Ok(_) => {
                next += HOUR;
                opened += 1;
            }
            // Another run moved the cursor: it opened that window; stop here.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_transaction_canceled_exception()) =>
            {
                break
            }
            Err(e) => return Err(dynamo(e)),
        }
    }
    Ok(opened)
}

/// Every open window, oldest first.
pub async fn open_windows(store: &Store) -> Result<Vec<Window>, StoreError> {
    let mut out = Vec::new();
    let mut start_key = None;
    loop {
        let page = store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :w)")
            .filter_expression("#st = :open")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":pk", s(PK))
            .expression_attribute_values(":w", s("window#"))
            .expression_attribute_values(":open", s("open"))
            .consistent_read(true)
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(dynamo)?;
        for item in page.items() {
            let num = |k: &str| item.get(k).and_then(|v| v.as_n().ok()?.parse::<i64>().ok());
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            let flag = |k: &str| {
                item.get(k)
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false)
            };
            let (Some(start), Some(end)) = (num("start"), num("end")) else {
                continue;
            };
            let reason = if flag("manual") {
                Reason::Manual
            } else if flag("suspect") {
                Reason::Suspect
            } else {
                Reason::Routine
            };
            out.push(Window {
                start,
                end,
                reason,
                webhook_result: text("webhook_result").unwrap_or_else(|| "Failed".into()),
                transaction_type: text("transaction_type").unwrap_or_else(|| "All Type".into()),
                attempts: num("attempts").unwrap_or(0),
                next_attempt_at: num("next_attempt_at").unwrap_or(0),
            });
        }
        start_key = page.last_evaluated_key().cloned();
        if start_key.is_none() {
            return Ok(out);
        }
    }
}

/// The window to ask next: manual, then suspect, then routine; oldest first within
/// each; only those past their back-off, and (except manual ones) past the settle delay.
pub fn pick(windows: &[Window], now: i64, settle_secs: i64) -> Option<&Window> {
    windows
        .iter()
        .filter(|w| w.next_attempt_at <= now)
        .filter(|w| w.reason == Reason::Manual || w.end + settle_secs <= now)
        .min_by_key(|w| (w.reason, w.start))
}

pub async fn mark_done(
    store: &Store,
    w: &Window,
    now: i64,
    resend_count: u64,
) -> Result<(), StoreError> {
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", s(PK))
        .key("sk", s(sk(w.start)))
        .update_expression(
            "SET #st = :done, asked_at = :now, resend_count = :count, expires_at = :exp, attempts = attempts + :one \
             REMOVE manual, suspect",
        )
        .expression_attribute_names("#st", "state")
        .expression_attribute_values(":done", s("done"))
        .expression_attribute_values(":now", n(now))
        .expression_attribute_values(":count", n(i64::try_from(resend_count).unwrap_or(i64::MAX)))
        .expression_attribute_values(":exp", n(now + DONE_TTL_SECS))
        .expression_attribute_values(":one", n(1))
        .send()
        .await
        .map_err(dynamo)?;
    Ok(())
}

/// A failed or refused call: the window stays open and is retried after a back-off
/// that doubles from five minutes up to six hours.
pub async fn mark_failed(
    store: &Store,
    w: &Window,
    now: i64,
    error: &str,
) -> Result<(), StoreError> {
    let backoff = (300_i64 << w.attempts.clamp(0, 10)).min(6 * HOUR);
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", s(PK))
        .key("sk", s(sk(w.start)))
        .update_expression(
            "SET next_attempt_at = :next, last_error = :err, attempts = attempts + :one",
        )
        .expression_attribute_values(":next", n(now + backoff))
        .expression_attribute_values(":err", s(error.chars().take(200).collect::<String>()))
        .expression_attribute_values(":one", n(1))
        .send()
        .await
        .map_err(dynamo)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, reason: Reason, next: i64) -> Window {
        Window {
            start,
            end: start + HOUR,
            reason,
            webhook_result: "Failed".into(),
            transaction_type: "All Type".into(),
            attempts: 0,
            next_attempt_at: next,
        }
    }

    #[test]
    fn manual_then_suspect_then_routine_oldest_first() {
        let now = 100 * HOUR;
        let ws = vec![
            w(10 * HOUR, Reason::Routine, 0),
            w(20 * HOUR, Reason::Suspect, 0),
            w(30 * HOUR, Reason::Suspect, 0),
        ];
        assert_eq!(pick(&ws, now, 3 * HOUR).unwrap().start, 20 * HOUR);
        let mut with_manual = ws.clone();
        with_manual.push(w(99 * HOUR, Reason::Manual, 0));
        assert_eq!(
            pick(&with_manual, now, 3 * HOUR).unwrap().start,
            99 * HOUR,
            "manual ignores settle"
        );
    }

    #[test]
    fn settle_and_backoff_hold_windows_back() {
        let now = 10 * HOUR;
        let recent = vec![w(8 * HOUR, Reason::Suspect, 0)];
        assert!(
            pick(&recent, now, 2 * HOUR).is_none(),
            "ended 1 h ago, settle is 2 h"
        );
        let backing_off = vec![w(HOUR, Reason::Routine, now + 1)];
        assert!(pick(&backing_off, now, 0).is_none());
    }

    #[test]
    fn hours_align() {
        assert_eq!(hour_of(3 * HOUR + 59), 3 * HOUR);
        assert_eq!(sk(3600), "window#000000003600");
    }
}
