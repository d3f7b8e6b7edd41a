//! `POST /webhooks/alchemypay/{token}`: check the path token (and source address),
//! parse, mask the card number, store, answer 200.

use lambda_http::{Body, Request, Response};

use super::notification::CardOrder;
use super::PROVIDER;
use crate::config::{self, ConfigError};
use crate::intake::{self, Backend, IpAllowList, Rejection};
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::store::{Delivery, StatusChange, Store};

pub const SUCCESS_BODY: &str = "success";

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

#[derive(Debug, Clone)]
pub struct AlchemypayReceiver {
    config: AlchemypayConfig,
    backend: Backend,
}

impl AlchemypayReceiver {
    pub fn new(config: AlchemypayConfig, store: Store, metrics: Metrics) -> Self {
        Self {
            config,
            backend: Backend { store, metrics },
        }
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            config: AlchemypayConfig::load().await?,
            backend: Backend::from_env().await?,
        })
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        let started = std::time::Instant::now();
        let accepted = self.prepare(&req);
        self.backend
            .respond(PROVIDER, started, accepted, SUCCESS_BODY)
            .await
    }

    /// Everything before the write, without I/O: checks, path token, parse, redact.
    pub fn prepare(&self, req: &Request) -> Result<Delivery, Rejection> {
        let body = intake::precheck(req, self.config.max_body_bytes)?;
        intake::check_path_token(req, &self.config.path_token)?;
        self.config.allowed_ips.check(req)?;
        intake::utf8(body)?;
        let order = CardOrder::parse(body)
            .map_err(|e| Rejection::bad_request("malformed", e.to_string()))?;
        Ok(to_delivery(order, body))
    }
}

fn to_delivery(o: CardOrder, raw: &[u8]) -> Delivery {
    let status_text = o.status.as_str().to_string();
    Delivery {
        status: StatusChange::ranked(&status_text, o.status.rank()),
        kind: o.kind,
        refs: o.refs,
        amounts: o.amounts,
        details: o.details,
        flags: o.flags,
        open_queue: Some(format!("{PROVIDER}#order")),
        ..Delivery::new(
            PROVIDER,
            o.order_no,
            vec![status_text.clone()],
            status_text,
            raw,
            o.redacted_body,
        )
    }
}
