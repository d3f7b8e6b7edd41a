//! `POST /webhooks/ccpayment`: authenticate, parse, store, answer `success`.

use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::notification::{Notification, ParseError};
use super::signature::{self, Credentials, SignedHeaders};
use super::PROVIDER;
use crate::config::{self, ConfigError, StoreConfig};
use crate::delivery_log::{Outcome, Report};
use crate::hashing::{content_sha256_hex, sha256_hex};
use crate::metrics::Metrics;
use crate::request::{raw_body, single_header, HeaderError};
use crate::response;
use crate::secret::Secret;
use crate::store::{Delivery, Recorded, StatusChange, Store};

/// The body CCPayment requires; anything else counts as a failed delivery.
pub const SUCCESS_BODY: &str = "success";

#[derive(Debug, Clone)]
pub struct CcpaymentConfig {
    pub credentials: Credentials,
    pub timestamp_window_secs: u64,
    pub max_body_bytes: usize,
}

impl CcpaymentConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            credentials: Credentials {
                app_id: config::required("CCPAYMENT_APP_ID")?,
                secret: Secret::new(config::required("CCPAYMENT_APP_SECRET")?),
                previous_secret: config::optional("CCPAYMENT_APP_SECRET_PREVIOUS").map(Secret::new),
            },
            timestamp_window_secs: config::parse_or("CCPAYMENT_TIMESTAMP_WINDOW_SECS", 300u64)?,
            max_body_bytes: config::parse_or("MAX_BODY_BYTES", 64 * 1024usize)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct CcpaymentReceiver {
    config: CcpaymentConfig,
    store: Store,
    metrics: Metrics,
}

enum Rejection {
    Method,
    TooLarge,
    Header(HeaderError),
    Signature(signature::SignatureError),
    Parse(ParseError),
    NotUtf8,
}

impl CcpaymentReceiver {
    pub fn new(config: CcpaymentConfig, store: Store, metrics: Metrics) -> Self {
        Self {
            config,
            store,
            metrics,
        }
    }

    /// Reads configuration and builds the DynamoDB client: once per cold start.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = CcpaymentConfig::from_env()?;
        let store_config = StoreConfig::from_env()?;
        let client = crate::store::dynamodb_client().await;
        Ok(Self::new(
            config,
            Store::new(client, store_config.table_name, store_config.event_ttl_days),
            Metrics::from_env(),
        ))
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        self.handle_at(req, crate::clock::now_unix()).await
    }

    /// As `handle`, with the clock given: the timestamp window is checked against `now_unix`.
    pub async fn handle_at(&self, req: Request, now_unix: i64) -> Response<Body> {
        let started = Instant::now();
        let mut report = Report::new(PROVIDER);
        let resp = match self.authenticate_and_parse(&req, now_unix) {
            Err(rejection) => self.reject(rejection, &mut report),
            Ok((notification, delivery)) => {
                report.kind = Some(notification.order_type.as_str().to_string());
                report.key = Some(format!(
                    "{}/{}",
                    notification.record_id,
                    notification.pay_status.as_str()
                ));
                report.flags = notification.flags.iter().cloned().collect();
                match self.store.record(&delivery).await {
                    Ok(recorded) => {
                        report.outcome = match recorded {
                            Recorded::New { state_advanced } => {
                                report.state_advanced = Some(state_advanced);
                                Outcome::Stored
                            }
                            Recorded::Duplicate => Outcome::Duplicate,
                            Recorded::Conflict => Outcome::Conflict,
                        };
                        response::text(StatusCode::OK, SUCCESS_BODY)
                    }
                    Err(e) => {
                        report.outcome = Outcome::StoreFailed;
                        report.reason = Some(e.to_string());
                        response::text(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "storage unavailable, retry later",
                        )
                    }
                }
            }
        };
        report.status = resp.status().as_u16();
        report.finish(started, &self.metrics);
        resp
    }

    fn authenticate_and_parse(
        &self,
        req: &Request,
        now_unix: i64,
    ) -> Result<(Notification, Delivery), Rejection> {
        if req.method() != lambda_http::http::Method::POST {
            return Err(Rejection::Method);
        }
        let body = raw_body(req);
        if body.len() > self.config.max_body_bytes {
            return Err(Rejection::TooLarge);
        }
        let headers = SignedHeaders {
            app_id: single_header(req, "appid").map_err(Rejection::Header)?,
            timestamp: single_header(req, "timestamp").map_err(Rejection::Header)?,
            sign: single_header(req, "sign").map_err(Rejection::Header)?,
        };
        signature::verify(
            headers,
            body,
            &self.config.credentials,
            now_unix,
            self.config.timestamp_window_secs,
        )
        .map_err(Rejection::Signature)?;
        let text = std::str::from_utf8(body).map_err(|_| Rejection::NotUtf8)?;
        let n = Notification::parse(body).map_err(Rejection::Parse)?;
        let delivery = to_delivery(&n, text, body);
        Ok((n, delivery))
    }

    fn reject(&self, rejection: Rejection, report: &mut Report) -> Response<Body> {
        let (status, code, reason) = match rejection {
            Rejection::Method => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "use POST".to_string(),
            ),
            Rejection::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("body larger than {} bytes", self.config.max_body_bytes),
            ),
            Rejection::Header(e) => (StatusCode::UNAUTHORIZED, "header", e.to_string()),
            Rejection::Signature(e) => (StatusCode::UNAUTHORIZED, e.code(), e.to_string()),
            Rejection::NotUtf8 => (
                StatusCode::BAD_REQUEST,
                "not_utf8",
                "body is not UTF-8".to_string(),
            ),
            Rejection::Parse(e) => (StatusCode::BAD_REQUEST, "malformed", e.to_string()),
        };
        report.outcome = Outcome::Rejected;
        report.reject_code = Some(code);
        report.reason = Some(reason.clone());
        let prefix = match status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::PAYLOAD_TOO_LARGE => "payload too large",
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
            _ => "bad request",
        };
        response::text(status, format!("{prefix}: {reason}"))
    }
}

fn to_delivery(n: &Notification, text: &str, raw: &[u8]) -> Delivery {
    let status = n.pay_status.rank().map(|(rank, terminal)| StatusChange {
        name: n.pay_status.as_str().to_string(),
        rank,
        terminal,
    });
    Delivery {
        provider: PROVIDER,
        record_key: n.record_id.clone(),
        event_id: vec![n.pay_status.as_str().to_string()],
        status_text: n.pay_status.as_str().to_string(),
        status,
        kind: Some(n.order_type.as_str().to_string()).filter(|k| !k.is_empty()),
        refs: n.refs.clone(),
        amounts: n
            .amounts
            .iter()
            .map(|(k, a)| (k.clone(), a.text.clone()))
            .collect(),
        details: n.details.clone(),
        flags: n.flags.clone(),
        body: text.to_string(),
        body_sha256: sha256_hex(raw),
        content_sha256: content_sha256_hex(raw),
        received_at_ms: crate::clock::now_ms(),
        open_queue: Some(format!("{PROVIDER}#{}", n.order_type.as_str())),
    }
}
