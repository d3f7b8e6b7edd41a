//! `POST /webhooks/alchemypay/{token}`: check the path token (and source address),
//! parse, mask the card number, store, answer 200.

use lambda_http::Request;

use super::keys::{ORDER_QUEUE, PROVIDER};
use super::notification::CardOrder;
use crate::config::{self, ConfigError};
use crate::intake::{self, IpAllowList};
use crate::lifecycle::{amount, AmountsSource, Direction, PaymentView};
use crate::provider::{Confirmed, Provider, ProviderInfo};
use crate::rejection::Rejection;
use crate::secret::Secret;
use crate::store::{Delivery, StatusChange};

pub const SUCCESS_BODY: &str = "success";

pub const INFO: ProviderInfo = ProviderInfo {
    name: PROVIDER,
    title: "Alchemy Pay",
    function: "alchemypay-webhook",
    resource: "AlchemypayWebhookFunction",
    route: "/webhooks/alchemypay/{token}",
    secrets: &["AlchemypayPathToken"],
    success_body: SUCCESS_BODY,
    open_queues: &[ORDER_QUEUE],
    unconfirmable_queues: &[ORDER_QUEUE],
    expiry: None,
};

#[derive(Debug, Clone)]
pub struct AlchemypayConfig {
    pub path_token: Secret,
    pub allowed_ips: IpAllowList,
    pub max_body_bytes: usize,
}

impl AlchemypayConfig {
    pub async fn load() -> Result<Self, ConfigError> {
        Ok(Self {
            path_token: intake::path_token_load(
                "ALCHEMYPAY_PATH_TOKEN",
                "ALCHEMYPAY_PATH_TOKEN_SECRET_ARN",
            )
            .await?,
            allowed_ips: IpAllowList::from_env("ALCHEMYPAY_ALLOWED_IPS")?,
            max_body_bytes: config::parse_or("MAX_BODY_BYTES", 64 * 1024usize)?,
        })
    }
}

/// Alchemy Pay card orders as a provider.
#[derive(Debug, Clone)]
pub struct Alchemypay {
    config: AlchemypayConfig,
}

impl From<AlchemypayConfig> for Alchemypay {
    fn from(config: AlchemypayConfig) -> Self {
        Self { config }
    }
}

impl Provider for Alchemypay {
    const INFO: &'static ProviderInfo = &INFO;
    type Claim = Delivery;

    async fn from_env() -> Result<Self, ConfigError> {
        Ok(AlchemypayConfig::load().await?.into())
    }

    fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    fn accept(&self, req: &Request, body: &[u8], _now: i64) -> Result<Delivery, Rejection> {
        intake::check_path_token(req, &self.config.path_token)?;
        self.config.allowed_ips.check(req)?;
        // The caller knows the path token from here on: a body we cannot read is kept.
        intake::utf8(body).map_err(Rejection::authentic)?;
        let order =
            CardOrder::parse(body).map_err(|e| Rejection::unusable("malformed", e.to_string()))?;
        Ok(to_delivery(order))
    }

    /// No parser found the card number's field: every number shaped like one is masked.
    fn unusable_body(&self, raw: &[u8]) -> String {
        super::redact::mask_card_numbers(&String::from_utf8_lossy(raw))
    }

    async fn confirm(&self, delivery: Delivery, _raw: &[u8]) -> Confirmed {
        Confirmed::Store(delivery)
    }
}

fn to_delivery(o: CardOrder) -> Delivery {
    let status_text = o.status.as_str().to_string();
    // A card order is its own payment; `orderNo` is ours where we created the order.
    let view = PaymentView {
        direction: Direction::Incoming,
        lifecycle: o.status.lifecycle(),
        merchant_ref: Some(o.order_no.clone()),
        user_ref: None,
        currency: o.details.get("cryptoCurrency").cloned(),
        amount_due: amount(o.amounts.get("orderAmount")),
        amount_paid: amount(o.amounts.get("paymentAmount")),
        order: None,
        amounts_source: Some(AmountsSource::UnverifiedNotification),
        price: None,
    };
    Delivery {
        view,
        status: StatusChange::ranked(&status_text, o.status.rank()),
        kind: o.kind,
        refs: o.refs,
        amounts: o.amounts,
        details: o.details,
        flags: o.flags,
        open_queue: Some(ORDER_QUEUE.into()),
        ..Delivery::new(
            PROVIDER,
            o.order_no,
            vec![status_text.clone()],
            status_text,
            o.redacted_body,
        )
    }
}
