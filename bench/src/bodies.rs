//! Typical deliveries of each provider, made distinct by their key field.

use lambda_http::{Body, Request};
use serde_json::Value;

pub const APP_ID: &str = "bench-app-id";
pub const APP_SECRET: &str = "bench-app-secret";
pub const PATH_TOKEN: &str = "bench-path-token-0123456789abcdef";

const CCPAYMENT: &[u8] = include_bytes!("../../shared/tests/fixtures/ccpayment/api-deposit.json");
const CCPAYMENT_PROCESSING: &[u8] =
    include_bytes!("../../shared/tests/fixtures/ccpayment/api-deposit-processing.json");
const CCPAYMENT_V2: &[u8] =
    include_bytes!("../../shared/tests/fixtures/ccpayment-v2/direct-deposit.json");
const ALCHEMYPAY: &[u8] = include_bytes!("../../shared/tests/fixtures/alchemypay/success.json");
const CITYPAY_ORDER: &[u8] =
    include_bytes!("../../shared/tests/fixtures/citypay/order-confirmed.json");
const CITYPAY_DEPOSIT: &[u8] =
    include_bytes!("../../shared/tests/fixtures/citypay/deposit-confirmed.json");

/// CityPay's order API answer for the order `key` stands for, confirmed, as the
/// loopback CityPay sends it.
pub fn citypay_api_answer(key: &str) -> Vec<u8> {
    format!(
        r#"{{"status":1,"data":{{"companyName":"Local shop","id":2876,"customerId":99,"token":"paid-{key}","coin":"Bitcoin","coinBaseName":"btc","amountFiat":"100","amount":0.00196864,"currency":{{"id":1,"currency":"US Dollar","abbreviation":"USD"}},"type":"Order","expiresAt":4102444800000,"expirationTime":3600000,"status":{{"code":"CONFIRMED","label":"CONFIRMED"}},"transactions":[]}}}}"#
    )
    .into_bytes()
}

/// The v2 record API's answer for the record `key` stands for, as the loopback
/// CCPayment sends it by default.
pub fn ccpayment_v2_record_answer(key: &str) -> Vec<u8> {
    format!(
        r#"{{"code":10000,"msg":"success","data":{{"record":{{"recordId":"{key}","coinId":1280,"coinSymbol":"USDT","chain":"TRX","amount":"10","status":"Success","txId":"0x{key}","serviceFee":"0.05","arrivedAt":1767225600,"isFlaggedAsRisky":false}}}}}}"#
    )
    .into_bytes()
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("fixture is not a JSON object: {0}")]
    Fixture(String),
    #[error("request: {0}")]
    Request(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ccpayment,
    CcpaymentProcessing,
    CcpaymentV2,
    Alchemypay,
    CitypayOrder,
    CitypayDeposit,
}

impl Kind {
    /// The provider (`shared::registry::ALL`) whose receiver takes this kind.
    pub fn provider(self) -> &'static str {
        match self {
            Kind::Ccpayment | Kind::CcpaymentProcessing => shared::ccpayment::PROVIDER,
            Kind::CcpaymentV2 => shared::ccpayment_v2::PROVIDER,
            Kind::Alchemypay => shared::alchemypay::PROVIDER,
            Kind::CitypayOrder | Kind::CitypayDeposit => shared::citypay::PROVIDER,
        }
    }

    fn fixture(self) -> (&'static [u8], &'static str) {
        match self {
            Kind::Ccpayment => (CCPAYMENT, "record_id"),
            Kind::CcpaymentProcessing => (CCPAYMENT_PROCESSING, "record_id"),
            // Under `msg`.
            Kind::CcpaymentV2 => (CCPAYMENT_V2, "recordId"),
            Kind::Alchemypay => (ALCHEMYPAY, "orderNo"),
            // `paid-` makes the loopback CityPay answer CONFIRMED.
            Kind::CitypayOrder => (CITYPAY_ORDER, "order_token"),
            Kind::CitypayDeposit => (CITYPAY_DEPOSIT, "transaction_id"),
        }
    }

    /// The fixture with its key field set to `key`.
    pub fn body(self, key: &str) -> Result<Vec<u8>, BodyError> {
        let (fixture, field) = self.fixture();
        let mut v: Value =
            serde_json::from_slice(fixture).map_err(|e| BodyError::Fixture(e.to_string()))?;
        let key = if self == Kind::CitypayOrder {
            format!("paid-{key}")
        } else {
            key.to_string()
        };
        // Each delivery pays its own merchant order, as is typical: one order
        // taking hundreds of payments is another case (it lists at most 100).
        if let Some(extend) = v.get_mut("extend").and_then(Value::as_object_mut) {
            if extend.contains_key("merchant_order_id") {
                extend.insert(
                    "merchant_order_id".to_string(),
                    Value::String(format!("order-{key}")),
                );
            }
        }
        let target = if self == Kind::CcpaymentV2 {
            v.get_mut("msg")
        } else {
            Some(&mut v)
        };
        target
            .and_then(Value::as_object_mut)
            .ok_or_else(|| BodyError::Fixture(field.to_string()))?
            .insert(field.to_string(), Value::String(key));
        serde_json::to_vec(&v).map_err(|e| BodyError::Fixture(e.to_string()))
    }

    /// The delivery as the provider sends it; CCPayment's signed at `now_unix`.
    pub fn request(self, body: Vec<u8>, now_unix: i64) -> Result<Request, BodyError> {
        let builder = lambda_http::http::Request::builder()
            .method("POST")
            .header("content-type", "application/json");
        let builder = match self {
            Kind::Ccpayment | Kind::CcpaymentProcessing => {
                let ts = now_unix.to_string();
                let sign = testkit::ccpayment::sign(APP_ID, APP_SECRET, &ts, &body);
                builder
                    .uri("/webhooks/ccpayment")
                    .header("Appid", APP_ID)
                    .header("Timestamp", ts)
                    .header("Sign", sign)
            }
            Kind::CcpaymentV2 => {
                let ts = now_unix.to_string();
                let sign = testkit::ccpayment_v2::sign(APP_ID, APP_SECRET, &ts, &body);
                builder
                    .uri("/webhooks/ccpayment-v2")
                    .header("Appid", APP_ID)
                    .header("Timestamp", ts)
                    .header("Sign", sign)
            }
            Kind::Alchemypay => builder.uri(format!("/webhooks/alchemypay/{PATH_TOKEN}")),
            Kind::CitypayOrder | Kind::CitypayDeposit => {
                builder.uri(format!("/webhooks/citypay/{PATH_TOKEN}"))
            }
        };
        builder
            .body(Body::from(body))
            .map_err(|e| BodyError::Request(e.to_string()))
    }
}
