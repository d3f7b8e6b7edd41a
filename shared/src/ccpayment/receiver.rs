//! `POST /webhooks/ccpayment`: authenticate, parse, store, answer `success`.

use lambda_http::{Body, Request, Response};

use super::notification::Notification;
use super::signature::{self, Credentials, SignedHeaders};
use super::PROVIDER;
use crate::config::{self, ConfigError};
use crate::intake::{self, Backend, Rejection};
use crate::metrics::Metrics;
use crate::request::{single_header, HeaderError};
use crate::store::{Delivery, StatusChange, Store};
use crate::timestamp::{Age, Freshness};

/// The body CCPayment requires; anything else counts as a failed delivery.
pub const SUCCESS_BODY: &str = "success";

/// An authentic delivery whose timestamp is outside the freshness window.
pub const STALE_FLAG: &str = "stale_timestamp";

#[derive(Debug, Clone)]
pub struct CcpaymentConfig {
    pub credentials: Credentials,
    /// Stale timestamps are stored and flagged; beyond the dedupe horizon, refused.
    pub freshness: Freshness,
    pub max_body_bytes: usize,
}

impl CcpaymentConfig {
    pub async fn load() -> Result<Self, ConfigError> {
        let freshness = Freshness {
            window_secs: config::parse_or("CCPAYMENT_TIMESTAMP_WINDOW_SECS", 300u64)?,
            horizon_secs: u64::from(config::event_ttl_days()?) * 86_400,
        };
        if freshness.window_secs > freshness.horizon_secs {
            return Err(ConfigError::Invalid {
                name: "CCPAYMENT_TIMESTAMP_WINDOW_SECS",
                reason: "must not exceed the dedupe horizon (EVENT_TTL_DAYS)".into(),
            });
        }
        Ok(Self {
            credentials: crate::secrets::ccpayment_from_env().await?.ok_or(
                ConfigError::Missing("CCPAYMENT_SECRET_ARN (or CCPAYMENT_APP_ID)"),
            )?,
            freshness,
            max_body_bytes: config::parse_or("MAX_BODY_BYTES", 64 * 1024usize)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct CcpaymentReceiver {
    config: CcpaymentConfig,
    backend: Backend,
}

impl CcpaymentReceiver {
    pub fn new(config: CcpaymentConfig, store: Store, metrics: Metrics) -> Self {
        Self {
            config,
            backend: Backend { store, metrics },
        }
    }

    /// Reads configuration and builds the DynamoDB client: once per cold start.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            config: CcpaymentConfig::load().await?,
            backend: Backend::from_env().await?,
        })
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        self.handle_at(req, crate::clock::now_unix()).await
    }

    /// As `handle`, with the clock given: the timestamp window is checked against `now_unix`.
    pub async fn handle_at(&self, req: Request, now_unix: i64) -> Response<Body> {
        let started = std::time::Instant::now();
        let accepted = self.prepare(&req, now_unix);
        // Authentic-looking deliveries we refused are what a secret change or a clock
        // problem looks like: CCPayment logs them as failed, so their hour is resent first.
        let evidence = matches!(
            &accepted,
            Err(Rejection::Unauthorized {
                code: "signature_mismatch" | "expired_timestamp" | "future_timestamp",
                ..
            })
        );
        let resp = self
            .backend
            .respond(PROVIDER, started, accepted, SUCCESS_BODY)
            .await;
        if evidence || resp.status().is_server_error() {
            // Best effort: with the database down this fails too, and the routine
            // window for this hour still covers it.
            if let Err(e) =
                crate::reconcile::windows::mark_suspect(&self.backend.store, now_unix).await
            {
                tracing::warn!(provider = PROVIDER, error = %e, "could not mark the hour as suspect");
            }
        }
        resp
    }

    /// Everything before the write, without I/O: checks, signature, parse, normalise.
    pub fn prepare(&self, req: &Request, now_unix: i64) -> Result<Delivery, Rejection> {
        let body = intake::precheck(req, self.config.max_body_bytes)?;
        let header = |name| single_header(req, name).map_err(header_rejection);
        let headers = SignedHeaders {
            app_id: header("appid")?,
            timestamp: header("timestamp")?,
            sign: header("sign")?,
        };
        let verified = signature::verify(
            headers,
            body,
            &self.config.credentials,
            now_unix,
            self.config.freshness,
        )
        .map_err(|e| Rejection::unauthorized(e.code(), e.to_string()))?;
        let text = intake::utf8(body)?;
        let n = Notification::parse(body)
            .map_err(|e| Rejection::bad_request("malformed", e.to_string()))?;
        let mut delivery = to_delivery(n, text, body);
        if verified.age == Age::Stale {
            delivery.flags.insert(STALE_FLAG.into());
        }
        Ok(delivery)
    }
}

fn header_rejection(e: HeaderError) -> Rejection {
    let code = match e {
        HeaderError::Missing(_) => "header_missing",
        HeaderError::Repeated(_) => "header_repeated",
        HeaderError::NotAscii(_) => "header_not_ascii",
    };
    Rejection::unauthorized(code, e.to_string())
}

fn to_delivery(n: Notification, text: &str, raw: &[u8]) -> Delivery {
    let status_text = n.pay_status.as_str().to_string();
    let kind = n.order_type.as_str().to_string();
    Delivery {
        status: StatusChange::ranked(&status_text, n.pay_status.rank()),
        kind: Some(kind.clone()).filter(|k| !k.is_empty()),
        refs: n.refs,
        amounts: n.amounts.into_iter().map(|(k, a)| (k, a.text)).collect(),
        details: n.details,
        flags: n.flags,
        open_queue: Some(format!("{PROVIDER}#{kind}")),
        ..Delivery::new(
            PROVIDER,
            n.record_id,
            vec![status_text.clone()],
            status_text,
            raw,
            text.to_string(),
        )
    }
}
