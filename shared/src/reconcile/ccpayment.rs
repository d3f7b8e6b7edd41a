//! CCPayment recovery: one resend call per run at most, for the most urgent open
//! window, within the budget; and `bill/info` for API deposits and withdrawals
//! still not final after a while.

use std::collections::BTreeMap;

use super::reconciler::{Reconciler, Summary};
use crate::ccpayment::api::{CcpaymentApi, ResendRequest};
use crate::ccpayment::notification::PayStatus;
use crate::ccpayment::{open_queue, OrderType, PROVIDER};
use crate::lifecycle::PaymentView;
use crate::store::budget::Slot;
use crate::store::windows::{self, Window};
use crate::store::{OpenRecord, StatusChange, StatusUpdate, StoreError};

impl Reconciler {
    /// One account's windows and budget, under `scope`; the summary adds up over
    /// accounts (the budget left is the lowest of them).
    pub(super) async fn resend_step(
        &self,
        api: &CcpaymentApi,
        scope: &str,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let c = &self.config;
        let initial = now - c.resend_backfill_hours * windows::HOUR;
        let queue = self.store.windows(scope);
        sum.windows_opened += queue
            .advance_cursor(now, c.resend_settle_secs, initial, 48)
            .await?;
        let mut open = queue.open().await?;
        let picked = windows::pick(&open, now, c.resend_settle_secs).cloned();
        let mut budget_left = None;
        if let Some(w) = picked {
            let (slot, left) = c.budget.take(&self.store, scope, now).await?;
            budget_left = Some(left);
            let outcome = match slot {
                Slot::Taken => {
                    let (outcome, done) = self.ask(api, scope, &w, now, sum).await?;
                    if done {
                        open.retain(|o| o.start != w.start);
                    }
                    outcome
                }
                Slot::TooSoon => "budget: last call under a minute ago".into(),
                Slot::Exhausted => "budget: daily cap reached".into(),
                Slot::Contended => "budget: taken by a concurrent run".into(),
            };
            let outcome = if self.ccpayment.len() > 1 {
                format!("{}: {outcome}", api.app_id())
            } else {
                outcome
            };
            sum.resend_outcome = Some(match sum.resend_outcome.take() {
                Some(before) => format!("{before}; {outcome}"),
                None => outcome,
            });
        }
        let eligible = open
            .iter()
            .filter(|w| w.reason == windows::Reason::Manual || w.end + c.resend_settle_secs <= now)
            .count();
        sum.windows_open += open.len();
        sum.windows_due += eligible;
        sum.oldest_open_window_age_secs = open
            .iter()
            .map(|w| now - w.start)
            .chain([sum.oldest_open_window_age_secs])
            .max()
            .unwrap_or(0);
        let left = match budget_left {
            Some(left) => left,
            None => c.budget.left(&self.store, scope, now).await?,
        };
        sum.budget_left = Some(sum.budget_left.map_or(left, |l| l.min(left)));
        if eligible > c.backlog_warn_windows {
            tracing::warn!(
                scope,
                windows_due = eligible,
                budget_left = sum.budget_left,
                oldest_open_window_age_secs = sum.oldest_open_window_age_secs,
                "resend queue is growing: more windows are due than one call a run can drain; see docs/reconciler.md, 'Resend arithmetic'"
            );
        }
        Ok(())
    }

    async fn ask(
        &self,
        api: &CcpaymentApi,
        scope: &str,
        w: &Window,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(String, bool), StoreError> {
        let request = ResendRequest {
            start: w.start,
            end: w.end,
            all_results: w.all_results,
            transaction_type: w.transaction_type.clone(),
        };
        let queue = self.store.windows(scope);
        sum.resend_calls += 1;
        match api.resend(&request, now).await {
            Ok(count) => {
                queue.mark_done(w, now, count).await?;
                sum.resent_notifications += count;
                let which = if w.all_results { "all" } else { "failed" };
                Ok((
                    format!("window {} asked ({which}), {count} to resend", w.start),
                    true,
                ))
            }
            Err(e) => {
                queue.mark_failed(w, now, &e.to_string()).await?;
                Ok((format!("window {} failed: {e}", w.start), false))
            }
        }
    }

    /// For one account: its records, and for the first account also those stored
    /// before records carried their App ID.
    pub(super) async fn bill_info_step(
        &self,
        api: &CcpaymentApi,
        first_account: bool,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let older_than_ms = (now - self.config.bill_info_after_secs) * 1000;
        // Deposits and withdrawals are never mixed in one call.
        for order_type in [OrderType::ApiDeposit, OrderType::ApiWithdrawal] {
            let kind = order_type.as_str();
            let records = self
                .store
                .open_records(&open_queue(&order_type), older_than_ms, 1000)
                .await?;
            let mut by_order: BTreeMap<String, Vec<OpenRecord>> = BTreeMap::new();
            for r in records {
                let ours = match r.attr("app_id") {
                    Some(id) => id == api.app_id(),
                    None => first_account,
                };
                if !ours {
                    continue;
                }
                if let Some(order) = r.attr("merchant_order_id") {
                    by_order.entry(order.to_string()).or_default().push(r);
                }
            }
            let ids: Vec<String> = by_order.keys().cloned().collect();
            for batch in ids.chunks(100) {
                sum.bill_info_calls += 1;
                let infos = match api.bill_info(batch, now).await {
                    Ok(i) => i,
                    Err(e) => {
                        sum.errors.push(format!("bill/info ({kind}): {e}"));
                        continue;
                    }
                };
                for info in infos {
                    let Some(status) = final_status(&info.status) else {
                        continue;
                    };
                    for record in by_order.get(&info.merchant_order_id).into_iter().flatten() {
                        let view = PaymentView {
                            lifecycle: PayStatus::parse(&status.name).lifecycle(&order_type),
                            ..record.payment_view()
                        };
                        let update = StatusUpdate {
                            provider: PROVIDER,
                            record_key: record.record_key.clone(),
                            status: status.clone(),
                            flags: ["reconciled_by_bill_info".to_string()].into(),
                            at_ms: now * 1000,
                            view,
                        };
                        if self.store.advance_status(&update).await? {
                            sum.records_reconciled += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `bill/info` speaks `Successful`/`Failed`; the webhooks `success`/`failed`.
fn final_status(order_status: &str) -> Option<StatusChange> {
    let name = match order_status.trim().to_ascii_lowercase().as_str() {
        "successful" | "success" => "success",
        "failed" | "fail" => "failed",
        _ => return None,
    };
    StatusChange::ranked(name, Some((3, true)))
}
