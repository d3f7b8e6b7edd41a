//! Typical deliveries of each provider, made distinct by their key field.

use lambda_http::{Body, Request};
use serde_json::Value;

pub const APP_ID: &str = "bench-app-id";
pub const APP_SECRET: &str = "bench-app-secret";
pub const PATH_TOKEN: &str = "bench-path-token-0123456789abcdef";

const CCPAYMENT: &[u8] = include_bytes!("../../shared/tests/fixtures/ccpayment/api-deposit.json");
const CCPAYMENT_PROCESSING: &[u8] =
    include_bytes!("../../shared/tests/fixtures/ccpayment/api-deposit-processing.json");
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
    Alchemypay,
    CitypayOrder,
    CitypayDeposit,
}

impl Kind {
    /// The provider (`shared::provider::ALL`) whose receiver takes this kind.
    #[cfg(test)]
    pub fn provider(self) -> &'static str {
        match self {
            Kind::Ccpayment | Kind::CcpaymentProcessing => shared::ccpayment::PROVIDER,
            Kind::Alchemypay => shared::alchemypay::PROVIDER,
            Kind::CitypayOrder | Kind::CitypayDeposit => shared::citypay::PROVIDER,
        }
    }

    fn fixture(self) -> (&'static [u8], &'static str) {
        match self {
            Kind::Ccpayment => (CCPAYMENT, "record_id"),
            Kind::CcpaymentProcessing => (CCPAYMENT_PROCESSING, "record_id"),
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
        v.as_object_mut()
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
