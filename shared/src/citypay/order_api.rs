//! `GET {base}/order/{order_token}`: CityPay's own word on an order's status.
//! Documented without authentication; the answer is `{"status":1,"data":{...}}`.
//!
//! Anyone can hold a CONFIRMED token (their own cheap order, here or at another
//! shop), so an answer confirms an order only when it binds it: its `token` is the
//! one asked about and its `customerId` is this merchant's CityPay customer id
//! (`CITYPAY_CUSTOMER_ID`). The customer id, not the company name (free text, not
//! unique) nor the callback URL (which holds the secret path token and changes
//! with it), is the account's stable identity. The order's id, currency and fiat
//! amounts are then the answer's; the callback's are only compared with them.

use std::time::Duration;

use rust_decimal::Decimal;

use super::status::OrderStatus;
use crate::fields::Fields;

pub const DEFAULT_API_BASE: &str = "https://v2-order-api.citypay.io";

/// Bigger answers are not an order.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct OrderApi {
    client: reqwest::Client,
    base: String,
    customer_id: Option<String>,
}

/// What the order API's answer says of an order that is this merchant's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedOrder {
    pub status: OrderStatus,
    /// Epoch milliseconds after which an unpaid order is expired.
    pub expires_at_ms: Option<i64>,
    /// CityPay's id of the order (`data.id`), compared with the callback's `order_id`.
    pub order_id: Option<String>,
    /// The order's fiat currency (`data.currency.abbreviation`).
    pub currency: Option<String>,
    /// The order's fiat price.
    pub amount_fiat: Option<String>,
    /// The fiat total of its transactions; `None` when the answer lists none.
    pub paid_fiat: Option<Decimal>,
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
    #[error("order API's order id is not the callback's")]
    OrderIdMismatch,
    #[error("the order belongs to another CityPay customer")]
    NotOurs,
    #[error("CITYPAY_CUSTOMER_ID is not set: no order can be bound to this merchant")]
    OwnerUnconfigured,
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
            ConfirmError::OrderIdMismatch => "order_id_mismatch",
            ConfirmError::NotOurs => "not_our_order",
            ConfirmError::OwnerUnconfigured => "owner_unconfigured",
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
    /// `customer_id`: this merchant's CityPay customer id; without it nothing is
    /// confirmed (every answer is `OwnerUnconfigured`).
    pub fn new(
        base: impl Into<String>,
        timeout: Duration,
        customer_id: Option<String>,
    ) -> Result<Self, String> {
        Ok(Self {
            client: super::http::client(timeout)?,
            base: crate::outbound::base_url(&base.into())?,
            customer_id: customer_id
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty()),
        })
    }

    pub fn customer_id(&self) -> Option<&str> {
        self.customer_id.as_deref()
    }

    pub async fn fetch(&self, order_token: &str) -> Result<ConfirmedOrder, ConfirmError> {
        // Nothing can be bound without it: no request spent either.
        let Some(customer_id) = self.customer_id.as_deref() else {
            return Err(ConfirmError::OwnerUnconfigured);
        };
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
        parse_answer(&bytes, order_token, customer_id)
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

/// The answer, bound: about `order_token`, of the customer `customer_id`.
pub fn parse_answer(
    bytes: &[u8],
    order_token: &str,
    customer_id: &str,
) -> Result<ConfirmedOrder, ConfirmError> {
    let bad = |e: crate::fields::FieldError| ConfirmError::BadResponse(e.to_string());
    let top = Fields::parse(bytes).map_err(bad)?;
    let data = match top.object("data").map_err(bad)? {
        Some(d) => d,
        None => return Err(ConfirmError::NotFound),
    };
    // Both bind the answer: an answer that leaves either out confirms nothing.
    match data.id("token").map_err(bad)? {
        Some(token) if token == order_token => {}
        Some(_) => return Err(ConfirmError::TokenMismatch),
        None => return Err(ConfirmError::BadResponse("no data.token".into())),
    }
    match data.id("customerId").map_err(bad)? {
        Some(c) if same_id(&c, customer_id) => {}
        Some(_) => return Err(ConfirmError::NotOurs),
        None => return Err(ConfirmError::BadResponse("no data.customerId".into())),
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
    let currency = data
        .object("currency")
        .map_err(bad)?
        .and_then(|c| c.text("abbreviation").ok().flatten());
    let paid_fiat = if data.is_array("transactions") {
        let mut total = Decimal::ZERO;
        for tx in data.objects("transactions").map_err(bad)? {
            let fiat = tx.object("amountFiat").map_err(bad)?;
            let Some(fiat) = fiat else {
                return Err(ConfirmError::BadResponse(
                    "a transaction without amountFiat".into(),
                ));
            };
            let value = fiat
                .amount("total")
                .map_err(bad)?
                .and_then(|a| a.value)
                .ok_or_else(|| {
                    ConfirmError::BadResponse("a transaction without amountFiat.total".into())
                })?;
            total = total
                .checked_add(value)
                .ok_or_else(|| ConfirmError::BadResponse("transaction totals overflow".into()))?;
        }
        Some(total.normalize())
    } else {
        None
    };
    Ok(ConfirmedOrder {
        status: OrderStatus::parse(&code),
        expires_at_ms,
        order_id: data.id("id").map_err(bad)?,
        currency,
        amount_fiat: data.text("amountFiat").map_err(bad)?,
        paid_fiat,
    })
}

/// Customer ids are numbers in answers and may be configured with leading zeros
/// (the documentation prints `099`).
fn same_id(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.trim().trim_start_matches('0').to_string();
    let (a, b) = (a.trim(), b.trim());
    a == b
        || (a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
            && digits(a) == digits(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_answer() {
        let body = br#"{"status":1,"data":{"companyName":"Shop","id":2876,"customerId":99,"token":"tok-1","coin":"Bitcoin","amountFiat":"100","amount":0.00196864,"status":{"code":"IN_PROGRESS","label":"IN_PROGRESS"},"expiresAt":1617790551102,"transactions":[]}}"#;
        let o = parse_answer(body, "tok-1", "99").unwrap();
        assert_eq!(o.status, OrderStatus::InProgress);
        assert_eq!(o.expires_at_ms, Some(1_617_790_551_102));
        assert_eq!(o.amount_fiat.as_deref(), Some("100"));
        assert_eq!(o.order_id.as_deref(), Some("2876"));
        assert_eq!(o.paid_fiat, Some(Decimal::ZERO));
        assert_eq!(parse_answer(body, "tok-1", "099").unwrap(), o);
    }

    #[test]
    fn amounts_and_currency_are_the_answers() {
        let body = br#"{"status":1,"data":{"id":"2877","customerId":"99","token":"t","amountFiat":"100","currency":{"abbreviation":"EUR"},"status":{"code":"CONFIRMED"},"transactions":[{"id":1,"amountFiat":{"base":"100","total":"60.10"}},{"id":2,"amountFiat":{"base":"100","total":39.9}}]}}"#;
        let o = parse_answer(body, "t", "99").unwrap();
        assert_eq!(o.currency.as_deref(), Some("EUR"));
        assert_eq!(o.paid_fiat, Some(Decimal::new(100, 0)));
        assert_eq!(o.order_id.as_deref(), Some("2877"));
        let no_list = br#"{"data":{"customerId":99,"token":"t","status":{"code":"CONFIRMED"}}}"#;
        assert_eq!(parse_answer(no_list, "t", "99").unwrap().paid_fiat, None);
        let bad_tx = br#"{"data":{"customerId":99,"token":"t","status":{"code":"CONFIRMED"},"transactions":[{"id":1}]}}"#;
        assert!(matches!(
            parse_answer(bad_tx, "t", "99"),
            Err(ConfirmError::BadResponse(_))
        ));
    }

    #[test]
    fn another_customers_order_confirms_nothing() {
        let body = br#"{"status":1,"data":{"id":1,"customerId":512,"token":"t","status":{"code":"CONFIRMED"}}}"#;
        assert_eq!(parse_answer(body, "t", "99"), Err(ConfirmError::NotOurs));
        assert_eq!(parse_answer(body, "t", "5120"), Err(ConfirmError::NotOurs));
        let anonymous =
            br#"{"status":1,"data":{"id":1,"token":"t","status":{"code":"CONFIRMED"}}}"#;
        assert!(matches!(
            parse_answer(anonymous, "t", "99"),
            Err(ConfirmError::BadResponse(_))
        ));
    }

    #[test]
    fn answers_that_confirm_nothing() {
        assert_eq!(
            parse_answer(br#"{"status":1,"data":null}"#, "t", "99"),
            Err(ConfirmError::NotFound)
        );
        assert_eq!(
            parse_answer(
                br#"{"data":{"token":"other","customerId":99,"status":{"code":"CONFIRMED"}}}"#,
                "t",
                "99"
            ),
            Err(ConfirmError::TokenMismatch)
        );
        assert!(matches!(
            parse_answer(
                br#"{"data":{"customerId":99,"status":{"code":"CONFIRMED"}}}"#,
                "t",
                "99"
            ),
            Err(ConfirmError::BadResponse(_))
        ));
        assert!(matches!(
            parse_answer(
                br#"{"data":{"token":"t","customerId":99,"status":{}}}"#,
                "t",
                "99"
            ),
            Err(ConfirmError::BadResponse(_))
        ));
        assert!(matches!(
            parse_answer(b"<html>", "t", "99"),
            Err(ConfirmError::BadResponse(_))
        ));
    }

    #[test]
    fn tokens_cannot_escape_the_path() {
        assert_eq!(path_segment("a/../b?c#d"), "a%2F..%2Fb%3Fc%23d");
        assert_eq!(path_segment("tok_1-A.~"), "tok_1-A.~");
    }
}
