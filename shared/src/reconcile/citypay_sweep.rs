//! CityPay order-history sweeps: pages newest first, back to a little before the
//! newest order the last complete walk saw, storing every order we do not hold
//! with the status the order API gives. CityPay never calls back for expiry and
//! has no resend, so this is how orders whose every callback was lost reach their
//! true state; once stored, the re-check step follows them like any other.
//!
//! Requests are paced (`min_interval`) and bounded per run; a walk cut short
//! resumes at its page on the next run (new orders push older ones to later
//! pages, so a resumed walk may see an order twice, never miss one). A rate limit
//! stops the sweep with a doubling pause held in its cursor.

use super::reconciler::{Reconciler, Summary};
use super::settings::CitypaySweepConfig;
use crate::citypay::sweep::{swept_order, SWEEP_SCOPE};
use crate::citypay::{order_record_key, HistoryApi, HistoryError, OrderApi, PROVIDER};
use crate::store::sweep::SweepCursor;
use crate::store::StoreError;

const FIRST_BACKOFF_SECS: i64 = 60;
const MAX_BACKOFF_SECS: i64 = 3600;

impl Reconciler {
    pub(super) async fn citypay_sweep_step(
        &self,
        history: &HistoryApi,
        api: &OrderApi,
        sweep: &CitypaySweepConfig,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let mut cursor = self
            .store
            .sweep_cursor(SWEEP_SCOPE)
            .await?
            .unwrap_or(SweepCursor {
                swept_until: (now - sweep.backfill_secs) * 1000,
                ..SweepCursor::default()
            });
        if now < cursor.not_before {
            sum.citypay_sweep_rate_limited = true;
            return Ok(());
        }
        let stop_before = cursor.swept_until - sweep.overlap_secs * 1000;
        let mut page: u32 = cursor
            .next_id
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        // The newest order of this walk, kept across runs until the walk ends.
        let mut newest = cursor.range.map_or(i64::MIN, |r| r.1);
        for _ in 0..sweep.pages_per_run {
            self.citypay_pacer.wait(sweep.min_interval).await;
            sum.citypay_sweep_pages += 1;
            let listed = match history.page(page, sweep.page_size).await {
                Ok(p) => p,
                Err(HistoryError::RateLimited) => {
                    cursor.backoff_secs =
                        (cursor.backoff_secs * 2).clamp(FIRST_BACKOFF_SECS, MAX_BACKOFF_SECS);
                    cursor.not_before = now + cursor.backoff_secs;
                    sum.citypay_sweep_rate_limited = true;
                    tracing::warn!(
                        provider = PROVIDER,
                        page,
                        pause_secs = cursor.backoff_secs,
                        "order history rate limited"
                    );
                    return self.store.save_sweep_cursor(SWEEP_SCOPE, &cursor).await;
                }
                Err(e) => {
                    tracing::warn!(
                        provider = PROVIDER,
                        page,
                        error = e.code(),
                        "order history sweep failed"
                    );
                    sum.errors.push(format!("citypay sweep: {e}"));
                    return self.store.save_sweep_cursor(SWEEP_SCOPE, &cursor).await;
                }
            };
            cursor.backoff_secs = 0;
            let keys: Vec<String> = listed
                .items
                .iter()
                .map(|i| order_record_key(&i.token))
                .collect();
            let known = self.store.known_records(PROVIDER, &keys).await?;
            let mut reached = false;
            for item in &listed.items {
                let created = item.created_at_ms.unwrap_or(i64::MAX);
                newest = newest.max(created.min(now * 1000));
                if created < stop_before {
                    reached = true;
                    break;
                }
                sum.citypay_swept += 1;
                if known.contains_key(&order_record_key(&item.token)) {
                    continue;
                }
                self.citypay_pacer.wait(sweep.min_interval).await;
                let confirmation = api.fetch(&item.token).await;
                let raw = serde_json::json!({
                    "token": item.token,
                    "createdAtMiliseconds": item.created_at_ms,
                    "status": {"code": item.status.as_str()},
                })
                .to_string();
                let d = swept_order(item, confirmation, raw.as_bytes());
                self.store.record(&d).await?;
                sum.citypay_found_by_sweep += 1;
            }
            match listed.next_page {
                Some(next) if !reached => {
                    page = next;
                    cursor.next_id = Some(page.to_string());
                    cursor.range = Some((0, newest));
                    self.store.save_sweep_cursor(SWEEP_SCOPE, &cursor).await?;
                }
                _ => {
                    // The walk is complete: the next one stops a little before here.
                    if newest > i64::MIN {
                        cursor.swept_until = cursor.swept_until.max(newest);
                    }
                    cursor.next_id = None;
                    cursor.range = None;
                    return self.store.save_sweep_cursor(SWEEP_SCOPE, &cursor).await;
                }
            }
        }
        Ok(())
    }
}
