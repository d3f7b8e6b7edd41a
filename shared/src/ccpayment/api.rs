//! Calls to CCPayment's v1.0 API, signed like every v1 request; an answer with
//! `code: 10000` must carry a valid signature over its raw body or it is treated
//! as tampered.

use std::time::Duration;

use serde_json::{json, Value};

use super::signature::{self, Credentials, SignedHeaders};
use crate::timestamp::Freshness;

pub const DEFAULT_API_BASE: &str = "https://admin.ccpayment.com/ccpayment/v1";
const SUCCESS_CODE: i64 = 10_000;
const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct CcpaymentApi {
    client: reqwest::Client,
    base: String,
    credentials: Credentials,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error("CCPayment API timed out")]
    Timeout,
    #[error("CCPayment API unreachable: {0}")]
    Transport(String),
    #[error("CCPayment API answered HTTP {0}")]
    Http(u16),
    #[error("CCPayment refused: code {code}: {msg}")]
    Refused { code: i64, msg: String },
    #[error("CCPayment answer has a bad signature: {0}")]
    BadSignature(String),
    #[error("CCPayment answer unreadable: {0}")]
    BadResponse(String),
}

/// One `/webhook/resend` request: a window of at most an hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendRequest {
    pub start: i64,
    pub end: i64,
    /// Every notification of the window (`All Result`), not only failed ones.
    pub all_results: bool,
    /// One notification type as v1 spells it; `None` for `All Type`.
    pub transaction_type: Option<String>,
}

/// What `/bill/info` says of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInfo {
    pub merchant_order_id: String,
    pub status: String,
}

impl CcpaymentApi {
    pub fn new(base: &str, credentials: Credentials, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            client: crate::outbound::client(timeout)?,
            base: crate::outbound::base_url(base)?,
            credentials,
        })
    }

    /// The account this client signs for.
    pub fn app_id(&self) -> &str {
        &self.credentials.app_id
    }

    /// Asks CCPayment to resend the window's notifications; returns how many it will resend.
    pub async fn resend(&self, r: &ResendRequest, now_unix: i64) -> Result<u64, ApiError> {
        if r.end <= r.start || r.end - r.start > 3600 {
            return Err(ApiError::BadResponse(
                "window must be 1 s to 1 h long".into(),
            ));
        }
        let body = json!({
            "start_timestamp": r.start,
            "end_timestamp": r.end,
            "webhook_result": if r.all_results { "All Result" } else { "Failed" },
            "transaction_type": r.transaction_type.as_deref().unwrap_or("All Type"),
        });
        let data = self.call("/webhook/resend", &body, now_unix).await?;
        // The documented example sends the count as a string.
        let count = match data.get("resend_count") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        count.ok_or_else(|| ApiError::BadResponse("no resend_count".into()))
    }

    /// Order status for up to 100 merchant order ids of one kind (deposits or withdrawals).
    pub async fn bill_info(
        &self,
        ids: &[String],
        now_unix: i64,
    ) -> Result<Vec<OrderInfo>, ApiError> {
        if ids.is_empty() || ids.len() > 100 {
            return Err(ApiError::BadResponse(
                "between 1 and 100 ids per call".into(),
            ));
        }
        let data = self
            .call(
                "/bill/info",
                &json!({ "merchant_order_ids": ids }),
                now_unix,
            )
            .await?;
        let list = data
            .as_array()
            .ok_or_else(|| ApiError::BadResponse("data is not a list".into()))?;
        Ok(list
            .iter()
            .filter_map(|o| {
                let detail = o.get("order_detail")?;
                Some(OrderInfo {
                    merchant_order_id: detail.get("merchant_order_id")?.as_str()?.to_string(),
                    status: detail.get("status")?.as_str()?.to_string(),
                })
            })
            .collect())
    }

    async fn call(&self, path: &str, body: &Value, now_unix: i64) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::BadResponse(e.to_string()))?;
        let ts = now_unix.to_string();
        let sign = signature::sign(
            &self.credentials.app_id,
            self.credentials.secret.expose(),
            &ts,
            &bytes,
        );
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Appid", &self.credentials.app_id)
            .header("Timestamp", &ts)
            .header("Sign", sign)
            .body(bytes)
            .send()
            .await
            .map_err(transport)?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(ApiError::Http(resp.status().as_u16()));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (app_id, timestamp, sign) = (header("appid"), header("timestamp"), header("sign"));
        let raw = resp.bytes().await.map_err(transport)?;
        if raw.len() > MAX_ANSWER_BYTES {
            return Err(ApiError::BadResponse("too large".into()));
        }
        let answer: Value =
            serde_json::from_slice(&raw).map_err(|e| ApiError::BadResponse(e.to_string()))?;
        let code = answer.get("code").and_then(Value::as_i64).unwrap_or(-1);
        if code != SUCCESS_CODE {
            let msg = answer
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            return Err(ApiError::Refused { code, msg });
        }
        let (Some(app_id), Some(timestamp), Some(sign)) = (app_id, timestamp, sign) else {
            return Err(ApiError::BadSignature("signature headers missing".into()));
        };
        signature::verify(
            SignedHeaders {
                app_id: &app_id,
                timestamp: &timestamp,
                sign: &sign,
            },
            &raw,
            &self.credentials,
            now_unix,
            Freshness::strict(300),
        )
        .map_err(|e| ApiError::BadSignature(e.to_string()))?;
        Ok(answer.get("data").cloned().unwrap_or(Value::Null))
    }
}

fn transport(e: reqwest::Error) -> ApiError {
    if e.is_timeout() {
        ApiError::Timeout
    } else {
        ApiError::Transport(e.to_string())
    }
}
