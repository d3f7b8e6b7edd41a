//! CityPay's order history, for sweeps: `POST {base}/orders/api/login` with the
//! access token gives a JWT; `GET {base}/orders/api?page=&limit=` with it lists
//! the merchant's orders, newest first, pages counted from 0.
//!
//! The documentation names the JWT's header `bearer_token`; it may really be
//! `Authorization: Bearer`. Both are tried, the documented one first, and the one
//! that worked is kept (and logged once). A refused or expired JWT means one new
//! login and one retry; a second refusal is an error, never a loop.

use std::sync::Mutex;
use std::time::Duration;

use super::status::OrderStatus;
use crate::fields::Fields;
use crate::secret::Secret;

/// Bigger answers are not a page of orders.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// How the JWT travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtHeader {
    /// `bearer_token: <jwt>`, as documented.
    BearerToken,
    /// `Authorization: Bearer <jwt>`.
    Authorization,
}

impl JwtHeader {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtHeader::BearerToken => "bearer_token",
            JwtHeader::Authorization => "authorization",
        }
    }

    fn other(self) -> Self {
        match self {
            JwtHeader::BearerToken => JwtHeader::Authorization,
            JwtHeader::Authorization => JwtHeader::BearerToken,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    pub token: String,
    pub created_at_ms: Option<i64>,
    pub status: OrderStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub items: Vec<HistoryItem>,
    /// `None` on the last page.
    pub next_page: Option<u32>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HistoryError {
    #[error("order history timed out")]
    Timeout,
    #[error("order history unreachable: {0}")]
    Transport(String),
    #[error("order history login refused (HTTP {0}): check the CityPay access token")]
    LoginRefused(u16),
    #[error("order history refused the JWT under both header spellings")]
    Unauthorized,
    #[error("order history rate limited")]
    RateLimited,
    #[error("order history answered HTTP {0}")]
    Http(u16),
    #[error("order history answer unreadable: {0}")]
    BadResponse(String),
}

impl HistoryError {
    pub fn code(&self) -> &'static str {
        match self {
            HistoryError::Timeout => "timeout",
            HistoryError::Transport(_) => "unreachable",
            HistoryError::LoginRefused(_) => "login_refused",
            HistoryError::Unauthorized => "unauthorized",
            HistoryError::RateLimited => "rate_limited",
            HistoryError::Http(_) => "http_error",
            HistoryError::BadResponse(_) => "bad_response",
        }
    }
}

#[derive(Debug, Default)]
struct Session {
    jwt: Option<String>,
    /// The spelling that worked, once one has.
    header: Option<JwtHeader>,
}

#[derive(Debug)]
pub struct HistoryApi {
    client: reqwest::Client,
    base: String,
    access_token: Secret,
    session: Mutex<Session>,
}

impl HistoryApi {
    pub fn new(
        base: impl Into<String>,
        access_token: Secret,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            client: super::http::client(timeout)?,
            base: crate::outbound::base_url(&base.into())?,
            access_token,
            session: Mutex::new(Session::default()),
        })
    }

    /// The header spelling that worked, if any request has succeeded yet.
    pub fn header_in_use(&self) -> Option<JwtHeader> {
        self.session.lock().ok().and_then(|s| s.header)
    }

    fn session(&self) -> (Option<String>, Option<JwtHeader>) {
        match self.session.lock() {
            Ok(s) => (s.jwt.clone(), s.header),
            Err(_) => (None, None),
        }
    }

    fn remember(&self, jwt: Option<String>, header: Option<JwtHeader>) {
        if let Ok(mut s) = self.session.lock() {
            if let Some(jwt) = jwt {
                s.jwt = Some(jwt);
            }
            if let Some(h) = header {
                if s.header != Some(h) {
                    tracing::info!(
                        header = h.as_str(),
                        "CityPay order history accepts the JWT in this header"
                    );
                }
                s.header = Some(h);
            }
        }
    }

    fn forget_jwt(&self) {
        if let Ok(mut s) = self.session.lock() {
            s.jwt = None;
        }
    }

    async fn login(&self) -> Result<String, HistoryError> {
        let url = format!("{}/orders/api/login", self.base);
        let resp = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "token": self.access_token.expose() }).to_string())
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(HistoryError::RateLimited);
        }
        if status.is_client_error() {
            return Err(HistoryError::LoginRefused(status.as_u16()));
        }
        if !status.is_success() {
            return Err(HistoryError::Http(status.as_u16()));
        }
        let bytes = read(resp).await?;
        let bad = |e: crate::fields::FieldError| HistoryError::BadResponse(e.to_string());
        let top = Fields::parse(&bytes).map_err(bad)?;
        if top.bool("success").map_err(bad)? == Some(false) {
            return Err(HistoryError::LoginRefused(status.as_u16()));
        }
        top.text("data")
            .map_err(bad)?
            .filter(|jwt| !jwt.is_empty())
            .ok_or_else(|| HistoryError::BadResponse("login answer has no JWT".into()))
    }

    /// One page of orders, newest first; logs in as needed.
    pub async fn page(&self, page: u32, limit: u32) -> Result<HistoryPage, HistoryError> {
        let (jwt, header) = self.session();
        let mut jwt = match jwt {
            Some(j) => j,
            None => {
                let j = self.login().await?;
                self.remember(Some(j.clone()), None);
                j
            }
        };
        let first = header.unwrap_or(JwtHeader::BearerToken);
        let spellings = match header {
            Some(h) => vec![h],
            None => vec![first, first.other()],
        };
        for round in 0..2 {
            if round == 1 {
                // Expired or refused: one new login, then the same spellings again.
                self.forget_jwt();
                jwt = self.login().await?;
                self.remember(Some(jwt.clone()), None);
            }
            for &h in &spellings {
                match self.get_page(&jwt, h, page, limit).await {
                    Ok(p) => {
                        self.remember(None, Some(h));
                        return Ok(p);
                    }
                    Err(HistoryError::Unauthorized) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Err(HistoryError::Unauthorized)
    }

    async fn get_page(
        &self,
        jwt: &str,
        header: JwtHeader,
        page: u32,
        limit: u32,
    ) -> Result<HistoryPage, HistoryError> {
        let url = format!("{}/orders/api?page={page}&limit={limit}", self.base);
        let req = self.client.get(url);
        let req = match header {
            JwtHeader::BearerToken => req.header("bearer_token", jwt),
            JwtHeader::Authorization => req.bearer_auth(jwt),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(HistoryError::Unauthorized);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(HistoryError::RateLimited);
        }
        if !status.is_success() {
            return Err(HistoryError::Http(status.as_u16()));
        }
        parse_page(&read(resp).await?)
    }
}

async fn read(resp: reqwest::Response) -> Result<Vec<u8>, HistoryError> {
    Ok(super::http::body(resp, MAX_ANSWER_BYTES).await?)
}

fn transport(e: reqwest::Error) -> HistoryError {
    super::http::failure(e).into()
}

impl From<super::http::Failure> for HistoryError {
    fn from(f: super::http::Failure) -> Self {
        match f {
            super::http::Failure::Timeout => HistoryError::Timeout,
            super::http::Failure::Transport(e) => HistoryError::Transport(e),
            super::http::Failure::TooLarge => HistoryError::BadResponse("too large".into()),
        }
    }
}

/// `{statusCode, data: {items: [{token, createdAtMiliseconds, status: {code}}],
/// meta: {currentPage, nextPage, pagesCount}}}`.
pub fn parse_page(bytes: &[u8]) -> Result<HistoryPage, HistoryError> {
    let bad = |e: crate::fields::FieldError| HistoryError::BadResponse(e.to_string());
    let top = Fields::parse(bytes).map_err(bad)?;
    let data = top
        .object("data")
        .map_err(bad)?
        .ok_or_else(|| HistoryError::BadResponse("no data".into()))?;
    let mut items = Vec::new();
    for item in data.objects("items").map_err(bad)? {
        let Some(token) = item.id("token").map_err(bad)? else {
            return Err(HistoryError::BadResponse("an order without a token".into()));
        };
        let code = item
            .object("status")
            .map_err(bad)?
            .and_then(|s| s.text("code").ok().flatten())
            .ok_or_else(|| HistoryError::BadResponse(format!("order {token}: no status")))?;
        items.push(HistoryItem {
            created_at_ms: item
                .text("createdAtMiliseconds")
                .map_err(bad)?
                .and_then(|t| t.parse().ok()),
            status: OrderStatus::parse(&code),
            token,
        });
    }
    let meta = data.object("meta").map_err(bad)?;
    let next_page = match &meta {
        Some(m) => m
            .text("nextPage")
            .map_err(bad)?
            .and_then(|t| t.parse::<u32>().ok()),
        None => None,
    };
    Ok(HistoryPage { items, next_page })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_page() {
        let body = br#"{"statusCode":200,"data":{"items":[
            {"id":2876,"token":"tok-2","createdAtMiliseconds":1796000000000,"amount":0.1,"status":{"code":"CONFIRMED","label":"CONFIRMED"},"currency":{"abbreviation":"USD"}},
            {"id":2875,"token":"tok-1","createdAtMiliseconds":1795990000000,"amount":0.2,"status":{"code":"IN_PROGRESS","label":"IN_PROGRESS"}}
        ],"meta":{"totalCount":3,"pagesCount":2,"currentPage":0,"nextPage":1}}}"#;
        let p = parse_page(body).unwrap();
        assert_eq!(p.next_page, Some(1));
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.items[0].token, "tok-2");
        assert_eq!(p.items[0].status, OrderStatus::Confirmed);
        assert_eq!(p.items[1].created_at_ms, Some(1_795_990_000_000));
        let last = parse_page(br#"{"data":{"items":[],"meta":{"currentPage":1,"nextPage":null}}}"#)
            .unwrap();
        assert_eq!(last.next_page, None);
    }

    #[test]
    fn pages_that_are_not_a_page_are_errors() {
        for body in [
            &br#"{"statusCode":200}"#[..],
            br#"{"data":{"items":[{"status":{"code":"CONFIRMED"}}]}}"#,
            br#"{"data":{"items":[{"token":"t"}]}}"#,
            b"<html>",
        ] {
            assert!(matches!(
                parse_page(body),
                Err(HistoryError::BadResponse(_))
            ));
        }
    }
}
