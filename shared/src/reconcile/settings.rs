//! What the reconciler is told: every setting, read once per cold start, and
//! which deployed providers lack a part of theirs.

use std::time::Duration;

use crate::ccpayment::credentials::Accounts;
use crate::ccpayment_v2::NotificationType;
use crate::config::{self, ConfigError};
use crate::secret::Secret;
use crate::store::budget::Budget;

use super::paging;

#[derive(Debug, Clone)]
pub struct V2SweepConfig {
    /// The lists walked, by the type their records are filed under.
    pub lists: Vec<NotificationType>,
    /// At least this long between two requests.
    pub min_interval: Duration,
    pub requests_per_run: u32,
    /// Records younger than this are left to their webhooks. The default, 65
    /// minutes, outlasts CCPayment's documented retries (six, 3,600 s in all), so a
    /// record is found by the sweep only once its own webhook has given up, and is
    /// stored once rather than beside a late retry.
    pub lag_secs: i64,
    /// How far back a sweep that has never run starts.
    pub backfill_secs: i64,
    /// The longest range asked for in one walk (CCPayment refuses too long ones).
    pub max_range_secs: i64,
}

#[derive(Debug, Clone)]
pub struct CitypaySweepConfig {
    pub access_token: Secret,
    pub pages_per_run: u32,
    pub page_size: u32,
    /// At least this long between two requests to CityPay (history and order API).
    pub min_interval: Duration,
    /// How far before the last walk's newest order the next walk goes on: orders
    /// created while a walk ran, and the list's own lag.
    pub overlap_secs: i64,
    /// How far back the first walk goes.
    pub backfill_secs: i64,
}

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
    pub citypay_sweep: Option<CitypaySweepConfig>,
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
async fn citypay_sweep_from_env() -> Result<Option<CitypaySweepConfig>, ConfigError> {
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
    Ok(Some(CitypaySweepConfig {
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
