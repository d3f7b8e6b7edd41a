//! CCPayment API v2, per account: records not final are asked about again with the
//! record APIs (a bounded batch per type and run, round-robin); records we know of
//! but could not confirm are asked to be resent by id (at most 50 a call); hours
//! with evidence of loss are asked to be resent by window. Every resend call takes
//! a slot of the account's budget first.

use std::collections::BTreeMap;

use super::reconciler::{Reconciler, Summary};
use crate::ccpayment::Credentials;
use crate::ccpayment_v2::api::{ApiError, ResendRequest, V2Api, MAX_RESEND_IDS};
use crate::ccpayment_v2::{
    open_queue, reconciled_update, resend_scope, NotificationType, PROVIDER,
};
use crate::store::budget::Slot;
use crate::store::windows;
use crate::store::StoreError;

impl Reconciler {
    pub(super) async fn ccpayment_v2_step(
        &self,
        api: &V2Api,
        accounts: &crate::ccpayment::credentials::Accounts,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let mut unconfirmed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        'kinds: for kind in NotificationType::KNOWN {
            let queue = open_queue(&kind);
            let scope = format!("reconciler#{PROVIDER}#recheck#{}", kind.as_str());
            let batch = self
                .store
                .open_batch(&queue, self.config.v2_recheck_per_run, &scope)
                .await?;
            for record in &batch.records {
                let Some(account) = record.attr("app_id").and_then(|id| accounts.get(id)) else {
                    tracing::warn!(
                        provider = PROVIDER,
                        key = record.record_key.as_str(),
                        "open record of an account no longer configured"
                    );
                    continue;
                };
                sum.v2_checked += 1;
                match api.record(account, &kind, &record.record_key, now).await {
                    Ok(r) => {
                        let Some(update) =
                            reconciled_update(&r, &kind, &account.app_id, now * 1000)
                        else {
                            continue;
                        };
                        if self.store.advance_status(&update).await? {
                            sum.v2_updated += 1;
                        }
                    }
                    // Slow down: this batch's cursor stays, the next run starts here.
                    Err(ApiError::RateLimited) => {
                        sum.v2_rate_limited = true;
                        break 'kinds;
                    }
                    Err(e) => {
                        tracing::warn!(
                            provider = PROVIDER,
                            key = record.record_key.as_str(),
                            error = e.code(),
                            "record re-check failed"
                        );
                        if record.status.is_none() {
                            unconfirmed
                                .entry(account.app_id.clone())
                                .or_default()
                                .push(record.record_key.clone());
                        }
                    }
                }
            }
            self.store.save_round_robin(&scope, &batch).await?;
        }
        for account in accounts.iter() {
            let ids = unconfirmed.remove(&account.app_id).unwrap_or_default();
            self.v2_resend(api, account, ids, now, sum).await?;
        }
        sum.v2_unconfirmed = 0;
        for kind in NotificationType::KNOWN {
            sum.v2_unconfirmed += self
                .store
                .count_open_without_status(&open_queue(&kind))
                .await?;
        }
        Ok(())
    }

    /// At most one resend call per account and run: unconfirmed records first (by
    /// id), else the most urgent hour with evidence of loss.
    async fn v2_resend(
        &self,
        api: &V2Api,
        account: &Credentials,
        mut ids: Vec<String>,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let scope = resend_scope(&account.app_id);
        let queue = self.store.windows(&scope);
        let open = queue.open().await?;
        let window = windows::pick(&open, now, self.config.resend_settle_secs).cloned();
        if ids.is_empty() && window.is_none() {
            return Ok(());
        }
        // An hour marked only by failed signatures (anyone knowing the App ID can
        // fail one) never takes the calls kept for resends by record id.
        let reserved = match &window {
            Some(w) if ids.is_empty() && w.reason == windows::Reason::Unverified => {
                self.config.v2_reserved_for_ids
            }
            _ => 0,
        };
        let (slot, _left) = self
            .config
            .v2_budget
            .take_keeping(&self.store, &scope, now, reserved)
            .await?;
        if slot != Slot::Taken {
            if reserved > 0 && slot == Slot::Exhausted {
                sum.v2_unverified_held += 1;
            }
            return Ok(());
        }
        sum.v2_resend_calls += 1;
        if !ids.is_empty() {
            ids.truncate(MAX_RESEND_IDS);
            match api.resend(account, &ResendRequest::Records(ids), now).await {
                Ok(n) => sum.v2_resent_notifications += n,
                Err(e) => sum.errors.push(format!("ccpayment-v2 resend by id: {e}")),
            }
            return Ok(());
        }
        let Some(w) = window else {
            return Ok(());
        };
        let request = ResendRequest::Window {
            start: w.start,
            end: w.end,
            all_results: w.all_results,
            transaction_type: w.transaction_type.clone(),
        };
        match api.resend(account, &request, now).await {
            Ok(n) => {
                sum.v2_resent_notifications += n;
                queue.mark_done(&w, now, n).await
            }
            Err(e) => queue.mark_failed(&w, now, &e.to_string()).await,
        }
    }
}
