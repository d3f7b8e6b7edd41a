//! The scheduled reconciler: makes sure no notification stays lost, within each
//! provider's limits. Every step is bounded; a failing step is reported and the
//! others still run.

mod ccpayment;
mod ccpayment_v2;
mod ccpayment_v2_sweep;
mod citypay;
mod citypay_sweep;
mod pacer;
pub mod paging;
mod reconciler;
pub mod request;
mod settings;

pub use reconciler::{Reconciler, RunError, Summary};
pub use settings::{CitypaySweepConfig, ReconcilerConfig, Unconfigured, V2SweepConfig};

use std::time::Duration;

use serde_json::Value;

use crate::ccpayment::api::CcpaymentApi;
use crate::citypay::OrderApi;
use crate::config::{self, ConfigError};
use crate::metrics::{Metrics, Unit};
use crate::store::{Store, StoreError};

/// Per queue, at most this many are read for the counts in one run.
const UNRESOLVED_PER_QUEUE: usize = 5000;

/// A provider's steps cut short by their time budget: what they did stays done
/// (every write is idempotent, every cursor moves only after its work), the rest
/// waits for the next run.
fn out_of_time(
    provider: &str,
    budget: Duration,
    result: Result<(), tokio::time::error::Elapsed>,
    sum: &mut Summary,
) {
    if result.is_err() {
        sum.out_of_time.push(provider.to_string());
        sum.errors.push(format!(
            "{provider}: its {} s budget was used up; the rest waits for the next run",
            budget.as_secs()
        ));
    }
}

impl Reconciler {
    pub fn new(
        config: ReconcilerConfig,
        store: Store,
        metrics: Metrics,
    ) -> Result<Self, ConfigError> {
        let invalid = |name| move |reason| ConfigError::Invalid { name, reason };
        let mut ccpayment = Vec::new();
        if let Some((base, accounts)) = &config.ccpayment {
            for account in accounts.iter() {
                let api = CcpaymentApi::new(base, account.clone(), config.api_timeout)
                    .map_err(invalid("CCPAYMENT_API_BASE"))?;
                ccpayment.push((
                    crate::ccpayment::resend_scope(accounts, &account.app_id),
                    api,
                ));
            }
        }
        let ccpayment_v2 = match &config.ccpayment_v2 {
            None => None,
            Some((base, accounts)) => Some((
                crate::ccpayment_v2::api::V2Api::new(base, config.api_timeout)
                    .map_err(invalid("CCPAYMENT_V2_API_BASE"))?,
                accounts.clone(),
            )),
        };
        let citypay = OrderApi::new(
            &config.citypay_api_base,
            config.api_timeout,
            config.citypay_customer_id.clone(),
        )
        .map_err(invalid("CITYPAY_API_BASE"))?;
        let citypay_history = match &config.citypay_sweep {
            None => None,
            Some(sweep) => Some(std::sync::Arc::new(
                crate::citypay::HistoryApi::new(
                    &config.citypay_api_base,
                    sweep.access_token.clone(),
                    config.api_timeout,
                )
                .map_err(invalid("CITYPAY_API_BASE"))?,
            )),
        };
        Ok(Self {
            config,
            store,
            metrics,
            ccpayment,
            ccpayment_v2,
            citypay,
            citypay_history,
            v2_pacer: Default::default(),
            citypay_pacer: Default::default(),
        })
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        let store_config = config::StoreConfig::from_env()?;
        let client = crate::store::dynamodb_client().await;
        Self::new(
            ReconcilerConfig::load().await?,
            Store::new(client, store_config.table_name, store_config.event_ttl_days),
            Metrics::from_env(),
        )
    }

    /// One invocation: a scheduled event, or a manual request (see `request`).
    pub async fn handle(&self, event: &Value, now: i64) -> Result<Summary, RunError> {
        let mut queued = 0;
        if let Some(req) = request::ManualResend::from_event(event).map_err(RunError::BadRequest)? {
            let scope = self.manual_scope(&req).map_err(RunError::BadRequest)?;
            queued = self
                .store
                .windows(&scope)
                .queue_manual(
                    req.from,
                    req.to,
                    req.all_results,
                    req.transaction_type.as_deref(),
                )
                .await
                .map_err(|e| RunError::Steps(vec![e.to_string()]))?;
            tracing::info!(
                provider = req.provider,
                scope = scope.as_str(),
                from = req.from,
                to = req.to,
                windows = queued,
                "manual resend queued"
            );
        }
        let mut summary = self.run_at(now).await;
        summary.manual_windows_queued = queued;
        if summary.errors.is_empty() {
            Ok(summary)
        } else {
            Err(RunError::Steps(summary.errors))
        }
    }

    /// The partition a manual resend is queued in: its provider's, its account's.
    fn manual_scope(&self, req: &request::ManualResend) -> Result<String, String> {
        let unknown = |id: &str| {
            format!(
                "resend.app_id `{id}` is not a configured {} account",
                req.provider
            )
        };
        if req.provider == crate::ccpayment_v2::PROVIDER {
            let (_, accounts) = self
                .ccpayment_v2
                .as_ref()
                .ok_or("CCPayment v2 is not configured: no account to resend for")?;
            let account = match &req.app_id {
                Some(id) => accounts.get(id).ok_or_else(|| unknown(id))?,
                None => accounts.iter().next().ok_or("no CCPayment v2 account")?,
            };
            return Ok(crate::ccpayment_v2::resend_scope(&account.app_id));
        }
        let found = match &req.app_id {
            Some(id) => self
                .ccpayment
                .iter()
                .find(|(_, api)| api.app_id() == id)
                .ok_or_else(|| unknown(id))?,
            None => self
                .ccpayment
                .first()
                .ok_or("CCPayment v1.0 is not configured: no account to resend for")?,
        };
        Ok(found.0.clone())
    }

    pub async fn run_at(&self, now: i64) -> Summary {
        let mut sum = Summary {
            unconfigured: self.config.unconfigured.clone(),
            ..Summary::default()
        };
        let budget = self.config.provider_budget;
        let ccpayment = tokio::time::timeout(budget, async {
            for (i, (scope, api)) in self.ccpayment.iter().enumerate() {
                if let Err(e) = self.resend_step(api, scope, now, &mut sum).await {
                    sum.errors.push(format!("resend ({}): {e}", api.app_id()));
                }
                if let Err(e) = self.bill_info_step(api, i == 0, now, &mut sum).await {
                    sum.errors
                        .push(format!("bill/info ({}): {e}", api.app_id()));
                }
            }
        })
        .await;
        out_of_time("ccpayment", budget, ccpayment, &mut sum);
        if let Some((api, accounts)) = &self.ccpayment_v2 {
            let v2 = tokio::time::timeout(budget, async {
                if let Err(e) = self.ccpayment_v2_step(api, accounts, now, &mut sum).await {
                    sum.errors.push(format!("ccpayment-v2: {e}"));
                }
                if let Some(sweep) = &self.config.v2_sweep {
                    if let Err(e) = self
                        .ccpayment_v2_sweep_step(api, accounts, sweep, now, &mut sum)
                        .await
                    {
                        sum.errors.push(format!("ccpayment-v2 sweep: {e}"));
                    }
                }
            })
            .await;
            out_of_time("ccpayment-v2", budget, v2, &mut sum);
        }
        let citypay = tokio::time::timeout(budget, async {
            if let (Some(history), Some(sweep)) =
                (&self.citypay_history, &self.config.citypay_sweep)
            {
                if let Err(e) = self
                    .citypay_sweep_step(history, &self.citypay, sweep, now, &mut sum)
                    .await
                {
                    sum.errors.push(format!("citypay sweep: {e}"));
                }
            }
            if let Err(e) = self.citypay_step(&self.citypay, now, &mut sum).await {
                sum.errors.push(format!("citypay: {e}"));
            }
        })
        .await;
        out_of_time("citypay", budget, citypay, &mut sum);
        if let Err(e) = self.unresolved_step(now, &mut sum).await {
            sum.errors.push(format!("unresolved: {e}"));
        }
        self.report(&sum);
        sum
    }

    /// Everything still unresolved, counted per category for the dashboard; what is
    /// overdue is logged (the first 20) so a human can look without the list.
    async fn unresolved_step(&self, now: i64, sum: &mut Summary) -> Result<(), StoreError> {
        // Counted page by page; only the oldest few are kept, for the log.
        let overview = crate::unresolved::overview_oldest(
            &self.store,
            now * 1000,
            self.config.stale_after_secs,
            UNRESOLVED_PER_QUEUE,
            20,
        )
        .await?;
        for e in overview.entries.iter().filter(|e| e.overdue).take(20) {
            tracing::warn!(
                provider = e.provider.unwrap_or("-"),
                category = e.category.as_str(),
                key = e.subject.as_str(),
                age_secs = e.age_secs,
                "unresolved past the stale limit; see payments-ops unresolved"
            );
        }
        for q in &overview.truncated {
            tracing::warn!(
                queue = q.as_str(),
                limit = UNRESOLVED_PER_QUEUE,
                "more unresolved than counted"
            );
        }
        for (category, count) in &overview.counts {
            sum.unresolved.insert((*category).to_string(), count.total);
            sum.unresolved_overdue
                .insert((*category).to_string(), count.overdue);
        }
        sum.oldest_unresolved_age_secs = overview.oldest_age_secs();
        sum.needs_a_human = paging::needs_a_human(&self.config.page_after, &overview.counts);
        Ok(())
    }

    fn report(&self, sum: &Summary) {
        let line = serde_json::to_string(sum).unwrap_or_default();
        if sum.errors.is_empty() {
            tracing::info!(summary = %line, "reconciler run");
        } else {
            tracing::error!(summary = %line, "reconciler run");
        }
        let count = |v: f64| (v, Unit::Count);
        let mut values: Vec<(&str, f64, Unit)> = [
            ("ResendCalls", count(f64::from(sum.resend_calls))),
            ("WindowsOpen", count(sum.windows_open as f64)),
            ("WindowsDue", count(sum.windows_due as f64)),
            ("BillInfoCalls", count(f64::from(sum.bill_info_calls))),
            (
                "RecordsReconciled",
                count(f64::from(sum.records_reconciled)),
            ),
            ("V2Checked", count(f64::from(sum.v2_checked))),
            ("V2Updated", count(f64::from(sum.v2_updated))),
            ("V2Unconfirmed", count(f64::from(sum.v2_unconfirmed))),
            ("V2ResendCalls", count(f64::from(sum.v2_resend_calls))),
            ("V2UnverifiedHeld", count(f64::from(sum.v2_unverified_held))),
            ("V2SweepRequests", count(f64::from(sum.v2_sweep_requests))),
            ("V2FoundBySweep", count(f64::from(sum.v2_found_by_sweep))),
            ("CitypayChecked", count(f64::from(sum.citypay_checked))),
            ("CitypayUpdated", count(f64::from(sum.citypay_updated))),
            ("CitypayExpired", count(f64::from(sum.citypay_expired))),
            ("CitypayClosed", count(f64::from(sum.citypay_closed))),
            ("Unconfirmed", count(f64::from(sum.citypay_unconfirmed))),
            (
                "CitypaySweepPages",
                count(f64::from(sum.citypay_sweep_pages)),
            ),
            (
                "CitypayFoundBySweep",
                count(f64::from(sum.citypay_found_by_sweep)),
            ),
            ("ReconcilerErrors", count(sum.errors.len() as f64)),
        ]
        .into_iter()
        .map(|(n, (v, u))| (n, v, u))
        .collect();
        values.push((
            "OldestUnresolvedAge",
            sum.oldest_unresolved_age_secs as f64,
            Unit::Seconds,
        ));
        values.push((
            "OldestOpenWindowAge",
            sum.oldest_open_window_age_secs as f64,
            Unit::Seconds,
        ));
        if self.config.v2_sweep.is_some() && self.ccpayment_v2.is_some() {
            values.push((
                "V2SweepBehind",
                sum.v2_sweep_behind_secs as f64,
                Unit::Seconds,
            ));
        }
        if let Some(left) = sum.budget_left {
            values.push(("ResendBudgetLeft", f64::from(left), Unit::Count));
        }
        self.metrics.emit(&[("Component", "reconciler")], &values);
        let mut providers: Vec<&str> = sum.unconfigured.iter().map(|u| u.provider).collect();
        providers.dedup();
        for provider in providers {
            let reasons: Vec<&str> = sum
                .unconfigured
                .iter()
                .filter(|u| u.provider == provider)
                .map(|u| u.reason.as_str())
                .collect();
            tracing::warn!(
                provider,
                reason = reasons.join("; ").as_str(),
                "provider not configured: its reconciler steps are skipped, the other \
                 providers' run (docs/operations.md, 'Filling the secrets')"
            );
            self.metrics.emit(
                &[("Component", "reconciler"), ("Provider", provider)],
                &[("ProviderUnconfigured", 1.0, Unit::Count)],
            );
        }
        // Only from a list that was read: a failed read says nothing either way
        // (`ReconcilerErrorsAlarm` says it failed), never "nothing to page".
        let list_read = !sum.unresolved.is_empty();
        for (category, limit) in self.config.page_after.iter().filter(|_| list_read) {
            let age = sum.needs_a_human.get(category.as_str());
            if let Some(age) = age {
                tracing::warn!(
                    category = category.as_str(),
                    oldest_age_secs = *age,
                    limit_secs = *limit,
                    "unresolved needs a human; see payments-ops unresolved"
                );
            }
            self.metrics.emit(
                &[("Component", "reconciler"), ("Category", category.as_str())],
                &[(
                    "UnresolvedNeedsAHuman",
                    f64::from(u8::from(age.is_some())),
                    Unit::Count,
                )],
            );
        }
        for (category, n) in &sum.unresolved {
            let overdue = sum.unresolved_overdue.get(category).copied().unwrap_or(0);
            self.metrics.emit(
                &[("Component", "reconciler"), ("Category", category)],
                &[
                    ("Unresolved", *n as f64, Unit::Count),
                    ("UnresolvedOverdue", overdue as f64, Unit::Count),
                ],
            );
        }
    }
}
