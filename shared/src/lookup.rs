//! "Where is my order?": the merchant's lookup of a payment, by the merchant's
//! own order reference, by its user reference, or by a provider and the provider's
//! record id, with the history of every record behind it. Served on the HTTP API
//! (IAM-authorized) and by `payments-ops payment`.
//!
//! Stored bodies never leave: an event shows its status, amounts, references and
//! details, with e-mail addresses left out and card numbers masked.

use std::collections::BTreeMap;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use crate::response::error;
use crate::store::lookup::RecordItems;
use crate::store::payment::{pk_for_ref, pk_for_user, Payment};
use crate::store::{AttrExt, Item, Store, StoreError};

/// The longest reference or record id accepted (the providers' own limits are
/// 64 to 128 characters).
pub const MAX_REF_CHARS: usize = 256;

/// The history shown per payment: an order with more records lists its latest.
pub const MAX_RECORDS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    MerchantRef(String),
    UserRef(String),
    Record { provider: String, record_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("not found: use /payments/{{merchant_ref}}, /payments/{{provider}}/{{record_id}} or /users/{{user_ref}}/payments")]
    Route,
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{0} is longer than {MAX_REF_CHARS} characters")]
    TooLong(&'static str),
    #[error("{0} is not valid percent-encoded UTF-8 text")]
    Encoding(&'static str),
    #[error("{0} holds control characters")]
    Control(&'static str),
    #[error("unknown provider (one of {0})")]
    Provider(String),
}

fn segment(raw: &str, what: &'static str) -> Result<String, LookupError> {
    let text = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| LookupError::Encoding(what))?;
    if text.is_empty() {
        return Err(LookupError::Empty(what));
    }
    if text.chars().count() > MAX_REF_CHARS {
        return Err(LookupError::TooLong(what));
    }
    if text.chars().any(char::is_control) {
        return Err(LookupError::Control(what));
    }
    Ok(text.into_owned())
}

impl Lookup {
    /// From a request path, still percent-encoded; a stage prefix is allowed.
    pub fn from_path(path: &str) -> Result<Self, LookupError> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let start = parts
            .iter()
            .position(|p| *p == "payments" || *p == "users")
            .ok_or(LookupError::Route)?;
        match parts.get(start..).unwrap_or_default() {
            ["payments", merchant_ref] => Ok(Lookup::MerchantRef(segment(
                merchant_ref,
                "merchant reference",
            )?)),
            ["payments", provider, record_id] => {
                let provider = segment(provider, "provider")?;
                if !crate::registry::ALL.iter().any(|p| p.name == provider) {
                    let names: Vec<&str> = crate::registry::ALL.iter().map(|p| p.name).collect();
                    return Err(LookupError::Provider(names.join(", ")));
                }
                Ok(Lookup::Record {
                    provider,
                    record_id: segment(record_id, "record id")?,
                })
            }
            ["users", user_ref, "payments"] => {
                Ok(Lookup::UserRef(segment(user_ref, "user reference")?))
            }
            _ => Err(LookupError::Route),
        }
    }
}

impl Lookup {
    /// From an operator's words: `<merchant_ref>`, `<provider> <record_id>` or
    /// `--user <user_ref>`, checked as the HTTP API checks them.
    pub fn from_args(args: &[String]) -> Result<Self, LookupError> {
        let enc = |s: &String| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let path = match args {
            [flag, user] if flag == "--user" => format!("/users/{}/payments", enc(user)),
            [merchant_ref] => format!("/payments/{}", enc(merchant_ref)),
            [provider, record_id] => format!("/payments/{}/{}", enc(provider), enc(record_id)),
            _ => return Err(LookupError::Route),
        };
        Self::from_path(&path)
    }
}

/// The answer: the payments found and, per payment, its records' histories.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub payments: Vec<PaymentAnswer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentAnswer {
    #[serde(flatten)]
    pub payment: Payment,
    pub history: Vec<RecordHistory>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordHistory {
    pub record_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<String>,
    pub events: Vec<EventView>,
}

/// An event as the lookup shows it; the stored body is never part of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EventView {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub received_at_ms: i64,
    pub amounts: BTreeMap<String, String>,
    pub refs: BTreeMap<String, String>,
    pub details: BTreeMap<String, String>,
    pub flags: Vec<String>,
    /// Same key as another event, other content: kept beside it.
    #[serde(skip_deserializing)]
    pub conflict: bool,
}

impl EventView {
    fn from_item(item: &Item) -> Option<Self> {
        let mut v: EventView = serde_dynamo::from_item(item.clone()).ok()?;
        v.conflict = item.text("item_type") == Some("conflict");
        v.refs = without_mail(std::mem::take(&mut v.refs));
        v.details = masked(without_mail(std::mem::take(&mut v.details)));
        Some(v)
    }
}

fn without_mail(map: BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter()
        .filter(|(k, v)| !k.to_ascii_lowercase().contains("mail") && !v.contains('@'))
        .collect()
}

/// Details are free text from the provider: anything shaped like a card number (13
/// to 19 digits, Luhn-valid or not) is masked. References are ids and stay whole.
fn masked(map: BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| {
            if is_card_number(&v) {
                let m = crate::alchemypay::redact::mask_pan(&v);
                (k, m)
            } else {
                (k, v)
            }
        })
        .collect()
}

fn is_card_number(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    (13..=19).contains(&digits)
        && v.chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
}

fn history(record_id: &str, items: RecordItems) -> RecordHistory {
    let state = items.state.as_ref();
    RecordHistory {
        record_id: record_id.to_string(),
        status: state.and_then(|s| s.text("status")).map(str::to_string),
        lifecycle: state.and_then(|s| s.text("lifecycle")).map(str::to_string),
        events: items
            .events
            .iter()
            .filter_map(EventView::from_item)
            .collect(),
    }
}

/// The payments under a reference or id, latest view, without their histories.
pub async fn payments(store: &Store, lookup: &Lookup) -> Result<Vec<Payment>, StoreError> {
    Ok(match lookup {
        Lookup::MerchantRef(r) => store.payments_under(&pk_for_ref(r)).await?,
        Lookup::UserRef(u) => store.payments_under(&pk_for_user(u)).await?,
        Lookup::Record {
            provider,
            record_id,
        } => store
            .payment_of_record(provider, record_id)
            .await?
            .into_iter()
            .collect(),
    })
}

/// `None`: nothing is known under that reference or id.
pub async fn find(store: &Store, lookup: &Lookup) -> Result<Option<Answer>, StoreError> {
    let payments = payments(store, lookup).await?;
    if payments.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(payments.len());
    for payment in payments {
        let mut records = payment.records.clone();
        if records.len() > MAX_RECORDS {
            records.retain(|r| *r != payment.record_id);
            records.truncate(MAX_RECORDS - 1);
            records.push(payment.record_id.clone());
        }
        let mut histories = Vec::with_capacity(records.len());
        for record in &records {
            let items = store.record_items(&payment.provider, record).await?;
            histories.push(history(record, items));
        }
        out.push(PaymentAnswer {
            payment,
            history: histories,
        });
    }
    Ok(Some(Answer { payments: out }))
}

/// The HTTP API's lookup: 200 with the payments, 404 for an unknown reference,
/// 400 for a malformed one, 503 when the table cannot be read.
pub async fn handle(store: &Store, req: &Request) -> Response<Body> {
    if req.method() != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    let lookup = match Lookup::from_path(req.uri().path()) {
        Ok(l) => l,
        Err(LookupError::Route) => {
            return error(StatusCode::NOT_FOUND, LookupError::Route.to_string())
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match find(store, &lookup).await {
        Ok(Some(answer)) => crate::response::json(StatusCode::OK, &answer),
        Ok(None) => error(StatusCode::NOT_FOUND, "no payment under that reference"),
        Err(e) => {
            tracing::error!(error = %e, "lookup failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable, retry later",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_or_say_what_is_wrong() {
        assert_eq!(
            Lookup::from_path("/payments/ord%2F7"),
            Ok(Lookup::MerchantRef("ord/7".into()))
        );
        assert_eq!(
            Lookup::from_path("/prod/payments/ccpayment-v2/123"),
            Ok(Lookup::Record {
                provider: "ccpayment-v2".into(),
                record_id: "123".into()
            })
        );
        assert_eq!(
            Lookup::from_path("/users/u-1/payments"),
            Ok(Lookup::UserRef("u-1".into()))
        );
        assert_eq!(Lookup::from_path("/payments"), Err(LookupError::Route));
        assert_eq!(Lookup::from_path("/other/x"), Err(LookupError::Route));
        assert!(matches!(
            Lookup::from_path("/payments/paypal/1"),
            Err(LookupError::Provider(_))
        ));
        assert_eq!(
            Lookup::from_path("/payments/%FF"),
            Err(LookupError::Encoding("merchant reference"))
        );
        assert_eq!(
            Lookup::from_path("/payments/a%0Ab"),
            Err(LookupError::Control("merchant reference"))
        );
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            Lookup::from_args(&args(&["shop/1 #2"])),
            Ok(Lookup::MerchantRef("shop/1 #2".into()))
        );
        assert_eq!(
            Lookup::from_args(&args(&["--user", "u/1"])),
            Ok(Lookup::UserRef("u/1".into()))
        );
        assert_eq!(
            Lookup::from_args(&args(&["citypay", "order:tok"])),
            Ok(Lookup::Record {
                provider: "citypay".into(),
                record_id: "order:tok".into()
            })
        );
        assert_eq!(Lookup::from_args(&[]), Err(LookupError::Route));
        let long = "x".repeat(MAX_REF_CHARS + 1);
        assert_eq!(
            Lookup::from_path(&format!("/payments/{long}")),
            Err(LookupError::TooLong("merchant reference"))
        );
    }

    #[test]
    fn mail_addresses_leave_and_card_numbers_are_masked() {
        let map: BTreeMap<String, String> = [
            ("email", "a@b.example"),
            ("contact", "x@y.example"),
            ("number", "4111 1111 1111 1111"),
            ("chain", "BSC"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let out = masked(without_mail(map));
        assert_eq!(out.len(), 2);
        assert_eq!(out["number"], "411111******1111");
        assert_eq!(out["chain"], "BSC");
        assert!(is_card_number("5554748800912345"));
        assert!(!is_card_number("4111"));
    }
}
