//! `POST /webhooks/citypay/{token}`: check the path token (and source address),
//! parse, and for an order confirm the status with CityPay's order API before the
//! state moves. A callback is a claim; the order API is the proof.

use std::time::Duration;

use lambda_http::Request;

use super::callback::{Callback, DepositCallback, OrderCallback};
use super::keys::{deposit_record_key, order_record_key, DEPOSIT_QUEUE, ORDER_QUEUE, PROVIDER};
use super::order_api::{ConfirmError, ConfirmedOrder, OrderApi};
use super::status::{DepositStatus, OrderStatus};
use crate::config::{self, ConfigError};
use crate::intake::{self, IpAllowList};
use crate::lifecycle::{amount, AmountsSource, Direction, PaymentView};
use crate::provider::{Confirmed, Provider, ProviderInfo};
use crate::rejection::Rejection;
use crate::secret::Secret;
use crate::store::{Delivery, StatusChange};

pub const SUCCESS_BODY: &str = "ok";

pub const INFO: ProviderInfo = ProviderInfo {
    name: PROVIDER,
    title: "CityPay",
    function: "citypay-webhook",
    resource: "CitypayWebhookFunction",
    route: "/webhooks/citypay/{token}",
    secrets: &["CitypayPathToken"],
    success_body: SUCCESS_BODY,
    open_queues: &[ORDER_QUEUE, DEPOSIT_QUEUE],
    unconfirmable_queues: &[DEPOSIT_QUEUE],
    expiry: Some(crate::provider::Expiry {
        attribute: "expires_at_ms",
        millis_per_unit: 1,
    }),
};

#[derive(Debug, Clone)]
pub struct CitypayConfig {
    pub path_token: Secret,
    pub allowed_ips: IpAllowList,
    pub max_body_bytes: usize,
    pub api_base: String,
    pub confirm_timeout: Duration,
    /// This merchant's CityPay customer id: an order API answer confirms an order
    /// only when it names it. Without it every order is stored unconfirmed.
    pub customer_id: Option<String>,
}

impl CitypayConfig {
    pub async fn load() -> Result<Self, ConfigError> {
        let timeout_ms = config::parse_or("CITYPAY_CONFIRM_TIMEOUT_MS", 3000u64)?;
        if !(100..=10_000).contains(&timeout_ms) {
            return Err(ConfigError::Invalid {
                name: "CITYPAY_CONFIRM_TIMEOUT_MS",
                reason: "must be between 100 and 10000".into(),
            });
        }
        Ok(Self {
            path_token: intake::path_token_load(
                "CITYPAY_PATH_TOKEN",
                "CITYPAY_PATH_TOKEN_SECRET_ARN",
            )
            .await?,
            allowed_ips: IpAllowList::from_env("CITYPAY_ALLOWED_IPS")?,
            max_body_bytes: config::parse_or("MAX_BODY_BYTES", 64 * 1024usize)?,
            api_base: config::optional("CITYPAY_API_BASE")
                .unwrap_or_else(|| super::order_api::DEFAULT_API_BASE.to_string()),
            confirm_timeout: Duration::from_millis(timeout_ms),
            customer_id: customer_id()?,
        })
    }
}

/// `CITYPAY_CUSTOMER_ID`: digits, as the customer cabinet shows it. Unset, orders
/// are still stored, unconfirmed, and the start-up log says why.
pub fn customer_id() -> Result<Option<String>, ConfigError> {
    let Some(id) = config::optional("CITYPAY_CUSTOMER_ID") else {
        tracing::error!(
            "CITYPAY_CUSTOMER_ID is not set: no CityPay order can be confirmed as this \
             merchant's, every order stays unconfirmed"
        );
        return Ok(None);
    };
    let id = id.trim().to_string();
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::Invalid {
            name: "CITYPAY_CUSTOMER_ID",
            reason: "must be the customer id CityPay's cabinet shows (digits)".into(),
        });
    }
    Ok(Some(id))
}

/// CityPay.io as a provider: the path token authenticates, the order API confirms.
#[derive(Debug, Clone)]
pub struct Citypay {
    config: CitypayConfig,
    api: OrderApi,
}

impl Citypay {
    pub fn new(config: CitypayConfig) -> Result<Self, ConfigError> {
        let api = OrderApi::new(
            &config.api_base,
            config.confirm_timeout,
            config.customer_id.clone(),
        )
        .map_err(|reason| ConfigError::Invalid {
            name: "CITYPAY_API_BASE",
            reason,
        })?;
        Ok(Self { config, api })
    }

    /// What a delivery costs in CPU: everything but the network, with the order
    /// API's answer given as the bytes it sent. For the benchmark.
    #[doc(hidden)]
    pub fn prepare_offline(&self, callback: Callback, raw: &[u8], api_answer: &[u8]) -> Delivery {
        match callback {
            Callback::Order(o) => {
                let confirmation = match self.api.customer_id() {
                    Some(c) => super::order_api::parse_answer(api_answer, &o.order_token, c),
                    None => Err(ConfirmError::OwnerUnconfigured),
                };
                order_delivery(o, confirmation, raw)
            }
            Callback::Deposit(d) => deposit_delivery(d, raw),
        }
    }
}

impl Provider for Citypay {
    const INFO: &'static ProviderInfo = &INFO;
    type Claim = Callback;

    async fn from_env() -> Result<Self, ConfigError> {
        Self::new(CitypayConfig::load().await?)
    }

    fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    fn accept(&self, req: &Request, body: &[u8], _now: i64) -> Result<Callback, Rejection> {
        intake::check_path_token(req, &self.config.path_token)?;
        self.config.allowed_ips.check(req)?;
        // The caller knows the path token from here on: a body we cannot read is kept.
        intake::utf8(body).map_err(Rejection::authentic)?;
        Callback::parse(body).map_err(|e| Rejection::unusable("malformed", e.to_string()))
    }

    async fn confirm(&self, callback: Callback, raw: &[u8]) -> Confirmed {
        Confirmed::Store(match callback {
            Callback::Order(o) => {
                let confirmation = self.api.fetch(&o.order_token).await;
                order_delivery(o, confirmation, raw)
            }
            Callback::Deposit(d) => deposit_delivery(d, raw),
        })
    }
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// The state follows the order API's answer, and so do the order's id, currency
/// and amounts: the callback's own are claims, kept on its event and compared.
/// An answer about another order than the callback's `order_id` confirms nothing.
pub(super) fn order_delivery(
    o: OrderCallback,
    confirmation: Result<ConfirmedOrder, ConfirmError>,
    raw: &[u8],
) -> Delivery {
    let mut flags = o.flags;
    let mut details = o.details;
    let mut refs = o.refs;
    let claimed = OrderStatus::parse(&o.claimed_status);
    let confirmation = confirmation.and_then(|c| match (&c.order_id, refs.get("order_id")) {
        (Some(answer), Some(claim)) if answer != claim => Err(ConfirmError::OrderIdMismatch),
        _ => Ok(c),
    });
    let mut status = None;
    let mut view = PaymentView {
        direction: Direction::Incoming,
        // A reference only the callback gives: the store keeps the first one a
        // record was given, and a different one later is a conflict.
        merchant_ref: refs.get("client_order_id").cloned(),
        ..PaymentView::default()
    };
    match confirmation {
        Ok(confirmed) => {
            view.lifecycle = confirmed.status.lifecycle();
            view.currency = confirmed.currency.clone();
            view.amount_due = amount(confirmed.amount_fiat.as_ref());
            view.amount_paid = confirmed.paid_fiat;
            view.amounts_source = Some(AmountsSource::ProviderApi);
            details.insert(
                "confirmed_status".into(),
                confirmed.status.as_str().to_string(),
            );
            if confirmed.status != claimed {
                flags.insert("status_contradicted".into());
            }
            if let Some(id) = confirmed.order_id {
                refs.insert("order_id".into(), id);
            }
            if let Some(expires) = confirmed.expires_at_ms {
                refs.insert("expires_at_ms".into(), expires.to_string());
            }
            let claim = |name: &str| details.get(name).or(o.amounts.get(name)).cloned();
            let contradicted = claim("fiat_currency")
                .zip(view.currency.clone())
                .is_some_and(|(a, b)| !a.eq_ignore_ascii_case(&b));
            if contradicted {
                flags.insert("currency_contradicted".into());
            }
            if confirmed.status.is_paid() {
                details.insert("paid".into(), "true".into());
            }
            status = StatusChange::ranked(confirmed.status.as_str(), confirmed.status.rank());
            if status.is_none() {
                flags.insert("unknown_status".into());
            }
        }
        Err(e) => {
            flags.insert("unconfirmed".into());
            // CityPay says the token is not this merchant's order, or not the
            // callback's: its reference is a forger's word, and keys nothing.
            if matches!(e, ConfirmError::NotOurs | ConfirmError::OrderIdMismatch) {
                flags.insert(e.code().to_string());
                view.merchant_ref = None;
                if let Some(claimed) = refs.remove("client_order_id") {
                    details.insert("claimed_client_order_id".into(), claimed);
                }
            }
            details.insert("confirm_error".into(), e.code().to_string());
        }
    }
    let dash = || "-".to_string();
    let event_id = vec![
        o.action.unwrap_or_else(dash),
        o.claimed_status.clone(),
        o.transaction_id.unwrap_or_else(dash),
    ];
    Delivery {
        view,
        needs_reconcile: status.is_none(),
        reapply_status_on_duplicate: status.is_some(),
        status,
        kind: Some("order".into()),
        refs,
        amounts: o.amounts,
        details,
        flags,
        open_queue: Some(ORDER_QUEUE.into()),
        ..Delivery::new(
            PROVIDER,
            order_record_key(&o.order_token),
            event_id,
            o.claimed_status,
            text(raw),
        )
    }
}

/// Deposits have no query API: their state follows the callback.
fn deposit_delivery(d: DepositCallback, raw: &[u8]) -> Delivery {
    let parsed = DepositStatus::parse(&d.status);
    let mut flags = d.flags;
    let status = StatusChange::ranked(parsed.as_str(), parsed.rank());
    if status.is_none() {
        flags.insert("unknown_status".into());
    }
    let mut details = d.details;
    if let Some(action) = d.action {
        details.insert("action".into(), action);
    }
    // A deposit to a user's address names no order: found by its own id.
    let view = PaymentView {
        direction: Direction::Incoming,
        lifecycle: parsed.lifecycle(),
        currency: details.get("crypto_currency").cloned(),
        amount_paid: amount(d.amounts.get("received_amount")),
        amounts_source: Some(AmountsSource::UnverifiedNotification),
        ..PaymentView::default()
    };
    Delivery {
        view,
        status,
        kind: Some("deposit".into()),
        refs: d.refs,
        amounts: d.amounts,
        details,
        flags,
        open_queue: Some(DEPOSIT_QUEUE.into()),
        ..Delivery::new(
            PROVIDER,
            deposit_record_key(&d.transaction_id),
            vec![d.status.clone()],
            d.status,
            text(raw),
        )
    }
}
