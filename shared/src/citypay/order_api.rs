//! `GET {base}/order/{order_token}`: CityPay's own word on an order's status.
//! Documented without authentication; the answer is `{"status":1,"data":{...}}`.

use std::time::Duration;

use super::status::OrderStatus;
use crate::fields::Fields;

pub const DEFAULT_API_BASE: &str = "https://v2-order-api.citypay.io";

/// Bigger answers are not an order.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct OrderApi {
    client: reqwest::Client,
    base: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedOrder {
    pub status: OrderStatus,
    /// Epoch milliseconds after which an unpaid order is expired.
    pub expires_at_ms: Option<i64>,
    pub amount_fiat: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfirmError {
    #[error("order API timed out")]
    Timeout,
    #[error("order API unreachable: {0}")]
    Transport(String),
    #[error("order API answered HTTP {0}")]
    Http(u16),
    #[error("order API does not know the order")]
    NotFound,
    #[error("order API answer unreadable: {0}")]
    BadResponse(String),
    #[error("order API answered for another order")]
    TokenMismatch,
}

impl ConfirmError {
    pub fn code(&self) -> &'static str {
        match self {
            ConfirmError::Timeout => "timeout",
            ConfirmError::Transport(_) => "unreachable",
            ConfirmError::Http(_) => "http_error",
            ConfirmError::NotFound => "not_found",
            ConfirmError::BadResponse(_) => "bad_response",
            ConfirmError::TokenMismatch => "token_mismatch",
        }
    }
}

/// Keeps a merchant-chosen token from changing the request path.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl OrderApi {
    pub fn new(base: impl Into<String>, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            client: super::http::client(timeout)?,
            base: base.into().trim_end_matches('/').to_string(),
        })
    }

    pub async fn fetch(&self, order_token: &str) -> Result<ConfirmedOrder, ConfirmError> {
        let url = format!("{}/order/{}", self.base, path_segment(order_token));
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(super::http::failure)?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ConfirmError::NotFound);
        }
        if !status.is_success() {
            return Err(ConfirmError::Http(status.as_u16()));
        }
        let bytes = super::http::body(resp, MAX_ANSWER_BYTES).await?;
        parse_answer(&bytes, order_token)
    }
}

impl From<super::http::Failure> for ConfirmError {
    fn from(f: super::http::Failure) -> Self {
        match f {
            super::http::Failure::Timeout => ConfirmError::Timeout,
            super::http::Failure::Transport(e) => ConfirmError::Transport(e),
            super::http::Failure::TooLarge => ConfirmError::BadResponse("too large".into()),
        }
    }
}

pub fn parse_answer(bytes: &[u8], order_token: &str) -> Result<ConfirmedOrder, ConfirmError> {
    let bad = |e: crate::fields::FieldError| ConfirmError::BadResponse(e.to_string());
    let top = Fields::parse(bytes).map_err(bad)?;
    let data = match top.object("data").map_err(bad)? {
        Some(d) => d,
        None => return Err(ConfirmError::NotFound),
    };
    if let Some(token) = data.id("token").map_err(bad)? {
        if token != order_token {
            return Err(ConfirmError::TokenMismatch);
        }
    }
    let code = data
        .object("status")
        .map_err(bad)?
        .and_then(|s| s.text("code").ok().flatten())
        .ok_or_else(|| ConfirmError::BadResponse("no data.status.code".into()))?;
    let expires_at_ms = data
        .text("expiresAt")
        .map_err(bad)?
        .and_then(|t| t.parse::<i64>().ok());
    Ok(ConfirmedOrder {
        status: OrderStatus::parse(&code),
        expires_at_ms,
        amount_fiat: data.text("amountFiat").map_err(bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_answer() {
        let body = br#"{"status":1,"data":{"companyName":"Shop","id":2876,"customerId":99,"token":"tok-1","coin":"Bitcoin","amountFiat":"100","amount":0.00196864,"status":{"code":"IN_PROGRESS","label":"IN_PROGRESS"},"expiresAt":1617790551102,"transactions":[]}}"#;
        let o = parse_answer(body, "tok-1").unwrap();
        assert_eq!(o.status, OrderStatus::InProgress);
        assert_eq!(o.expires_at_ms, Some(1_617_790_551_102));
        assert_eq!(o.amount_fiat.as_deref(), Some("100"));
    }

    #[test]
    fn answers_that_confirm_nothing() {
        assert_eq!(
            parse_answer(br#"{"status":1,"data":null}"#, "t"),
            Err(ConfirmError::NotFound)
        );
        assert_eq!(
            parse_answer(
                br#"{"data":{"token":"other","status":{"code":"CONFIRMED"}}}"#,
                "t"
            ),
            Err(ConfirmError::TokenMismatch)
        );
        assert!(matches!(
            parse_answer(br#"{"data":{"status":{}}}"#, "t"),
            Err(ConfirmError::BadResponse(_))
        ));
        assert!(matches!(
            parse_answer(b"<html>", "t"),
            Err(ConfirmError::BadResponse(_))
        ));
    }

    #[test]
    fn tokens_cannot_escape_the_path() {
        assert_eq!(path_segment("a/../b?c#d"), "a%2F..%2Fb%3Fc%23d");
        assert_eq!(path_segment("tok_1-A.~"), "tok_1-A.~");
    }
}
