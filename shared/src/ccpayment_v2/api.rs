//! CCPayment's v2 API: `POST {base}/<path>`, signed like a v2 webhook, answering
//! `{"code": 10000, "msg": "success", "data": {...}}`. The record APIs hold the
//! money facts a v2 webhook leaves out; the list APIs allow complete sweeps.
//!
//! The vendor's own v2 SDKs do not check a signature on answers and the docs do not
//! say answers are signed; when an answer carries `Appid`, `Timestamp` and `Sign`
//! headers they are checked, and a bad one is treated as tampering.

use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{json, value::RawValue, Value};

use super::notification::{NotificationType, Status};
use super::signature;
use crate::ccpayment::signature::SignedHeaders;
use crate::ccpayment::Credentials;
use crate::fields::{Amount, FieldError, Fields};
use crate::timestamp::Freshness;

pub const DEFAULT_API_BASE: &str = "https://ccpayment.com/ccpayment/v2";
const SUCCESS_CODE: i64 = 10_000;
/// "Not found": an order id that is not an order of this kind.
pub const NOT_FOUND_CODE: i64 = 11_003;
/// "Rate limit": the caller must slow down.
pub const RATE_LIMIT_CODE: i64 = 11_004;
const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;
/// Clock difference tolerated on a signed answer.
const ANSWER_WINDOW_SECS: u64 = 300;

#[derive(Debug, Clone)]
pub struct V2Api {
    client: reqwest::Client,
    base: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error("CCPayment API timed out")]
    Timeout,
    #[error("CCPayment API unreachable: {0}")]
    Transport(String),
    #[error("CCPayment API answered HTTP {0}")]
    Http(u16),
    #[error("CCPayment API rate limit (code 11004)")]
    RateLimited,
    #[error("CCPayment refused: code {code}: {msg}")]
    Refused { code: i64, msg: String },
    #[error("CCPayment answer has a bad signature: {0}")]
    BadSignature(String),
    #[error("CCPayment answer unreadable: {0}")]
    BadResponse(String),
}

impl ApiError {
    /// A short, fixed code for logs, metrics and the stored event.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Timeout => "timeout",
            ApiError::Transport(_) => "unreachable",
            ApiError::Http(_) => "http_error",
            ApiError::RateLimited => "rate_limited",
            ApiError::Refused { code, .. } if *code == NOT_FOUND_CODE => "not_found",
            ApiError::Refused { .. } => "refused",
            ApiError::BadSignature(_) => "bad_signature",
            ApiError::BadResponse(_) => "bad_answer",
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::BadResponse(e.to_string())
    }
}

/// One deposit or withdrawal record as the record and list APIs describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub record_id: String,
    pub status_text: String,
    pub status: Status,
    /// `orderId`, `referenceId`, `userId` where linked.
    pub refs: Vec<(&'static str, String)>,
    /// Exact decimals as sent: `amount`, `service_fee` (deposits), `fee` (withdrawals).
    pub amounts: Vec<(&'static str, String)>,
    /// `coin_symbol`, `chain`, `tx_id`, `arrived_at`, `withdraw_type`, ...
    pub details: Vec<(&'static str, String)>,
    pub risky: bool,
}

/// What the order APIs say of one merchant order: what is due and what was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInfo {
    /// `app_order` (`getAppOrderInfo`) or `invoice` (`getInvoiceOrderInfo`).
    pub source: &'static str,
    /// `amountToPay` (order, in the coin) or `price` (invoice, in its pricing currency).
    pub amount_due: Option<String>,
    pub currency: Option<String>,
    /// The sum of the successful, not risky payments listed against the order, in
    /// the order's coin (order) or pricing currency (invoice, `paidValue`).
    pub paid_total: Option<String>,
    pub payments: usize,
    pub expired_at: Option<i64>,
}

/// One page of a list API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<Listed>,
    pub next_id: Option<String>,
}

/// A record as a list API gave it: parsed, and the exact bytes, to keep as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub record: Record,
    pub raw: String,
}

impl V2Api {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            client: crate::outbound::client(timeout)?,
            base: crate::outbound::base_url(base)?,
        })
    }

    /// The record API for a notification type; `None` for a type v2 does not document.
    fn record_path(kind: &NotificationType) -> Option<&'static str> {
        Some(match kind {
            NotificationType::ApiDeposit | NotificationType::DirectDeposit => {
                "/getAppDepositRecord"
            }
            NotificationType::ApiWithdrawal => "/getAppWithdrawRecord",
            NotificationType::UserDeposit => "/getUserDepositRecord",
            NotificationType::UserWithdrawal => "/getUserWithdrawRecord",
            NotificationType::Unknown(_) => return None,
        })
    }

    /// The list API that holds records of `kind`; app deposits of both kinds share one.
    pub fn list_path(kind: &NotificationType) -> Option<&'static str> {
        Some(match kind {
            NotificationType::ApiDeposit | NotificationType::DirectDeposit => {
                "/getAppDepositRecordList"
            }
            NotificationType::ApiWithdrawal => "/getAppWithdrawRecordList",
            NotificationType::UserDeposit => "/getUserDepositRecordList",
            NotificationType::UserWithdrawal => "/getUserWithdrawRecordList",
            NotificationType::Unknown(_) => return None,
        })
    }

    /// The record in a record API's answer, as `record` reads it. For the benchmark.
    #[doc(hidden)]
    pub fn parse_record_answer(raw: &[u8]) -> Result<Record, ApiError> {
        let f = Fields::parse(raw)?;
        let record = f
            .object("data")?
            .and_then(|d| d.object("record").transpose())
            .transpose()?
            .ok_or_else(|| ApiError::BadResponse("no data.record".into()))?;
        parse_record(&record)
    }

    /// The record behind a notification.
    pub async fn record(
        &self,
        account: &Credentials,
        kind: &NotificationType,
        record_id: &str,
        now_unix: i64,
    ) -> Result<Record, ApiError> {
        let path = Self::record_path(kind).ok_or_else(|| {
            ApiError::BadResponse(format!("no record API for type {}", kind.as_str()))
        })?;
        let raw = self
            .call(account, path, &json!({ "recordId": record_id }), now_unix)
            .await?;
        let r = Self::parse_record_answer(&raw)?;
        if r.record_id != record_id {
            return Err(ApiError::BadResponse(
                "the answer is about another record".into(),
            ));
        }
        Ok(r)
    }

    /// What is due on a merchant order and what was paid against it. The webhook
    /// does not say whether `orderId` is an order or an invoice: the order API is
    /// asked first, the invoice API when it does not know the id.
    pub async fn order_info(
        &self,
        account: &Credentials,
        order_id: &str,
        now_unix: i64,
    ) -> Result<OrderInfo, ApiError> {
        let body = json!({ "orderId": order_id });
        match self
            .call(account, "/getAppOrderInfo", &body, now_unix)
            .await
        {
            Ok(raw) => parse_order(&raw, "app_order"),
            Err(ApiError::Refused { code, .. }) if code == NOT_FOUND_CODE => {
                let raw = self
                    .call(account, "/getInvoiceOrderInfo", &body, now_unix)
                    .await?;
                parse_order(&raw, "invoice")
            }
            Err(e) => Err(e),
        }
    }

    /// One page of the records of `kind` created in `[start_at, end_at]`, newest first.
    pub async fn list(
        &self,
        account: &Credentials,
        kind: &NotificationType,
        start_at: i64,
        end_at: i64,
        next_id: Option<&str>,
        now_unix: i64,
    ) -> Result<Page, ApiError> {
        let path = Self::list_path(kind).ok_or_else(|| {
            ApiError::BadResponse(format!("no list API for type {}", kind.as_str()))
        })?;
        let mut body = json!({ "startAt": start_at, "endAt": end_at });
        if let (Some(next), Some(obj)) = (next_id, body.as_object_mut()) {
            obj.insert("nextId".into(), Value::from(next));
        }
        let raw = self.call(account, path, &body, now_unix).await?;
        let f = Fields::parse(&raw)?;
        let data = f
            .object("data")?
            .ok_or_else(|| ApiError::BadResponse("no data".into()))?;
        let mut records = Vec::new();
        if let Some(list) = data.get("records") {
            let items: Vec<&RawValue> = serde_json::from_str(list.get())
                .map_err(|_| ApiError::BadResponse("data.records is not a list".into()))?;
            for item in items {
                records.push(Listed {
                    record: parse_record(&Fields::parse(item.get().as_bytes())?)?,
                    raw: item.get().to_string(),
                });
            }
        }
        Ok(Page {
            records,
            next_id: data.id("nextId")?,
        })
    }

    /// `/webhook/resend` for up to 50 record ids, or for a window of at most an hour.
    /// Returns how many notifications CCPayment will resend.
    pub async fn resend(
        &self,
        account: &Credentials,
        request: &ResendRequest,
        now_unix: i64,
    ) -> Result<u64, ApiError> {
        let body = request.body()?;
        let raw = self
            .call(account, "/webhook/resend", &body, now_unix)
            .await?;
        let f = Fields::parse(&raw)?;
        let data = f
            .object("data")?
            .ok_or_else(|| ApiError::BadResponse("no data".into()))?;
        data.id("resendCount")?
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| ApiError::BadResponse("no resendCount".into()))
    }

    /// Signs and sends one request; returns the raw answer of a `code: 10000`.
    async fn call(
        &self,
        account: &Credentials,
        path: &str,
        body: &Value,
        now_unix: i64,
    ) -> Result<Vec<u8>, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::BadResponse(e.to_string()))?;
        let ts = now_unix.to_string();
        let sign = signature::sign(&account.app_id, account.secret.expose(), &ts, &bytes);
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("Appid", &account.app_id)
            .header("Timestamp", &ts)
            .header("Sign", sign)
            .body(bytes)
            .send()
            .await
            .map_err(transport)?;
        if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited);
        }
        if resp.status() != reqwest::StatusCode::OK {
            return Err(ApiError::Http(resp.status().as_u16()));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let signed = (header("appid"), header("timestamp"), header("sign"));
        let raw = resp.bytes().await.map_err(transport)?;
        if raw.len() > MAX_ANSWER_BYTES {
            return Err(ApiError::BadResponse("too large".into()));
        }
        let f = Fields::parse(&raw)?;
        let code = f
            .id("code")?
            .and_then(|c| c.parse::<i64>().ok())
            .ok_or_else(|| ApiError::BadResponse("no code".into()))?;
        if code == RATE_LIMIT_CODE {
            return Err(ApiError::RateLimited);
        }
        if code != SUCCESS_CODE {
            let msg = f
                .text("msg")
                .ok()
                .flatten()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            return Err(ApiError::Refused { code, msg });
        }
        match signed {
            (None, None, None) => {}
            (Some(app_id), Some(timestamp), Some(sign)) => {
                signature::verify(
                    SignedHeaders {
                        app_id: &app_id,
                        timestamp: &timestamp,
                        sign: &sign,
                    },
                    &raw,
                    account,
                    now_unix,
                    Freshness::strict(ANSWER_WINDOW_SECS),
                )
                .map_err(|e| ApiError::BadSignature(e.to_string()))?;
            }
            _ => {
                return Err(ApiError::BadSignature(
                    "signature headers incomplete".into(),
                ))
            }
        }
        Ok(raw.to_vec())
    }
}

/// A `/webhook/resend` request: record ids, or a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResendRequest {
    Records(Vec<String>),
    Window {
        start: i64,
        end: i64,
        all_results: bool,
        transaction_type: Option<String>,
    },
}

/// At most this many record ids per resend call.
pub const MAX_RESEND_IDS: usize = 50;

impl ResendRequest {
    fn body(&self) -> Result<Value, ApiError> {
        match self {
            ResendRequest::Records(ids) => {
                if ids.is_empty() || ids.len() > MAX_RESEND_IDS {
                    return Err(ApiError::BadResponse("1 to 50 record ids per call".into()));
                }
                Ok(json!({ "recordIds": ids }))
            }
            ResendRequest::Window {
                start,
                end,
                all_results,
                transaction_type,
            } => {
                if end <= start || end - start > 3600 {
                    return Err(ApiError::BadResponse(
                        "window must be 1 s to 1 h long".into(),
                    ));
                }
                Ok(json!({
                    "startTimestamp": start,
                    "endTimestamp": end,
                    "webhookResult": if *all_results { "AllResult" } else { "Failed" },
                    "transactionType": transaction_type.as_deref().unwrap_or("AllType"),
                }))
            }
        }
    }
}

fn parse_record(f: &Fields<'_>) -> Result<Record, ApiError> {
    let record_id = f.required_id("recordId")?;
    let status_text = f.id("status")?.ok_or_else(|| FieldError::Missing {
        field: "status".into(),
    })?;
    let mut refs = Vec::new();
    for (field, key) in [
        ("orderId", "order_id"),
        ("referenceId", "reference_id"),
        ("userId", "user_id"),
    ] {
        if let Some(v) = f.id(field)? {
            refs.push((key, v));
        }
    }
    let mut amounts = Vec::new();
    for (field, key) in [("amount", "amount"), ("serviceFee", "service_fee")] {
        if let Some(a) = f.amount(field)? {
            amounts.push((key, a.text));
        }
    }
    let mut details = Vec::new();
    // Withdrawals carry their fee as an object in its own coin.
    if let Some(fee) = f.object("fee")? {
        if let Some(a) = fee.amount("amount")? {
            amounts.push(("fee", a.text));
        }
        if let Some(c) = fee.text("coinSymbol")? {
            details.push(("fee_coin_symbol", c));
        }
    }
    for (field, key) in [
        ("coinId", "coin_id"),
        ("coinSymbol", "coin_symbol"),
        ("chain", "chain"),
        ("txId", "tx_id"),
        ("arrivedAt", "arrived_at"),
        ("withdrawType", "withdraw_type"),
        ("coinUSDPrice", "coin_usd_price"),
    ] {
        if let Some(v) = f.text(field)? {
            details.push((key, v));
        }
    }
    Ok(Record {
        record_id,
        status: Status::parse(&status_text),
        status_text,
        refs,
        amounts,
        details,
        risky: f.bool("isFlaggedAsRisky")?.unwrap_or(false),
    })
}

fn parse_order(raw: &[u8], source: &'static str) -> Result<OrderInfo, ApiError> {
    let f = Fields::parse(raw)?;
    let data = f
        .object("data")?
        .ok_or_else(|| ApiError::BadResponse("no data".into()))?;
    let invoice = source == "invoice";
    let (due_field, currency_field, paid_field) = if invoice {
        ("price", "priceSymbol", "paidValue")
    } else {
        ("amountToPay", "coinSymbol", "amount")
    };
    let amount_due = data.amount(due_field)?.map(|a| a.text);
    let mut total = Decimal::ZERO;
    let mut exact = true;
    let mut payments = 0;
    if let Some(list) = data.get("paidList") {
        let items: Vec<&RawValue> = serde_json::from_str(list.get())
            .map_err(|_| ApiError::BadResponse("paidList is not a list".into()))?;
        for item in items {
            let p = Fields::parse(item.get().as_bytes())?;
            let success = p
                .text("status")?
                .is_some_and(|s| Status::parse(&s) == Status::Success);
            let risky = p.bool("isFlaggedAsRisky")?.unwrap_or(false);
            if !success || risky {
                continue;
            }
            payments += 1;
            match p.amount(paid_field)? {
                Some(Amount { value: Some(v), .. }) => total += v,
                _ => exact = false,
            }
        }
    }
    Ok(OrderInfo {
        source,
        amount_due,
        currency: data.text(currency_field)?,
        // A payment without an exact amount makes the total unknown, never smaller.
        paid_total: exact.then(|| total.normalize().to_string()),
        payments,
        expired_at: data.id("expiredAt")?.and_then(|t| t.parse().ok()),
    })
}

fn transport(e: reqwest::Error) -> ApiError {
    if e.is_timeout() {
        ApiError::Timeout
    } else {
        ApiError::Transport(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_deposit_record() {
        // getAppDepositRecord's documented example, as JSON.
        let raw = br#"{"recordId":"20250116073333231508600365121536","orderId":"1737011983","coinId":1482,"coinSymbol":"TRX","chain":"TRX","contract":"TRX","coinUSDPrice":"0.23717","amount":"0.5","serviceFee":"0.0025","status":"Success","arrivedAt":1737012813,"isFlaggedAsRisky":false}"#;
        let r = parse_record(&Fields::parse(raw).unwrap()).unwrap();
        assert_eq!(r.status, Status::Success);
        assert_eq!(
            r.amounts,
            vec![("amount", "0.5".into()), ("service_fee", "0.0025".into())]
        );
        assert_eq!(r.refs, vec![("order_id", "1737011983".into())]);
        assert!(!r.risky);
        assert!(r.details.contains(&("arrived_at", "1737012813".into())));
    }

    #[test]
    fn the_documented_withdrawal_record() {
        let raw = br#"{"recordId":"202403120909501767478092588126208","withdrawType":"Network","coinId":1891,"coinSymbol":"TETH","chain":"POLYGON","orderId":"1710234589577","status":"Success","amount":"0.004","fee":{"coinId":1891,"coinSymbol":"TETH","amount":"0.001"}}"#;
        let r = parse_record(&Fields::parse(raw).unwrap()).unwrap();
        assert_eq!(
            r.amounts,
            vec![("amount", "0.004".into()), ("fee", "0.001".into())]
        );
        assert!(r.details.contains(&("withdraw_type", "Network".into())));
    }

    #[test]
    fn order_totals_are_exact_and_skip_risky_and_unfinished_payments() {
        let raw = br#"{"code":10000,"msg":"success","data":{"amountToPay":"0.3","coinSymbol":"ETH","expiredAt":1737013000,"paidList":[
            {"recordId":"a","amount":"0.1","status":"Success","isFlaggedAsRisky":false},
            {"recordId":"b","amount":"0.2","status":"Success","isFlaggedAsRisky":false},
            {"recordId":"c","amount":"5","status":"Success","isFlaggedAsRisky":true},
            {"recordId":"d","amount":"7","status":"Processing"}]}}"#;
        let o = parse_order(raw, "app_order").unwrap();
        assert_eq!(o.amount_due.as_deref(), Some("0.3"));
        assert_eq!(o.paid_total.as_deref(), Some("0.3"), "0.1 + 0.2 exactly");
        assert_eq!(o.payments, 2);
        assert_eq!(o.expired_at, Some(1_737_013_000));
    }

    #[test]
    fn resend_bodies() {
        let ids: Vec<String> = (0..51).map(|i| i.to_string()).collect();
        assert!(ResendRequest::Records(ids[..50].to_vec()).body().is_ok());
        assert!(ResendRequest::Records(ids).body().is_err());
        assert!(ResendRequest::Records(Vec::new()).body().is_err());
        let w = ResendRequest::Window {
            start: 0,
            end: 3600,
            all_results: false,
            transaction_type: None,
        };
        assert_eq!(
            w.body().unwrap(),
            json!({"startTimestamp":0,"endTimestamp":3600,"webhookResult":"Failed","transactionType":"AllType"})
        );
    }
}
