//! A queue of resend windows per scope (one provider account). Each window is one
//! hour, aligned to the hour, one item `window#<start>` under the scope's partition.
//!
//! Three things open a window: the routine cursor (every hour, once it is older
//! than the settle delay), evidence from a receiver (an answer that was not a
//! success marks its hour as suspect), and a manual request. A window stays open
//! until a resend call for it succeeds; a failed or refused call only pushes its
//! next attempt back. The cursor never skips an hour: it moves past an hour only in
//! the same transaction that opens that hour's window.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::attr::Item;
use super::attr::{dynamo, AttrExt};
use super::error::StoreError;
use super::expr::{n, s};
use super::open::RESEND_WINDOW_QUEUE;
use super::schema::{OPEN_PK, OPEN_SINCE, PK, SK};
use super::table::Store;

pub const HOUR: i64 = 3600;
const CURSOR_SK: &str = "resend-cursor";
/// Done windows are kept this long for the record, then expire.
const DONE_TTL_SECS: i64 = 30 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Manual,
    /// We failed a delivery (a 5xx): something of the hour may not be stored.
    Suspect,
    /// A delivery naming one of our accounts failed its signature: a secret rotated
    /// on one side only, or anyone who knows the App ID (not a secret). Asked about
    /// after every stronger reason, and only with the budget's unreserved share.
    Unverified,
    Routine,
}

/// One hour to ask a provider to resend, in provider-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub reason: Reason,
    /// Every notification of the hour, not only those whose delivery failed.
    pub all_results: bool,
    /// One notification type in the provider's spelling; `None` for all types.
    pub transaction_type: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// Why the last call for it failed, if one did.
    pub last_error: Option<String>,
}

/// An open window with the scope it belongs to, for the operator's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedWindow {
    pub scope: String,
    pub window: Window,
}

fn window_of(item: &Item) -> Option<Window> {
    let (start, end) = (item.int("start")?, item.int("end")?);
    let reason = if item.flag("manual") {
        Reason::Manual
    } else if item.flag("suspect") {
        Reason::Suspect
    } else if item.flag("unverified") {
        Reason::Unverified
    } else {
        Reason::Routine
    };
    Some(Window {
        start,
        end,
        reason,
        all_results: item.text("webhook_result").is_some_and(is_all),
        transaction_type: item
            .text("transaction_type")
            .filter(|t| !is_all(t))
            .map(str::to_string),
        attempts: item.int("attempts").unwrap_or(0),
        next_attempt_at: item.int("next_attempt_at").unwrap_or(0),
        last_error: item.text("last_error").map(str::to_string),
    })
}

impl Store {
    /// Every open window of every scope, oldest hour first, up to `max`; `true`
    /// when there are more.
    pub async fn open_windows(&self, max: usize) -> Result<(Vec<ScopedWindow>, bool), StoreError> {
        let (items, more) = self.queue_items(RESEND_WINDOW_QUEUE, max).await?;
        let windows = items
            .iter()
            .filter_map(|item| {
                Some(ScopedWindow {
                    scope: item.text(PK)?.to_string(),
                    window: window_of(item)?,
                })
            })
            .collect();
        Ok((windows, more))
    }
}

pub fn hour_of(t: i64) -> i64 {
    t.div_euclid(HOUR) * HOUR
}

fn sk(start: i64) -> String {
    format!("window#{start:012}")
}

/// Spellings written by earlier versions ("All Result", "All Type") read the same.
fn is_all(text: &str) -> bool {
    text.trim().to_ascii_lowercase().starts_with("all")
}

/// The windows of one scope, e.g. `reconciler#ccpayment`.
#[derive(Debug, Clone, Copy)]
pub struct Windows<'a> {
    store: &'a Store,
    scope: &'a str,
}

impl Store {
    pub fn windows<'a>(&'a self, scope: &'a str) -> Windows<'a> {
        Windows { store: self, scope }
    }
}

impl Windows<'_> {
    /// Opens (or re-marks) the window of hour `start`. "All results" is sticky: a
    /// later request for failed ones never narrows a window asked to be resent in full.
    fn open_update(
        &self,
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
            "#oq = :oq",
            "#os = :os",
        ];
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":open".into(), s("open")),
            (":start".into(), n(start)),
            (":end".into(), n(start + HOUR)),
            (":type".into(), s("resend_window")),
            (":zero".into(), n(0)),
            (":true".into(), AttributeValue::Bool(true)),
            (":oq".into(), s(RESEND_WINDOW_QUEUE)),
            (":os".into(), n(start * 1000)),
        ]);
        if all_results {
            set.push("webhook_result = :all");
            values.insert(":all".into(), s("all"));
        } else {
            set.push("webhook_result = if_not_exists(webhook_result, :failed)");
            values.insert(":failed".into(), s("failed"));
        }
        // One type asked twice stays that type; two different ones widen to all.
        match transaction_type {
            Some(t) if !is_all(t) => {
                set.push("transaction_type = if_not_exists(transaction_type, :tt)");
                values.insert(":tt".into(), s(t));
            }
            _ => {
                set.push("transaction_type = :alltypes");
                values.insert(":alltypes".into(), s("all"));
            }
        }
        match reason {
            Reason::Manual => set.push("manual = :true"),
            Reason::Suspect => set.push("suspect = :true"),
            Reason::Unverified => set.push("unverified = :true"),
            Reason::Routine => set.push("scheduled = :true"),
        }
        Ok(Update::builder()
            .table_name(self.store.table())
            .key(PK, s(self.scope))
            .key(SK, s(sk(start)))
            .update_expression(format!("SET {} REMOVE expires_at", set.join(", ")))
            .expression_attribute_names("#st", "state")
            .expression_attribute_names("#start", "start")
            .expression_attribute_names("#end", "end")
            .expression_attribute_names("#oq", OPEN_PK)
            .expression_attribute_names("#os", OPEN_SINCE)
            .set_expression_attribute_values(Some(values))
            .build()?)
    }

    async fn apply(&self, u: Update) -> Result<(), StoreError> {
        self.store
            .client
            .update_item()
            .table_name(self.store.table())
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Evidence from a receiver: something at `at` may not have been stored.
    /// `Suspect` or `Unverified`; one window per hour whatever the number of marks.
    pub async fn mark(&self, at: i64, reason: Reason) -> Result<(), StoreError> {
        self.apply(self.open_update(hour_of(at), reason, false, None)?)
            .await
    }

    pub async fn mark_suspect(&self, at: i64) -> Result<(), StoreError> {
        self.mark(at, Reason::Suspect).await
    }

    /// An operator's request: every hour touching `[from, to)`.
    pub async fn queue_manual(
        &self,
        from: i64,
        to: i64,
        all_results: bool,
        transaction_type: Option<&str>,
    ) -> Result<usize, StoreError> {
        let mut count = 0;
        let mut start = hour_of(from);
        while start < to {
            self.apply(self.open_update(start, Reason::Manual, all_results, transaction_type)?)
                .await?;
            start += HOUR;
            count += 1;
        }
        Ok(count)
    }

    /// Opens every routine window whose hour ended at least `settle_secs` ago, moving
    /// the cursor with each. Returns how many were opened.
    pub async fn advance_cursor(
        &self,
        now: i64,
        settle_secs: i64,
        initial: i64,
        max: usize,
    ) -> Result<usize, StoreError> {
        let client = &self.store.client;
        let table = self.store.table();
        let cursor = client
            .get_item()
            .table_name(table)
            .key(PK, s(self.scope))
            .key(SK, s(CURSOR_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?
            .item()
            .and_then(|i| i.int("next_start"));
        let mut next = match cursor {
            Some(c) => c,
            None => {
                let start = hour_of(initial);
                let created = client
                    .put_item()
                    .table_name(table)
                    .item(PK, s(self.scope))
                    .item(SK, s(CURSOR_SK))
                    .item("item_type", s("resend_cursor"))
                    .item("next_start", n(start))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
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
                .table_name(table)
                .key(PK, s(self.scope))
                .key(SK, s(CURSOR_SK))
                .update_expression("SET next_start = :next")
                .condition_expression("next_start = :current")
                .expression_attribute_values(":next", n(next + HOUR))
                .expression_attribute_values(":current", n(next))
                .build()?;
            let result = client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder()
                        .update(self.open_update(next, Reason::Routine, false, None)?)
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
    pub async fn open(&self) -> Result<Vec<Window>, StoreError> {
        let mut out = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .store
                .client
                .query()
                .table_name(self.store.table())
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :w)")
                .filter_expression("#st = :open")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#st", "state")
                .expression_attribute_values(":pk", s(self.scope))
                .expression_attribute_values(":w", s("window#"))
                .expression_attribute_values(":open", s("open"))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(dynamo)?;
            out.extend(page.items().iter().filter_map(window_of));
            start_key = page.last_evaluated_key().cloned();
            if start_key.is_none() {
                return Ok(out);
            }
        }
    }

    pub async fn mark_done(
        &self,
        w: &Window,
        now: i64,
        resend_count: u64,
    ) -> Result<(), StoreError> {
        self.store
            .client
            .update_item()
            .table_name(self.store.table())
            .key(PK, s(self.scope))
            .key(SK, s(sk(w.start)))
            .update_expression(
                "SET #st = :done, asked_at = :now, resend_count = :count, expires_at = :exp, attempts = attempts + :one \
                 REMOVE manual, suspect, unverified, #oq, #os",
            )
            .expression_attribute_names("#st", "state")
            .expression_attribute_names("#oq", OPEN_PK)
            .expression_attribute_names("#os", OPEN_SINCE)
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
    pub async fn mark_failed(&self, w: &Window, now: i64, error: &str) -> Result<(), StoreError> {
        let backoff = (300_i64 << w.attempts.clamp(0, 10)).min(6 * HOUR);
        self.store
            .client
            .update_item()
            .table_name(self.store.table())
            .key(PK, s(self.scope))
            .key(SK, s(sk(w.start)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, reason: Reason, next: i64) -> Window {
        Window {
            start,
            end: start + HOUR,
            reason,
            all_results: false,
            transaction_type: None,
            attempts: 0,
            next_attempt_at: next,
            last_error: None,
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
    fn earlier_spellings_of_all_read_the_same() {
        assert!(is_all("All Result") && is_all("All Type") && is_all("AllType") && is_all("all"));
        assert!(!is_all("Failed") && !is_all("API Deposit"));
    }

    #[test]
    fn hours_align() {
        assert_eq!(hour_of(3 * HOUR + 59), 3 * HOUR);
        assert_eq!(sk(3600), "window#000000003600");
    }
}
