//! The steps every receiver shares: pre-checks, path-token and source-address
//! checks, and turning a rejection or a store result into the answer, the log line
//! and the metrics.

use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use subtle::ConstantTimeEq;

use crate::config::ConfigError;
use crate::delivery_log::{Outcome, Report};
use crate::metrics::Metrics;
use crate::provider::Confirmed;
use crate::rejection::Rejection;
use crate::request::raw_body;
use crate::response;
use crate::secret::Secret;
use crate::store::{Delivery, Quarantined, Recorded, Store, StoreError};

/// Method and size, before any other work. Returns the raw body.
pub fn precheck(req: &Request, max_body_bytes: usize) -> Result<&[u8], Rejection> {
    if req.method() != Method::POST {
        return Err(Rejection::Method);
    }
    let body = raw_body(req);
    if body.len() > max_body_bytes {
        return Err(Rejection::TooLarge(max_body_bytes));
    }
    Ok(body)
}

/// The body as text; JSON is UTF-8 and the stored copy is a string.
pub fn utf8(body: &[u8]) -> Result<&str, Rejection> {
    std::str::from_utf8(body).map_err(|_| Rejection::bad_request("not_utf8", "body is not UTF-8"))
}

/// The secret path segment: API Gateway's `{token}` path parameter, or the last
/// path segment when no route template applied (`cargo lambda watch`).
pub fn path_token(req: &Request) -> Option<String> {
    if let Some(t) = req.path_parameters_ref().and_then(|p| p.first("token")) {
        return Some(t.to_string());
    }
    req.uri()
        .path()
        .rsplit('/')
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// Constant-time comparison of the path token with the configured one.
pub fn check_path_token(req: &Request, expected: &Secret) -> Result<(), Rejection> {
    let given = path_token(req).unwrap_or_default();
    if given.is_empty() || expected.is_empty() {
        return Err(Rejection::unauthorized(
            "token_missing",
            "path token missing",
        ));
    }
    if bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
        Ok(())
    } else {
        Err(Rejection::unauthorized(
            "token_mismatch",
            "path token does not match",
        ))
    }
}

/// Path tokens are the only credential of some providers: refuse weak ones at start.
/// Read from Secrets Manager when `<name>_SECRET_ARN` is set, else from `<name>`.
pub async fn path_token_load(
    name: &'static str,
    arn_var: &'static str,
) -> Result<Secret, ConfigError> {
    let secret = crate::secrets::string(name, arn_var)
        .await?
        .ok_or(ConfigError::Missing(name))?;
    let token = secret.expose().trim().to_string();
    path_token_shape(&token).map_err(|reason| ConfigError::Invalid {
        name,
        reason: reason.into(),
    })?;
    Ok(Secret::new(token))
}

/// What a path token must look like; the reason never repeats the token.
pub fn path_token_shape(token: &str) -> Result<(), &'static str> {
    if token.len() < 24
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("must be at least 24 characters of A-Z, a-z, 0-9, '-' or '_'");
    }
    Ok(())
}

/// Source addresses allowed to deliver; empty means any.
#[derive(Debug, Clone, Default)]
pub struct IpAllowList(Vec<IpNet>);

impl IpAllowList {
    /// Comma-separated addresses or CIDR blocks, e.g. `203.0.113.0/24, 198.51.100.7`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => part
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("`{part}` is not an IP address or CIDR block"))?,
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn from_env(name: &'static str) -> Result<Self, ConfigError> {
        match crate::config::optional(name) {
            None => Ok(Self::default()),
            Some(spec) => {
                Self::parse(&spec).map_err(|reason| ConfigError::Invalid { name, reason })
            }
        }
    }

    pub fn check(&self, req: &Request) -> Result<(), Rejection> {
        if self.0.is_empty() {
            return Ok(());
        }
        let ip = crate::request::source_ip(req).and_then(|s| s.parse::<IpAddr>().ok());
        match ip {
            Some(ip) if self.0.iter().any(|n| n.contains(&ip)) => Ok(()),
            Some(_) => Err(Rejection::Forbidden {
                code: "ip_not_allowed",
                reason: "source address not allowed".into(),
            }),
            None => Err(Rejection::Forbidden {
                code: "ip_unknown",
                reason: "source address unknown".into(),
            }),
        }
    }
}

/// What every receiver writes to: the store and the metrics, built once per cold start.
#[derive(Debug, Clone)]
pub struct Backend {
    pub store: Store,
    pub metrics: Metrics,
}

impl Backend {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = crate::config::StoreConfig::from_env()?;
        let client = crate::store::dynamodb_client().await;
        Ok(Self {
            store: Store::new(client, config.table_name, config.event_ttl_days),
            metrics: Metrics::from_env(),
        })
    }

    /// Stores an accepted delivery, or answers the rejection; logs and counts either.
    pub async fn respond(
        &self,
        provider: &'static str,
        started: Instant,
        accepted: Result<Confirmed, Rejection>,
        success_body: &str,
    ) -> Response<Body> {
        let mut report = Report::new(provider);
        let resp = match accepted {
            Err(rejection) => rejected(rejection, &mut report),
            Ok(Confirmed::Acknowledge { kind }) => {
                report.kind = Some(kind.to_string());
                report.outcome = Outcome::Acknowledged;
                response::text(StatusCode::OK, success_body)
            }
            Ok(Confirmed::Store(delivery)) => {
                describe(&mut report, &delivery);
                stored(
                    self.store.record(&delivery).await,
                    &mut report,
                    success_body,
                )
            }
        };
        finish(resp, report, started, &self.metrics)
    }
}

impl Backend {
    /// Keeps an authentic delivery we cannot use, answers success once it is
    /// durable (503 otherwise, so the provider retries), and counts it.
    pub async fn quarantine(
        &self,
        provider: &'static str,
        started: Instant,
        q: &Quarantined,
        success_body: &str,
    ) -> Response<Body> {
        let mut report = Report::new(provider);
        report.reason = Some(format!("{}: {}", q.code, q.reason));
        report.key = Some(q.record_key());
        let resp = match self.store.quarantine(q).await {
            Ok(_) => {
                report.outcome = Outcome::Quarantined;
                response::text(StatusCode::OK, success_body)
            }
            Err(e) => unavailable(e, &mut report),
        };
        finish(resp, report, started, &self.metrics)
    }
}

pub fn describe(report: &mut Report, d: &Delivery) {
    report.kind = d.kind.clone();
    let mut key = d.record_key.clone();
    for part in &d.event_id {
        key.push('/');
        key.push_str(part);
    }
    report.key = Some(key);
    report.flags = d.flags.iter().cloned().collect();
}

pub fn rejected(rejection: Rejection, report: &mut Report) -> Response<Body> {
    let (status, code, reason) = match rejection {
        Rejection::Method => (
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            "use POST".to_string(),
        ),
        Rejection::TooLarge(limit) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("body larger than {limit} bytes"),
        ),
        Rejection::Unauthorized { code, reason } => (StatusCode::UNAUTHORIZED, code, reason),
        Rejection::Forbidden { code, reason } => (StatusCode::FORBIDDEN, code, reason),
        Rejection::BadRequest { code, reason } | Rejection::Unusable { code, reason } => {
            (StatusCode::BAD_REQUEST, code, reason)
        }
    };
    report.outcome = Outcome::Rejected;
    report.reject_code = Some(code);
    report.reason = Some(reason.clone());
    let prefix = match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::PAYLOAD_TOO_LARGE => "payload too large",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
        _ => "bad request",
    };
    response::text(status, format!("{prefix}: {reason}"))
}

/// `success_body` only after a durable write or a confirmed duplicate; 503 otherwise.
pub fn stored(
    result: Result<Recorded, StoreError>,
    report: &mut Report,
    success_body: &str,
) -> Response<Body> {
    match result {
        Ok(recorded) => {
            report.outcome = match recorded {
                Recorded::New { state_advanced } => {
                    report.state_advanced = Some(state_advanced);
                    Outcome::Stored
                }
                Recorded::Duplicate => Outcome::Duplicate,
                Recorded::Conflict => Outcome::Conflict,
            };
            response::text(StatusCode::OK, success_body)
        }
        Err(e) => unavailable(e, report),
    }
}

/// Nothing durable: 503, so the provider retries; never the success body.
fn unavailable(e: StoreError, report: &mut Report) -> Response<Body> {
    report.outcome = Outcome::StoreFailed;
    report.reason = Some(e.to_string());
    response::text(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage unavailable, retry later",
    )
}

pub fn finish(
    resp: Response<Body>,
    mut report: Report,
    started: Instant,
    metrics: &Metrics,
) -> Response<Body> {
    report.status = resp.status().as_u16();
    report.finish(started, metrics);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, ip: Option<&str>) -> Request {
        let mut r = lambda_http::http::Request::builder()
            .method("POST")
            .uri(path)
            .body(Body::Empty)
            .unwrap();
        if let Some(ip) = ip {
            let mut ctx =
                lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
            ctx.http.source_ip = Some(ip.to_string());
            r = r.with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(ctx));
        }
        r
    }

    #[test]
    fn token_from_last_segment_or_path_parameter() {
        assert_eq!(
            path_token(&req("/lambda-url/alchemypay-webhook/abc", None)).as_deref(),
            Some("abc")
        );
        assert_eq!(
            path_token(&req("/webhooks/x/abc/", None)).as_deref(),
            Some("abc")
        );
        let mut params = std::collections::HashMap::new();
        params.insert("token".to_string(), "from-route".to_string());
        let r = req("/webhooks/x/ignored", None).with_path_parameters(params);
        assert_eq!(path_token(&r).as_deref(), Some("from-route"));
    }

    #[test]
    fn token_check_is_exact() {
        let secret = Secret::new("t0k3n-0123456789abcdefghij");
        assert!(check_path_token(&req("/w/t0k3n-0123456789abcdefghij", None), &secret).is_ok());
        for bad in [
            "/w/t0k3n-0123456789abcdefghi",
            "/w/t0k3n-0123456789abcdefghijk",
            "/w/T0K3N-0123456789ABCDEFGHIJ",
            "/",
        ] {
            assert!(check_path_token(&req(bad, None), &secret).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_list() {
        let list = IpAllowList::parse("203.0.113.0/24, 198.51.100.7 ,2001:db8::/32").unwrap();
        assert!(list.check(&req("/", Some("203.0.113.99"))).is_ok());
        assert!(list.check(&req("/", Some("198.51.100.7"))).is_ok());
        assert!(list.check(&req("/", Some("2001:db8::1"))).is_ok());
        assert!(list.check(&req("/", Some("198.51.100.8"))).is_err());
        assert!(
            list.check(&req("/", None)).is_err(),
            "unknown source refused when a list is set"
        );
        assert!(IpAllowList::default().check(&req("/", None)).is_ok());
        assert!(IpAllowList::parse("not-an-ip").is_err());
    }
}
