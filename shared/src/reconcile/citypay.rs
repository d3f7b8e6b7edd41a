//! CityPay: every order still open (unconfirmed or not final) is asked about again,
//! a bounded number per run, round-robin across runs. CityPay never calls back for
//! expiry, so an order past its expiry with nothing paid becomes EXPIRED here. An
//! expired order is still asked about for `citypay_late_payment_grace_secs` after
//! its expiry, in case a payment sent late arrives, then leaves the open index.

use super::reconciler::{Reconciler, Summary};
use crate::citypay::{order_token_of, OrderApi, OrderStatus, ORDER_QUEUE, PROVIDER};
use crate::store::{OpenRecord, StatusChange, StatusUpdate, StoreError};

/// Where the round-robin walk through open orders stopped.
const RECHECK_SCOPE: &str = "reconciler#citypay";

impl Reconciler {
    pub(super) async fn citypay_step(
        &self,
        api: &OrderApi,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let batch = self
            .store
            .open_batch(
                ORDER_QUEUE,
                self.config.citypay_recheck_per_run,
                RECHECK_SCOPE,
            )
            .await?;
        for record in &batch.records {
            self.recheck(api, record, now, sum).await?;
        }
        sum.citypay_unconfirmed = self.store.count_open_without_status(ORDER_QUEUE).await?;
        // Round-robin: the next run starts after the last order checked here.
        self.store.save_round_robin(RECHECK_SCOPE, &batch).await
    }

    async fn recheck(
        &self,
        api: &OrderApi,
        record: &OpenRecord,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let record_key = &record.record_key;
        let Some(token) = order_token_of(record_key) else {
            return Ok(());
        };
        sum.citypay_checked += 1;
        let confirmed = match api.fetch(token).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    provider = PROVIDER,
                    key = record_key.as_str(),
                    error = e.code(),
                    "order re-check failed"
                );
                return Ok(());
            }
        };
        let stored_expiry = record
            .attr("expires_at_ms")
            .and_then(|v| v.parse::<i64>().ok());
        let expires_at_ms = confirmed.expires_at_ms.or(stored_expiry);
        let past_expiry = expires_at_ms.is_some_and(|e| e <= now * 1000);
        // Nothing paid (IN_PROGRESS, not UNDERPAID) and the time ran out.
        let expired_locally = confirmed.status == OrderStatus::InProgress && past_expiry;
        let status = if expired_locally {
            OrderStatus::Expired
        } else {
            confirmed.status
        };
        // The answer's currency and amounts, as the receiver takes them.
        let view = crate::lifecycle::PaymentView {
            lifecycle: status.lifecycle(),
            currency: confirmed.currency.clone(),
            amount_due: crate::lifecycle::amount(confirmed.amount_fiat.as_ref()),
            amount_paid: confirmed.paid_fiat,
            amounts_source: Some(crate::lifecycle::AmountsSource::ProviderApi),
            ..record.payment_view()
        };
        let Some(status) = StatusChange::ranked(status.as_str(), status.rank()) else {
            return Ok(());
        };
        let mut flags = std::collections::BTreeSet::from(["reconciled".to_string()]);
        if expired_locally {
            flags.insert("expired_locally".into());
        }
        let update = StatusUpdate {
            provider: PROVIDER,
            record_key: record_key.clone(),
            status,
            flags,
            at_ms: now * 1000,
            view,
        };
        if self.store.advance_status(&update).await? {
            sum.citypay_updated += 1;
            if expired_locally {
                sum.citypay_expired += 1;
            }
        }
        // Expired, and no late payment within the grace: nothing left to ask.
        let grace_ms = self.config.citypay_late_payment_grace_secs * 1000;
        let since = expires_at_ms.or(record.open_since_ms);
        if update.status.name == OrderStatus::Expired.as_str()
            && since.is_some_and(|t| t + grace_ms <= now * 1000)
            && self
                .store
                .close_open(PROVIDER, record_key, &update.status.name, now * 1000)
                .await?
        {
            sum.citypay_closed += 1;
        }
        Ok(())
    }
}
