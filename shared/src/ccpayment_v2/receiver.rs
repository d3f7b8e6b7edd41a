//! `POST /webhooks/ccpayment-v2`: the HMAC over the raw body with the secret of the
//! account the `Appid` header names; then the record API's word on the record, since
//! the webhook is only a signed claim. Answered `Success` after the durable write.

use std::time::Duration;

use lambda_http::Request;

use super::api::{ApiError, OrderInfo, Record, V2Api};
use super::keys::{open_queue, resend_scope, OPEN_QUEUES, PROVIDER};
use super::notification::{Envelope, Notification, NotificationType, Status};
use super::signature;
use super::view::{confirmed_status, payment_view};
use crate::ccpayment::credentials::{self, Accounts, EnvNames};
use crate::ccpayment::signature::SignatureError;
use crate::config::{self, ConfigError};
use crate::provider::{Confirmed, Provider, ProviderInfo};
use crate::rejection::Rejection;
use crate::request::single_header;
use crate::store::Delivery;
use crate::timestamp::{Age, Freshness};

/// What CCPayment's docs and its own plugin answer; anything else is retried.
pub const SUCCESS_BODY: &str = "Success";

pub const INFO: ProviderInfo = ProviderInfo {
    name: PROVIDER,
    title: "CCPayment",
    function: "ccpayment-v2-webhook",
    resource: "CcpaymentV2WebhookFunction",
    route: "/webhooks/ccpayment-v2",
    secrets: &["CcpaymentV2Secret"],
    success_body: SUCCESS_BODY,
    open_queues: OPEN_QUEUES,
    unconfirmable_queues: &[],
    expiry: Some(crate::provider::Expiry {
        attribute: "order_expired_at",
        millis_per_unit: 1000,
    }),
};

pub const ENV: EnvNames = EnvNames {
    arn: "CCPAYMENT_V2_SECRET_ARN",
    app_id: "CCPAYMENT_V2_APP_ID",
    secret: "CCPAYMENT_V2_APP_SECRET",
    previous: "CCPAYMENT_V2_APP_SECRET_PREVIOUS",
    previous_until: "CCPAYMENT_V2_APP_SECRET_PREVIOUS_UNTIL",
};

#[derive(Debug, Clone)]
pub struct CcpaymentV2Config {
    pub accounts: Accounts,
    /// Stale timestamps are stored and flagged; beyond the dedupe horizon, refused.
    pub freshness: Freshness,
    pub max_body_bytes: usize,
    pub api_base: String,
    /// How long the record API may take before the event is stored unconfirmed.
    pub confirm_timeout: Duration,
}

impl CcpaymentV2Config {
    pub async fn load() -> Result<Self, ConfigError> {
        let freshness = Freshness::from_env("CCPAYMENT_V2_TIMESTAMP_WINDOW_SECS")?;
        let timeout_ms = config::parse_or("CCPAYMENT_V2_CONFIRM_TIMEOUT_MS", 3000u64)?;
        if !(100..=10_000).contains(&timeout_ms) {
            return Err(ConfigError::Invalid {
                name: "CCPAYMENT_V2_CONFIRM_TIMEOUT_MS",
                reason: "must be between 100 and 10000".into(),
            });
        }
        Ok(Self {
            accounts: credentials::from_env(ENV)
                .await?
                .ok_or(ConfigError::Missing(
                    "CCPAYMENT_V2_SECRET_ARN (or CCPAYMENT_V2_APP_ID)",
                ))?,
            freshness,
            max_body_bytes: config::parse_or("MAX_BODY_BYTES", 64 * 1024usize)?,
            api_base: config::optional("CCPAYMENT_V2_API_BASE")
                .unwrap_or_else(|| super::api::DEFAULT_API_BASE.to_string()),
            confirm_timeout: Duration::from_millis(timeout_ms),
        })
    }
}

/// CCPayment's API v2 as a provider.
#[derive(Debug, Clone)]
pub struct CcpaymentV2 {
    config: CcpaymentV2Config,
    api: V2Api,
}

impl CcpaymentV2 {
    pub fn new(config: CcpaymentV2Config) -> Result<Self, ConfigError> {
        let api = V2Api::new(&config.api_base, config.confirm_timeout).map_err(|reason| {
            ConfigError::Invalid {
                name: "CCPAYMENT_V2_API_BASE",
                reason,
            }
        })?;
        Ok(Self { config, api })
    }
}

impl CcpaymentV2 {
    /// What a delivery costs in CPU: everything but the network, with the record
    /// API's answer given as the bytes it sent. `None` for the registration ping.
    /// For the benchmark.
    #[doc(hidden)]
    pub fn prepare_offline(
        &self,
        claim: Claim,
        raw: &[u8],
        record_answer: &[u8],
    ) -> Option<Delivery> {
        let Claim::Notification {
            notification,
            app_id,
            stale,
        } = claim
        else {
            return None;
        };
        let confirmation = Confirmation {
            record: V2Api::parse_record_answer(record_answer),
            order: None,
        };
        Some(to_delivery(notification, &app_id, stale, confirmation, raw))
    }
}

/// An authentic v2 delivery, before the record API is asked.
// One per delivery, moved once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Claim {
    Activation,
    Notification {
        notification: Notification,
        app_id: String,
        stale: bool,
    },
}

fn signature_rejection(e: SignatureError) -> Rejection {
    let reason = match &e {
        SignatureError::Malformed => {
            "Sign is not 64 hex characters: RSA signatures are not supported, set the account to HMAC-SHA256"
                .to_string()
        }
        other => other.to_string(),
    };
    Rejection::unauthorized(e.code(), reason)
}

impl Provider for CcpaymentV2 {
    const INFO: &'static ProviderInfo = &INFO;
    type Claim = Claim;

    async fn from_env() -> Result<Self, ConfigError> {
        Self::new(CcpaymentV2Config::load().await?)
    }

    fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    fn accept(&self, req: &Request, body: &[u8], now_unix: i64) -> Result<Claim, Rejection> {
        let (headers, account) =
            crate::ccpayment::signature::signed_account(req, &self.config.accounts)?;
        let verified = signature::verify(headers, body, account, now_unix, self.config.freshness)
            .map_err(signature_rejection)?;
        // Signed by CCPayment from here on: a body we cannot read is kept, not refused.
        crate::intake::utf8(body).map_err(Rejection::authentic)?;
        let envelope =
            Envelope::parse(body).map_err(|e| Rejection::unusable("malformed", e.to_string()))?;
        Ok(match envelope {
            Envelope::Activation => Claim::Activation,
            Envelope::Notification(mut notification) => {
                // Counted per delivery (FlaggedByReason): when it last matched.
                if verified.slot == crate::ccpayment::SecretSlot::Previous {
                    notification
                        .flags
                        .insert(crate::ccpayment::receiver::PREVIOUS_SECRET_FLAG.into());
                }
                Claim::Notification {
                    notification,
                    app_id: account.app_id.clone(),
                    stale: verified.age == Age::Stale,
                }
            }
        })
    }

    async fn confirm(&self, claim: Claim, raw: &[u8]) -> Confirmed {
        let Claim::Notification {
            notification: n,
            app_id,
            stale,
        } = claim
        else {
            return Confirmed::Acknowledge {
                kind: "ActivateWebhookURL",
            };
        };
        let now = crate::clock::now_unix();
        let confirmation = match self.config.accounts.get(&app_id) {
            None => Confirmation {
                record: Err(ApiError::BadResponse("account gone".into())),
                order: None,
            },
            Some(account) => {
                let record = self.api.record(account, &n.kind, &n.record_id, now);
                let order_id = n
                    .refs
                    .get("order_id")
                    .filter(|_| n.kind == NotificationType::ApiDeposit);
                match order_id {
                    Some(order_id) => {
                        let (record, order) =
                            tokio::join!(record, self.api.order_info(account, order_id, now));
                        Confirmation {
                            record,
                            order: Some(order),
                        }
                    }
                    None => Confirmation {
                        record: record.await,
                        order: None,
                    },
                }
            }
        };
        Confirmed::Store(to_delivery(n, &app_id, stale, confirmation, raw))
    }

    fn is_loss_evidence(&self, rejection: &Rejection) -> bool {
        crate::ccpayment::signature::is_loss_evidence(rejection)
    }

    /// Per account; a delivery naming no account of ours marks nothing, nor does
    /// an activation ping: it carries no notification, so its refusal (a secret that
    /// differs, or the operator's doctor) is no evidence of one lost.
    fn resend_scope(&self, req: &Request) -> Option<String> {
        if matches!(
            super::notification::Envelope::parse(req.body().as_ref()),
            Ok(super::notification::Envelope::Activation)
        ) {
            return None;
        }
        let app_id = single_header(req, "appid").ok()?;
        self.config
            .accounts
            .get(app_id)
            .map(|a| resend_scope(&a.app_id))
    }
}

/// What the record and order APIs said.
#[derive(Debug)]
pub struct Confirmation {
    pub record: Result<Record, ApiError>,
    pub order: Option<Result<OrderInfo, ApiError>>,
}

/// The state follows the record API; the webhook's own status is the event's key
/// and a claim to compare.
pub fn to_delivery(
    n: Notification,
    app_id: &str,
    stale: bool,
    c: Confirmation,
    raw: &[u8],
) -> Delivery {
    let mut flags = n.flags;
    if stale {
        flags.insert(crate::ccpayment::receiver::STALE_FLAG.into());
    }
    let mut refs = n.refs;
    let mut details = n.details;
    let mut amounts = std::collections::BTreeMap::new();
    refs.insert("app_id".into(), app_id.to_string());
    let mut status = None;
    let mut confirmed = None;
    match c.record {
        Ok(r) => {
            confirmed = Some((r.status.clone(), r.risky));
            status = confirmed_status(&r);
            details.insert("confirmed_status".into(), r.status_text.clone());
            if r.status != n.status {
                flags.insert("status_contradicted".into());
            }
            for (k, v) in r.refs {
                refs.entry(k.to_string()).or_insert(v);
            }
            for (k, v) in r.amounts {
                amounts.insert(k.to_string(), v);
            }
            for (k, v) in r.details {
                details.insert(k.to_string(), v);
            }
            if r.risky {
                flags.insert("risky".into());
            }
            if status.is_none() {
                flags.insert("unknown_status".into());
            }
            if r.status == Status::Success && !r.risky {
                details.insert("paid".into(), "true".into());
            }
        }
        Err(e) => {
            flags.insert("unconfirmed".into());
            details.insert("confirm_error".into(), e.code().to_string());
        }
    }
    match c.order {
        Some(Ok(o)) => {
            details.insert("order_source".into(), o.source.to_string());
            details.insert("order_payments".into(), o.payments.to_string());
            if let Some(v) = o.amount_due {
                amounts.insert("amount_due".into(), v);
            }
            if let Some(v) = o.paid_total {
                amounts.insert("paid_total".into(), v);
            }
            if let Some(v) = o.currency {
                details.insert("order_currency".into(), v);
            }
            if let Some(t) = o.expired_at {
                refs.insert("order_expired_at".into(), t.to_string());
            }
        }
        Some(Err(e)) => {
            details.insert("order_info_error".into(), e.code().to_string());
        }
        None => {}
    }
    let view = payment_view(
        &n.kind,
        confirmed.as_ref().map(|(st, risky)| (st, *risky)),
        &refs,
        &amounts,
        &details,
    );
    let kind = n.kind.as_str().to_string();
    Delivery {
        view,
        needs_reconcile: status.is_none(),
        reapply_status_on_duplicate: status.is_some(),
        status,
        kind: Some(kind),
        refs,
        amounts,
        details,
        flags,
        open_queue: Some(open_queue(&n.kind)),
        ..Delivery::new(
            PROVIDER,
            n.record_id,
            vec![n.status_text.clone()],
            n.status_text,
            String::from_utf8_lossy(raw).into_owned(),
        )
    }
}
