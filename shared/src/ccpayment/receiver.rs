//! `POST /webhooks/ccpayment`: the signature over the raw body, then the
//! notification as sent (v1 carries its amounts), answered `success`.

use std::collections::BTreeMap;

use lambda_http::Request;

use super::credentials::Accounts;
use super::keys::{open_queue, resend_scope, OPEN_QUEUES, PROVIDER};
use super::notification::{Notification, OrderType, PayStatus};
use super::signature;
use super::signature::SecretSlot;
use crate::config::{self, ConfigError};
use crate::lifecycle::{amount, AmountsSource, PaymentView};
use crate::provider::{Confirmed, Provider, ProviderInfo};
use crate::rejection::Rejection;
use crate::request::single_header;
use crate::store::{Delivery, StatusChange};
use crate::timestamp::{Age, Freshness};

/// The body CCPayment requires; anything else counts as a failed delivery.
pub const SUCCESS_BODY: &str = "success";

/// An authentic delivery whose timestamp is outside the freshness window.
pub const STALE_FLAG: &str = "stale_timestamp";

/// A delivery signed with the secret before the last rotation, still accepted.
pub const PREVIOUS_SECRET_FLAG: &str = "previous_secret";

pub const INFO: ProviderInfo = ProviderInfo {
    name: PROVIDER,
    title: "CCPayment",
    function: "ccpayment-webhook",
    resource: "CcpaymentWebhookFunction",
    route: "/webhooks/ccpayment",
    secrets: &["CcpaymentSecret"],
    success_body: SUCCESS_BODY,
    open_queues: OPEN_QUEUES,
    unconfirmable_queues: &[],
    expiry: None,
};

#[derive(Debug, Clone)]
pub struct CcpaymentConfig {
    /// One or more accounts (shops); the `Appid` header selects one.
    pub accounts: Accounts,
    /// Stale timestamps are stored and flagged; beyond the dedupe horizon, refused.
    pub freshness: Freshness,
    pub max_body_bytes: usize,
}

impl CcpaymentConfig {
    pub async fn load() -> Result<Self, ConfigError> {
        let freshness = Freshness::from_env("CCPAYMENT_TIMESTAMP_WINDOW_SECS")?;
        Ok(Self {
            accounts: crate::ccpayment::credentials::from_env(
                crate::ccpayment::credentials::V1_ENV,
            )
            .await?
            .ok_or(ConfigError::Missing(
                "CCPAYMENT_SECRET_ARN (or CCPAYMENT_APP_ID)",
            ))?,
            freshness,
            max_body_bytes: config::parse_or("MAX_BODY_BYTES", 64 * 1024usize)?,
        })
    }
}

/// CCPayment's v1.0 API as a provider.
#[derive(Debug, Clone)]
pub struct Ccpayment {
    config: CcpaymentConfig,
}

impl From<CcpaymentConfig> for Ccpayment {
    fn from(config: CcpaymentConfig) -> Self {
        Self { config }
    }
}

impl Provider for Ccpayment {
    const INFO: &'static ProviderInfo = &INFO;
    type Claim = Delivery;

    async fn from_env() -> Result<Self, ConfigError> {
        Ok(CcpaymentConfig::load().await?.into())
    }

    fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    fn accept(&self, req: &Request, body: &[u8], now_unix: i64) -> Result<Delivery, Rejection> {
        let (headers, account) =
            crate::ccpayment::signature::signed_account(req, &self.config.accounts)?;
        let verified = signature::verify(headers, body, account, now_unix, self.config.freshness)
            .map_err(|e| Rejection::unauthorized(e.code(), e.to_string()))?;
        // Signed by CCPayment from here on: a body we cannot read is kept, not refused.
        let text = crate::intake::utf8(body).map_err(Rejection::authentic)?;
        let n = Notification::parse(body)
            .map_err(|e| Rejection::unusable("malformed", e.to_string()))?;
        let mut delivery = to_delivery(n, &account.app_id, text);
        if verified.age == Age::Stale {
            delivery.flags.insert(STALE_FLAG.into());
        }
        // Counted per delivery (FlaggedByReason): when it last matched.
        if verified.slot == SecretSlot::Previous {
            delivery.flags.insert(PREVIOUS_SECRET_FLAG.into());
        }
        Ok(delivery)
    }

    async fn confirm(&self, delivery: Delivery, _raw: &[u8]) -> Confirmed {
        Confirmed::Store(delivery)
    }

    fn is_loss_evidence(&self, rejection: &Rejection) -> bool {
        super::signature::is_loss_evidence(rejection)
    }

    /// Per account; a delivery naming no account of ours marks nothing.
    fn resend_scope(&self, req: &Request) -> Option<String> {
        let app_id = single_header(req, "appid").ok()?;
        self.config
            .accounts
            .get(app_id)
            .map(|a| resend_scope(&self.config.accounts, &a.app_id))
    }
}

fn to_delivery(n: Notification, app_id: &str, text: &str) -> Delivery {
    let status_text = n.pay_status.as_str().to_string();
    let kind = n.order_type.as_str().to_string();
    let mut refs = n.refs;
    refs.insert("app_id".into(), app_id.to_string());
    let amounts: BTreeMap<String, String> =
        n.amounts.into_iter().map(|(k, a)| (k, a.text)).collect();
    let view = payment_view(&n.order_type, &n.pay_status, &refs, &amounts, &n.details);
    Delivery {
        view,
        status: StatusChange::ranked(&status_text, n.pay_status.rank()),
        kind: Some(kind.clone()).filter(|k| !k.is_empty()),
        refs,
        amounts,
        details: n.details,
        flags: n.flags,
        open_queue: Some(open_queue(&n.order_type)),
        ..Delivery::new(
            PROVIDER,
            n.record_id,
            vec![status_text.clone()],
            status_text,
            text.to_string(),
        )
    }
}

/// A deposit or invoice names the merchant order it pays; CCPayment makes one
/// record per payment, so the merchant follows the order (per account), its paid
/// amounts summed against `order_amount`, both in the paid coin.
pub fn payment_view(
    kind: &OrderType,
    status: &PayStatus,
    refs: &BTreeMap<String, String>,
    amounts: &BTreeMap<String, String>,
    details: &BTreeMap<String, String>,
) -> PaymentView {
    let direction = kind.direction();
    let merchant_ref = refs.get("merchant_order_id").cloned();
    let order = match (&merchant_ref, kind) {
        (Some(r), OrderType::ApiDeposit | OrderType::Invoice) => Some(format!(
            "{}#{r}",
            refs.get("app_id").map_or("", String::as_str)
        )),
        _ => None,
    };
    let paid = ["paid_amount", "withdraw_amount", "amount"]
        .iter()
        .find_map(|k| amount(amounts.get(*k)));
    PaymentView {
        direction,
        lifecycle: status.lifecycle(kind),
        merchant_ref,
        user_ref: refs.get("user_id").cloned(),
        currency: details.get("crypto").cloned(),
        amount_due: amount(amounts.get("order_amount")),
        amount_paid: paid,
        order,
        amounts_source: Some(AmountsSource::SignedNotification),
        price: None,
    }
}
