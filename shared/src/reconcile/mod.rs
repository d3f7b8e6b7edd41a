//! The scheduled reconciler: makes sure no notification stays lost, within each
//! provider's limits. Every step is bounded; a failing step is reported and the
//! others still run.

mod ccpayment;
mod ccpayment_v2;
mod ccpayment_v2_sweep;
mod citypay;
mod citypay_sweep;
pub mod paging;
pub mod request;

pub use ccpayment_v2_sweep::V2SweepConfig;
pub use citypay_sweep::CitypaySweepConfig;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::ccpayment::api::CcpaymentApi;
use crate::ccpayment::credentials::Accounts;
use crate::citypay::OrderApi;
use crate::config::{self, ConfigError};
use crate::metrics::{Metrics, Unit};
use crate::store::budget::Budget;
use crate::store::{Store, StoreError};

/// Per queue, at most this many are read for the counts in one run.
const UNRESOLVED_PER_QUEUE: usize = 5000;

#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    /// `None` when CCPayment is not configured: its steps are skipped.
    pub ccpayment: Option<(String, Accounts)>,
    /// `None` when CCPayment v2 is not configured: its step is skipped.
    pub ccpayment_v2: Option<(String, crate::ccpayment::credentials::Accounts)>,
    /// Each v2 account's resend allowance; v2 documents none, v1's is the default.
    pub v2_budget: Budget,
    pub v2_recheck_per_run: i32,
    /// Of each v2 account's daily calls, how many an hour marked only by failed
    /// signatures may never take: kept for resends of records by id.
    pub v2_reserved_for_ids: u32,
    /// `None` when sweeps are switched off.
    pub v2_sweep: Option<V2SweepConfig>,
    pub citypay_api_base: String,
    /// This merchant's CityPay customer id; without it no order is confirmed.
    pub citypay_customer_id: Option<String>,
    pub budget: Budget,
    pub resend_settle_secs: i64,
    pub resend_backfill_hours: i64,
    pub backlog_warn_windows: usize,
    pub bill_info_after_secs: i64,
    pub citypay_recheck_per_run: i32,
    /// How long an expired CityPay order is still re-checked for a late payment
    /// before it leaves the open index (a callback still moves it on after that).
    pub citypay_late_payment_grace_secs: i64,
    /// `None` when CityPay's access token is not set: no order-history sweep.
    pub citypay_sweep: Option<citypay_sweep::CitypaySweepConfig>,
    pub stale_after_secs: i64,
    /// The categories of the operator's list that page a human, and after how
    /// many seconds (`paging`).
    pub page_after: Vec<(crate::unresolved::Category, i64)>,
    pub api_timeout: Duration,
    /// How long each provider's steps may take in one run: a slow provider API
    /// never uses up the run the others need.
    pub provider_budget: Duration,
    /// Providers deployed but not (fully) configured: their steps that need the
    /// missing part are skipped, every other provider's steps run.
    pub unconfigured: Vec<Unconfigured>,
}

/// What a deployed provider lacks, said once per run in the log and as the
/// `ProviderUnconfigured` metric (and its alarm). Never holds a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unconfigured {
    pub provider: &'static str,
    pub reason: String,
}

impl Unconfigured {
    fn new(provider: &'static str, reason: impl std::fmt::Display) -> Self {
        Self {
            provider,
            reason: reason.to_string(),
        }
    }
}

/// CityPay is deployed when the template gave the reconciler any of its settings
/// (with `EnableCitypay` false it gives none).
fn citypay_deployed() -> bool {
    [
        "CITYPAY_ACCESS_TOKEN_SECRET_ARN",
        "CITYPAY_ACCESS_TOKEN",
        "CITYPAY_CUSTOMER_ID",
    ]
    .into_iter()
    .any(|name| config::optional(name).is_some())
}

impl ReconcilerConfig {
    /// Fails only on settings every provider shares; a provider whose secret is
    /// missing, unreadable or still the placeholder is listed in `unconfigured`.
    pub async fn load() -> Result<Self, ConfigError> {
        let mut unconfigured = Vec::new();
        let credentials = |provider, names| async move {
            crate::ccpayment::credentials::from_env(names)
                .await
                .map_err(|e| Unconfigured::new(provider, e))
        };
        let v1 = credentials(
            crate::ccpayment::PROVIDER,
            crate::ccpayment::credentials::V1_ENV,
        )
        .await;
        let v2 = credentials(
            crate::ccpayment_v2::PROVIDER,
            crate::ccpayment_v2::receiver::ENV,
        )
        .await;
        let ccpayment = v1
            .unwrap_or_else(|u| {
                unconfigured.push(u);
                None
            })
            .map(|credentials| {
                (
                    config::optional("CCPAYMENT_API_BASE")
                        .unwrap_or_else(|| crate::ccpayment::api::DEFAULT_API_BASE.to_string()),
                    credentials,
                )
            });
        let ccpayment_v2 = v2
            .unwrap_or_else(|u| {
                unconfigured.push(u);
                None
            })
            .map(|accounts| {
                (
                    config::optional("CCPAYMENT_V2_API_BASE")
                        .unwrap_or_else(|| crate::ccpayment_v2::api::DEFAULT_API_BASE.to_string()),
                    accounts,
                )
            });
        let daily_cap = config::parse_or("CCPAYMENT_RESEND_DAILY_CAP", 24u32)?;
        if !(1..=25).contains(&daily_cap) {
            return Err(ConfigError::Invalid {
                name: "CCPAYMENT_RESEND_DAILY_CAP",
                reason: "CCPayment allows at most 25 calls a day".into(),
            });
        }
        let citypay_on = citypay_deployed();
        let citypay_customer_id = match config::optional("CITYPAY_CUSTOMER_ID") {
            None if citypay_on => {
                unconfigured.push(Unconfigured::new(
                    crate::citypay::PROVIDER,
                    "CITYPAY_CUSTOMER_ID is not set (template parameter CitypayCustomerId): \
                     no order can be confirmed",
                ));
                None
            }
            None => None,
            Some(_) => crate::citypay::receiver::customer_id().unwrap_or_else(|e| {
                unconfigured.push(Unconfigured::new(crate::citypay::PROVIDER, e));
                None
            }),
        };
        let citypay_sweep = match citypay_sweep_from_env().await {
            Ok(None) if citypay_on => {
                unconfigured.push(Unconfigured::new(
                    crate::citypay::PROVIDER,
                    "the API access token is still the placeholder: the order-history \
                     sweep is off",
                ));
                None
            }
            Ok(sweep) => sweep,
            Err(e) => {
                unconfigured.push(Unconfigured::new(crate::citypay::PROVIDER, e));
                None
            }
        };
        Ok(Self {
            ccpayment,
            ccpayment_v2,
            v2_budget: Budget {
                daily_cap: config::parse_or("CCPAYMENT_V2_RESEND_DAILY_CAP", 24u32)?,
                min_interval_secs: config::parse_or(
                    "CCPAYMENT_V2_RESEND_MIN_INTERVAL_SECS",
                    61i64,
                )?,
            },
            v2_recheck_per_run: config::parse_or("CCPAYMENT_V2_RECHECK_PER_RUN", 50i32)?,
            v2_reserved_for_ids: config::parse_or("CCPAYMENT_V2_RESEND_RESERVED_FOR_IDS", 12u32)?,
            v2_sweep: v2_sweep_from_env()?,
            citypay_api_base: config::optional("CITYPAY_API_BASE")
                .unwrap_or_else(|| crate::citypay::order_api::DEFAULT_API_BASE.to_string()),
            citypay_customer_id,
            budget: Budget {
                daily_cap,
                // One call a minute, with a second of margin for clock skew.
                min_interval_secs: 61,
            },
            resend_settle_secs: config::parse_or("CCPAYMENT_RESEND_SETTLE_SECS", 4 * 3600i64)?,
            resend_backfill_hours: config::parse_or("CCPAYMENT_RESEND_BACKFILL_HOURS", 0i64)?,
            backlog_warn_windows: config::parse_or("CCPAYMENT_RESEND_BACKLOG_WARN", 3usize)?,
            bill_info_after_secs: config::parse_or("CCPAYMENT_BILL_INFO_AFTER_SECS", 1800i64)?,
            citypay_recheck_per_run: config::parse_or("CITYPAY_RECHECK_PER_RUN", 50i32)?,
            citypay_late_payment_grace_secs: config::parse_or(
                "CITYPAY_LATE_PAYMENT_GRACE_SECS",
                6 * 3600i64,
            )?,
            citypay_sweep,
            stale_after_secs: config::parse_or("STALE_AFTER_SECS", 86_400i64)?,
            page_after: paging::parse(
                &config::optional("PAGE_AFTER_HOURS").unwrap_or_else(|| paging::DEFAULT.into()),
            )
            .map_err(|reason| ConfigError::Invalid {
                name: "PAGE_AFTER_HOURS",
                reason,
            })?,
            api_timeout: Duration::from_secs(5),
            provider_budget: Duration::from_secs(config::parse_or(
                "RECONCILER_PROVIDER_BUDGET_SECS",
                30u64,
            )?),
            unconfigured,
        })
    }
}

/// The CityPay sweep runs when its access token is set (`CITYPAY_ACCESS_TOKEN`, or
/// the secret `CITYPAY_ACCESS_TOKEN_SECRET_ARN` points at, read once per cold start).
async fn citypay_sweep_from_env() -> Result<Option<citypay_sweep::CitypaySweepConfig>, ConfigError>
{
    let token = crate::secrets::string("CITYPAY_ACCESS_TOKEN", "CITYPAY_ACCESS_TOKEN_SECRET_ARN")
        .await?
        .filter(|t| {
            let t = t.expose().trim();
            !t.is_empty() && t != crate::secrets::PLACEHOLDER
        });
    let Some(access_token) = token else {
        return Ok(None);
    };
    let page_size = config::parse_or("CITYPAY_SWEEP_PAGE_SIZE", 50u32)?;
    if !(1..=100).contains(&page_size) {
        return Err(ConfigError::Invalid {
            name: "CITYPAY_SWEEP_PAGE_SIZE",
            reason: "between 1 and 100".into(),
        });
    }
    let min_interval_ms = config::parse_or("CITYPAY_SWEEP_MIN_INTERVAL_MS", 400u64)?;
    if min_interval_ms < 300 {
        return Err(ConfigError::Invalid {
            name: "CITYPAY_SWEEP_MIN_INTERVAL_MS",
            reason: "at least 300: CityPay allows 200 requests a minute".into(),
        });
    }
    Ok(Some(citypay_sweep::CitypaySweepConfig {
        access_token,
        pages_per_run: config::parse_or("CITYPAY_SWEEP_PAGES_PER_RUN", 4u32)?,
        page_size,
        min_interval: Duration::from_millis(min_interval_ms),
        overlap_secs: config::parse_or("CITYPAY_SWEEP_OVERLAP_SECS", 3600i64)?,
        backfill_secs: config::parse_or("CITYPAY_SWEEP_BACKFILL_SECS", 7 * 86_400i64)?,
    }))
}

/// The v2 sweep's settings: `CCPAYMENT_V2_SWEEP_LISTS` names the lists walked
/// (`off` for none), the rest bound its pace and reach.
fn v2_sweep_from_env() -> Result<Option<V2SweepConfig>, ConfigError> {
    let names = config::optional("CCPAYMENT_V2_SWEEP_LISTS")
        .unwrap_or_else(|| "app-deposits,app-withdrawals".to_string());
    if names.trim().eq_ignore_ascii_case("off") || names.trim().is_empty() {
        return Ok(None);
    }
    let mut lists = Vec::new();
    for name in names.split(',') {
        let list = crate::ccpayment_v2::sweep::list_named(name).ok_or_else(|| {
            ConfigError::Invalid {
                name: "CCPAYMENT_V2_SWEEP_LISTS",
                reason: format!(
                    "unknown list {:?}: use app-deposits, app-withdrawals, user-deposits, user-withdrawals or off",
                    name.trim()
                ),
            }
        })?;
        if !lists.contains(&list) {
            lists.push(list);
        }
    }
    let interval_ms = config::parse_or("CCPAYMENT_V2_SWEEP_MIN_INTERVAL_MS", 1000u64)?;
    let max_range_secs = config::parse_or("CCPAYMENT_V2_SWEEP_MAX_RANGE_SECS", 86_400i64)?;
    if !(60..=90 * 86_400).contains(&max_range_secs) {
        return Err(ConfigError::Invalid {
            name: "CCPAYMENT_V2_SWEEP_MAX_RANGE_SECS",
            reason: "must be between 60 s and CCPayment's 90 days".into(),
        });
    }
    Ok(Some(V2SweepConfig {
        lists,
        min_interval: Duration::from_millis(interval_ms),
        requests_per_run: config::parse_or("CCPAYMENT_V2_SWEEP_REQUESTS_PER_RUN", 30u32)?,
        lag_secs: config::parse_or("CCPAYMENT_V2_SWEEP_LAG_SECS", 3900i64)?,
        backfill_secs: config::parse_or("CCPAYMENT_V2_SWEEP_BACKFILL_SECS", 86_400i64)?,
        max_range_secs,
    }))
}

/// What one run did; logged as one line and emitted as metrics.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub resend_calls: u32,
    pub resend_outcome: Option<String>,
    pub resent_notifications: u64,
    pub budget_left: Option<u32>,
    pub windows_opened: usize,
    pub windows_open: usize,
    pub windows_due: usize,
    pub oldest_open_window_age_secs: i64,
    pub manual_windows_queued: usize,
    pub bill_info_calls: u32,
    pub records_reconciled: u32,
    pub v2_checked: u32,
    pub v2_updated: u32,
    pub v2_unconfirmed: u32,
    pub v2_rate_limited: bool,
    /// Providers whose steps used up their time budget this run.
    pub out_of_time: Vec<String>,
    pub v2_resend_calls: u32,
    /// Hours marked only by failed signatures left unasked: the rest of the budget
    /// is kept for resends by record id.
    pub v2_unverified_held: u32,
    pub v2_resent_notifications: u64,
    pub v2_sweep_requests: u32,
    pub v2_swept_records: u32,
    pub v2_found_by_sweep: u32,
    pub v2_sweep_rate_limited: bool,
    /// How far the slowest sweep is behind the newest records it may list.
    pub v2_sweep_behind_secs: i64,
    pub citypay_checked: u32,
    pub citypay_updated: u32,
    pub citypay_expired: u32,
    /// Expired orders past the late-payment grace, out of the open index.
    pub citypay_closed: u32,
    pub citypay_unconfirmed: u32,
    pub citypay_sweep_pages: u32,
    /// Listed orders looked at, and those we did not hold (now stored).
    pub citypay_swept: u32,
    pub citypay_found_by_sweep: u32,
    pub citypay_sweep_rate_limited: bool,
    /// Per category of `crate::unresolved`: everything not resolved, and what of
    /// it is older than the stale limit.
    pub unresolved: BTreeMap<String, usize>,
    pub unresolved_overdue: BTreeMap<String, usize>,
    pub oldest_unresolved_age_secs: i64,
    /// The paging categories whose oldest entry is past their limit, with its age.
    pub needs_a_human: BTreeMap<String, i64>,
    /// Deployed providers whose configuration is missing a part: what they
    /// could not do this run. Not an error of the run: the alarm says it.
    pub unconfigured: Vec<Unconfigured>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Reconciler {
    config: ReconcilerConfig,
    store: Store,
    metrics: Metrics,
    /// One client per v1 account, with the partition of its windows and budget;
    /// the first account also answers for records stored before accounts were kept.
    ccpayment: Vec<(String, CcpaymentApi)>,
    ccpayment_v2: Option<(
        crate::ccpayment_v2::api::V2Api,
        crate::ccpayment::credentials::Accounts,
    )>,
    citypay: OrderApi,
    /// Shared by clones: one JWT session.
    citypay_history: Option<std::sync::Arc<crate::citypay::HistoryApi>>,
    v2_pacer: ccpayment_v2_sweep::Pacer,
    citypay_pacer: ccpayment_v2_sweep::Pacer,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("{} step(s) failed: {}", .0.len(), .0.join("; "))]
    Steps(Vec<String>),
}

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
