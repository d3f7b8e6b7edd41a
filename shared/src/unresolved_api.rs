//! The operator's list on the HTTP API, IAM-authorized like the lookup:
//! `GET /unresolved` answers the same entries and counts as `payments-ops
//! unresolved --json`, a page at a time, oldest first; `POST
//! /unresolved/{provider}/{record_id}/acknowledge` takes a record off the list, on
//! a route of its own so a policy can grant listing without acknowledging.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::response::error;
use crate::store::Store;
use crate::unresolved::{Entry, Overview};

/// Entries per page unless `limit` says otherwise, and the most it may say.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Entries read per queue, as `payments-ops unresolved` reads them.
pub const MAX_PER_QUEUE: usize = 10_000;
const DEFAULT_STALE_AFTER_SECS: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error(
        "not found: use GET /unresolved or POST /unresolved/{{provider}}/{{record_id}}/acknowledge"
    )]
    Route,
    #[error("use {0}")]
    Method(&'static str),
    #[error("{0}")]
    Query(String),
    #[error("unknown provider (one of {0})")]
    Provider(String),
    #[error("the record id is empty, too long or not valid percent-encoded text")]
    RecordId,
}

/// A page of the list: the overview's counts and truncation whole, its entries
/// from the cursor on; `next_cursor` while more follow.
#[derive(Debug, Serialize)]
pub struct Page {
    #[serde(flatten)]
    pub overview: Overview,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct Acknowledged {
    provider: String,
    record_id: String,
    acknowledged: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    List,
    Acknowledge { provider: String, record_id: String },
}

/// From a request path, still percent-encoded; a stage prefix is allowed.
fn route(method: &Method, path: &str) -> Result<Route, ListError> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let start = parts
        .iter()
        .position(|p| *p == "unresolved")
        .ok_or(ListError::Route)?;
    match parts.get(start..).unwrap_or_default() {
        ["unresolved"] if method == Method::GET => Ok(Route::List),
        ["unresolved"] => Err(ListError::Method("GET")),
        ["unresolved", provider, record_id, "acknowledge"] if method == Method::POST => {
            let provider = percent_decode_str(provider)
                .decode_utf8()
                .map_err(|_| ListError::Route)?
                .into_owned();
            if !crate::registry::ALL.iter().any(|p| p.name == provider) {
                let names: Vec<&str> = crate::registry::ALL.iter().map(|p| p.name).collect();
                return Err(ListError::Provider(names.join(", ")));
            }
            let record_id = percent_decode_str(record_id)
                .decode_utf8()
                .map_err(|_| ListError::RecordId)?;
            if record_id.is_empty()
                || record_id.chars().count() > crate::lookup::MAX_REF_CHARS
                || record_id.chars().any(char::is_control)
            {
                return Err(ListError::RecordId);
            }
            Ok(Route::Acknowledge {
                provider,
                record_id: record_id.into_owned(),
            })
        }
        ["unresolved", _, _, "acknowledge"] => Err(ListError::Method("POST")),
        _ => Err(ListError::Route),
    }
}

/// The list's query: `limit`, `cursor`, `stale_after` (seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    limit: usize,
    cursor: Option<String>,
    stale_after_secs: i64,
}

fn query(raw: Option<&str>) -> Result<Query, ListError> {
    let mut q = Query {
        limit: DEFAULT_LIMIT,
        cursor: None,
        stale_after_secs: DEFAULT_STALE_AFTER_SECS,
    };
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(&value.replace('+', " "))
            .decode_utf8()
            .map_err(|_| ListError::Query(format!("{name}: not valid percent-encoded text")))?
            .into_owned();
        match name {
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ListError::Query(format!("limit: 1 to {MAX_LIMIT}")))?;
            }
            "stale_after" => {
                q.stale_after_secs = value
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| ListError::Query("stale_after: seconds, above 0".into()))?;
            }
            "cursor" => q.cursor = Some(value),
            other => return Err(ListError::Query(format!("unknown parameter {other}"))),
        }
    }
    Ok(q)
}

/// An entry's place in the list: oldest first, ties in a fixed order.
fn key(e: &Entry) -> (i64, &'static str, &'static str, &str) {
    (
        e.since_ms,
        e.category.as_str(),
        e.provider.unwrap_or(""),
        e.subject.as_str(),
    )
}

fn cursor_of(e: &Entry) -> String {
    let (since, category, provider, subject) = key(e);
    hex::encode(serde_json::json!([since, category, provider, subject]).to_string())
}

fn parse_cursor(text: &str) -> Option<(i64, String, String, String)> {
    let bytes = hex::decode(text).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `overview`'s entries from after `cursor`, at most `limit` of them.
pub fn page(mut overview: Overview, cursor: Option<&str>, limit: usize) -> Result<Page, ListError> {
    overview.entries.sort_by(|a, b| key(a).cmp(&key(b)));
    let after = match cursor {
        None => None,
        Some(c) => Some(
            parse_cursor(c)
                .ok_or_else(|| ListError::Query("cursor: not one this API gave".into()))?,
        ),
    };
    let start = match &after {
        None => 0,
        Some((since, category, provider, subject)) => overview.entries.partition_point(|e| {
            key(e)
                <= (
                    *since,
                    category.as_str(),
                    provider.as_str(),
                    subject.as_str(),
                )
        }),
    };
    let rest = overview
        .entries
        .split_off(start.min(overview.entries.len()));
    let more = rest.len() > limit;
    overview.entries = rest.into_iter().take(limit).collect();
    let next_cursor = if more {
        overview.entries.last().map(cursor_of)
    } else {
        None
    };
    Ok(Page {
        overview,
        next_cursor,
    })
}

/// 200 with a page of the list or the count acknowledged; 404 for nothing to
/// acknowledge; 400 for a malformed request; 503 when the table cannot be used.
pub async fn handle(store: &Store, req: &Request, now_ms: i64) -> Response<Body> {
    let route = match route(req.method(), req.uri().path()) {
        Ok(r) => r,
        Err(e @ ListError::Route) => return error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ ListError::Method(_)) => {
            return error(StatusCode::METHOD_NOT_ALLOWED, e.to_string())
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let unavailable = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "unresolved list failed");
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable, retry later",
        )
    };
    match route {
        Route::List => {
            let q = match query(req.uri().query()) {
                Ok(q) => q,
                Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
            };
            let overview =
                match crate::unresolved::overview(store, now_ms, q.stale_after_secs, MAX_PER_QUEUE)
                    .await
                {
                    Ok(o) => o,
                    Err(e) => return unavailable(e),
                };
            match page(overview, q.cursor.as_deref(), q.limit) {
                Ok(p) => crate::response::json(StatusCode::OK, &p),
                Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
        Route::Acknowledge {
            provider,
            record_id,
        } => match store.acknowledge(&provider, &record_id, now_ms).await {
            Ok(0) => error(
                StatusCode::NOT_FOUND,
                "nothing of that record is on the list",
            ),
            Ok(n) => {
                tracing::info!(
                    provider = provider.as_str(),
                    key = record_id.as_str(),
                    items = n,
                    "acknowledged over the API"
                );
                crate::response::json(
                    StatusCode::OK,
                    &Acknowledged {
                        provider,
                        record_id,
                        acknowledged: n,
                    },
                )
            }
            Err(e) => unavailable(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_queries_parse_or_say_what_is_wrong() {
        assert_eq!(route(&Method::GET, "/unresolved"), Ok(Route::List));
        assert_eq!(route(&Method::GET, "/prod/unresolved/"), Ok(Route::List));
        assert_eq!(
            route(
                &Method::POST,
                "/unresolved/alchemypay/quarantine%3Aabc/acknowledge"
            ),
            Ok(Route::Acknowledge {
                provider: "alchemypay".into(),
                record_id: "quarantine:abc".into()
            })
        );
        assert_eq!(
            route(&Method::POST, "/unresolved"),
            Err(ListError::Method("GET"))
        );
        assert_eq!(
            route(&Method::GET, "/unresolved/ccpayment/1/acknowledge"),
            Err(ListError::Method("POST"))
        );
        assert!(matches!(
            route(&Method::POST, "/unresolved/paypal/1/acknowledge"),
            Err(ListError::Provider(_))
        ));
        assert_eq!(
            route(&Method::POST, "/unresolved/ccpayment/%0A/acknowledge"),
            Err(ListError::RecordId)
        );
        assert_eq!(route(&Method::GET, "/payments/x"), Err(ListError::Route));

        let q = query(Some("limit=2&stale_after=3600&cursor=ab")).unwrap();
        assert_eq!((q.limit, q.stale_after_secs), (2, 3600));
        assert_eq!(q.cursor.as_deref(), Some("ab"));
        assert!(query(Some("limit=0")).is_err());
        assert!(query(Some("limit=1001")).is_err());
        assert!(query(Some("stale_after=-1")).is_err());
        assert!(query(Some("max=1")).is_err());
        assert_eq!(query(None).unwrap().limit, DEFAULT_LIMIT);
    }
}
