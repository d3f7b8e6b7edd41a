//! The reconciler and what one run did: the types every step shares.

use std::collections::BTreeMap;

use super::pacer::Pacer;
use super::settings::{ReconcilerConfig, Unconfigured};
use crate::ccpayment::api::CcpaymentApi;
use crate::citypay::OrderApi;
use crate::metrics::Metrics;
use crate::store::Store;

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
    pub(super) config: ReconcilerConfig,
    pub(super) store: Store,
    pub(super) metrics: Metrics,
    /// One client per v1 account, with the partition of its windows and budget;
    /// the first account also answers for records stored before accounts were kept.
    pub(super) ccpayment: Vec<(String, CcpaymentApi)>,
    pub(super) ccpayment_v2: Option<(
        crate::ccpayment_v2::api::V2Api,
        crate::ccpayment::credentials::Accounts,
    )>,
    pub(super) citypay: OrderApi,
    /// Shared by clones: one JWT session.
    pub(super) citypay_history: Option<std::sync::Arc<crate::citypay::HistoryApi>>,
    pub(super) v2_pacer: Pacer,
    pub(super) citypay_pacer: Pacer,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("{} step(s) failed: {}", .0.len(), .0.join("; "))]
    Steps(Vec<String>),
}
