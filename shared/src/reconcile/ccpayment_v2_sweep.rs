//! CCPayment v2 sweeps: per account and list, walk the records created in
//! consecutive time ranges (newest first within a range, `nextId` paging), and
//! store every record we never received. That covers lost webhooks and the
//! payments CCPayment sends none for (withdrawals to Cwallet, deposits to
//! addresses flagged as risky).
//!
//! Requests are paced (at most one per `min_interval`, across every list and
//! account), bounded per run (an equal share for each account), and a rate limit (`11004`) stops that account's
//! sweep with a doubling pause held in its cursor. The cursor is saved after every
//! page, so a run cut short resumes where it stood; records are stored
//! idempotently, so a page walked twice changes nothing.

use super::pacer::Pacer;
use super::reconciler::{Reconciler, Summary};
use super::settings::V2SweepConfig;
use crate::ccpayment::credentials::Accounts;
use crate::ccpayment::Credentials;
use crate::ccpayment_v2::api::{ApiError, Page, V2Api};
use crate::ccpayment_v2::sweep::{sweep_scope, swept_delivery, swept_kind};
use crate::ccpayment_v2::{reconciled_update, NotificationType, PROVIDER};
use crate::store::sweep::SweepCursor;
use crate::store::StoreError;

const FIRST_BACKOFF_SECS: i64 = 60;
const MAX_BACKOFF_SECS: i64 = 3600;

/// How walking one list ended this run.
enum Walk {
    Done,
    RateLimited,
}

struct Run<'a> {
    api: &'a V2Api,
    account: &'a Credentials,
    sweep: &'a V2SweepConfig,
    left: u32,
    now: i64,
}

impl Run<'_> {
    async fn pace(&self, pacer: &Pacer) {
        pacer.wait(self.sweep.min_interval).await;
    }
}

impl Reconciler {
    pub(super) async fn ccpayment_v2_sweep_step(
        &self,
        api: &V2Api,
        accounts: &Accounts,
        sweep: &V2SweepConfig,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        // Each account has its own share of the run's requests, so one shop's
        // backlog never starves another's sweep.
        let accounts_n = u32::try_from(accounts.len()).unwrap_or(u32::MAX).max(1);
        let share = (sweep.requests_per_run / accounts_n).max(1);
        for account in accounts.iter() {
            let mut run = Run {
                api,
                account,
                sweep,
                left: share,
                now,
            };
            for list in &sweep.lists {
                match self.sweep_list(&mut run, list, sum).await? {
                    Walk::Done => {}
                    Walk::RateLimited => {
                        sum.v2_sweep_rate_limited = true;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    async fn sweep_list(
        &self,
        run: &mut Run<'_>,
        list: &NotificationType,
        sum: &mut Summary,
    ) -> Result<Walk, StoreError> {
        let scope = sweep_scope(&run.account.app_id, list);
        let mut cursor = match self.store.sweep_cursor(&scope).await? {
            Some(cursor) => cursor,
            // The starting point is fixed the first time, or a backfill shorter
            // than the lag would move on with the clock and never be reached.
            None => {
                let cursor = SweepCursor {
                    swept_until: run.now - run.sweep.backfill_secs,
                    ..SweepCursor::default()
                };
                self.store.save_sweep_cursor(&scope, &cursor).await?;
                cursor
            }
        };
        let horizon = run.now - run.sweep.lag_secs;
        let behind = (horizon - cursor.swept_until).max(0);
        sum.v2_sweep_behind_secs = sum.v2_sweep_behind_secs.max(behind);
        if run.now < cursor.not_before {
            return Ok(Walk::RateLimited);
        }
        while run.left > 0 {
            let (start, end) = match cursor.range {
                Some(range) => range,
                None if cursor.swept_until < horizon => {
                    let range = (
                        cursor.swept_until,
                        horizon.min(cursor.swept_until + run.sweep.max_range_secs),
                    );
                    cursor.range = Some(range);
                    cursor.next_id = None;
                    range
                }
                None => break,
            };
            run.pace(&self.v2_pacer).await;
            run.left -= 1;
            sum.v2_sweep_requests += 1;
            let asked = cursor.next_id.clone();
            let answer = run
                .api
                .list(run.account, list, start, end, asked.as_deref(), run.now)
                .await;
            match answer {
                Ok(page) => {
                    cursor.backoff_secs = 0;
                    self.sweep_page(run, list, &page, sum).await?;
                    match page.next_id {
                        Some(next) if Some(&next) == asked.as_ref() => {
                            sum.errors.push(format!(
                                "ccpayment-v2 sweep of {scope}: the list answered its own cursor again"
                            ));
                            return Ok(Walk::Done);
                        }
                        Some(next) => cursor.next_id = Some(next),
                        None => {
                            cursor.swept_until = end;
                            cursor.range = None;
                            cursor.next_id = None;
                        }
                    }
                    self.store.save_sweep_cursor(&scope, &cursor).await?;
                }
                Err(ApiError::RateLimited) => {
                    cursor.backoff_secs =
                        (cursor.backoff_secs * 2).clamp(FIRST_BACKOFF_SECS, MAX_BACKOFF_SECS);
                    cursor.not_before = run.now + cursor.backoff_secs;
                    self.store.save_sweep_cursor(&scope, &cursor).await?;
                    tracing::warn!(
                        provider = PROVIDER,
                        backoff_secs = cursor.backoff_secs,
                        "list API rate limit: sweep paused"
                    );
                    return Ok(Walk::RateLimited);
                }
                Err(e) => {
                    self.store.save_sweep_cursor(&scope, &cursor).await?;
                    sum.errors
                        .push(format!("ccpayment-v2 sweep of {scope}: {e}"));
                    return Ok(Walk::Done);
                }
            }
        }
        let behind = (horizon - cursor.swept_until).max(0);
        sum.v2_sweep_behind_secs = sum.v2_sweep_behind_secs.max(behind);
        Ok(Walk::Done)
    }

    /// Stores what we never had; moves on what we hold with an older status.
    async fn sweep_page(
        &self,
        run: &mut Run<'_>,
        list: &NotificationType,
        page: &Page,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = page
            .records
            .iter()
            .map(|l| l.record.record_id.clone())
            .collect();
        let known = self.store.known_records(PROVIDER, &ids).await?;
        sum.v2_swept_records += page.records.len() as u32;
        for listed in &page.records {
            let record = &listed.record;
            match known.get(&record.record_id) {
                Some(held) => {
                    let kind = swept_kind(list, listed);
                    let app_id = &run.account.app_id;
                    let Some(update) = reconciled_update(record, &kind, app_id, run.now * 1000)
                    else {
                        continue;
                    };
                    if held.as_deref() == Some(update.status.name.as_str()) {
                        continue;
                    }
                    if self.store.advance_status(&update).await? {
                        sum.v2_updated += 1;
                    }
                }
                None => {
                    let order_id = record
                        .refs
                        .iter()
                        .find(|(k, _)| *k == "order_id")
                        .map(|(_, v)| v.as_str());
                    let order = match order_id {
                        Some(id) if swept_kind(list, listed) == NotificationType::ApiDeposit => {
                            // What is due and paid on the order: paced like the walk,
                            // but never cut by the run's bound, so nothing is stored
                            // half-known for want of a request.
                            run.pace(&self.v2_pacer).await;
                            sum.v2_sweep_requests += 1;
                            Some(run.api.order_info(run.account, id, run.now).await)
                        }
                        _ => None,
                    };
                    let d =
                        swept_delivery(list, listed, &run.account.app_id, order, run.now * 1000);
                    self.store.record(&d).await?;
                    sum.v2_found_by_sweep += 1;
                    tracing::info!(
                        provider = PROVIDER,
                        key = record.record_id.as_str(),
                        status = record.status_text.as_str(),
                        "record found by sweep"
                    );
                }
            }
        }
        Ok(())
    }
}
