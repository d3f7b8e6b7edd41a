//! The card order webhook, every documented variant: the early one (INIT and
//! REFUNDING statuses), the one with `voucherCode`/`failReason`, and the one with
//! `shippingInfo` as an object or as a JSON string. Values may be strings or numbers.
//!
//! Only `orderNo` and `status` are required. Amounts that are not decimals are kept
//! as text and flagged rather than refused: the documentation itself shows
//! `applyFee: SUCCESS`, and a refused notification is lost after 24 hours.

use std::collections::{BTreeMap, BTreeSet};

use super::redact::{mask_pan, PAN_FIELDS};
use crate::fields::{FieldError, Fields};
use crate::lifecycle::Lifecycle;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStatus {
    Init,
    Refunding,
    Success,
    Fail,
    Cancel,
    Unknown(String),
}

impl OrderStatus {
    fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "INIT" => OrderStatus::Init,
            "REFUNDING" => OrderStatus::Refunding,
            "SUCCESS" => OrderStatus::Success,
            "FAIL" => OrderStatus::Fail,
            "CANCEL" => OrderStatus::Cancel,
            _ => OrderStatus::Unknown(raw.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            OrderStatus::Init => "INIT",
            OrderStatus::Refunding => "REFUNDING",
            OrderStatus::Success => "SUCCESS",
            OrderStatus::Fail => "FAIL",
            OrderStatus::Cancel => "CANCEL",
            OrderStatus::Unknown(raw) => raw,
        }
    }

    /// A card order (incoming): paid once SUCCESS. REFUNDING is documented only as
    /// "in progress" on the oldest page; read literally, a refund under way.
    pub fn lifecycle(&self) -> Lifecycle {
        match self {
            OrderStatus::Init => Lifecycle::AwaitingPayment,
            OrderStatus::Refunding => Lifecycle::Refunding,
            OrderStatus::Success => Lifecycle::Paid,
            OrderStatus::Fail => Lifecycle::Failed,
            OrderStatus::Cancel => Lifecycle::Canceled,
            OrderStatus::Unknown(_) => Lifecycle::Unknown,
        }
    }

    /// INIT < REFUNDING < SUCCESS | FAIL | CANCEL; the last three are final.
    pub fn rank(&self) -> Option<(u8, bool)> {
        match self {
            OrderStatus::Init => Some((1, false)),
            OrderStatus::Refunding => Some((2, false)),
            OrderStatus::Success | OrderStatus::Fail | OrderStatus::Cancel => Some((3, true)),
            OrderStatus::Unknown(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOrder {
    pub order_no: String,
    pub status: OrderStatus,
    /// `create_card`, `recharge`, or the raw `orderType` when unknown.
    pub kind: Option<String>,
    pub refs: BTreeMap<String, String>,
    pub amounts: BTreeMap<String, String>,
    pub details: BTreeMap<String, String>,
    pub flags: BTreeSet<String>,
    /// The body to store: card numbers masked, everything else as received.
    pub redacted_body: String,
}

const AMOUNT_FIELDS: &[&str] = &[
    "orderAmount",
    "paymentAmount",
    "applyFee",
    "rechargeFee",
    "rechargeMarkup",
    "deliveryFee",
    "cardAmount",
    "currencyExchangeRate",
    "cryptoCurrencyExchangeRate",
];

const DETAIL_FIELDS: &[&str] = &[
    "cardType",
    "network",
    "cryptoCurrency",
    "cryptoAddress",
    "cardCurrency",
    "orderTime",
    "failReason",
    "voucherCode",
];

impl CardOrder {
    pub fn parse(body: &[u8]) -> Result<Self, FieldError> {
        let f = Fields::parse(body)?;
        let order_no = f.required_id("orderNo")?;
        let status_raw = f.id("status")?.ok_or_else(|| FieldError::Missing {
            field: "status".into(),
        })?;
        let status = OrderStatus::parse(&status_raw);
        let mut flags = BTreeSet::new();
        if matches!(status, OrderStatus::Unknown(_)) {
            flags.insert("unknown_status".to_string());
        }

        let kind = match f.text("orderType")?.as_deref().map(str::trim) {
            Some("1") => Some("create_card".to_string()),
            Some("2") => Some("recharge".to_string()),
            Some(other) => {
                flags.insert("unknown_order_type".to_string());
                Some(other.to_string())
            }
            None => None,
        };

        let mut refs = BTreeMap::new();
        if let Some(card_id) = f.id("cardId")? {
            refs.insert("card_id".to_string(), card_id);
        }

        let mut amounts = BTreeMap::new();
        for name in AMOUNT_FIELDS {
            match f.amount(name) {
                Ok(Some(a)) => {
                    amounts.insert((*name).to_string(), a.text);
                }
                Ok(None) => {}
                Err(_) => {
                    flags.insert(format!("bad_amount_{name}"));
                    if let Ok(Some(text)) = f.text(name) {
                        amounts.insert((*name).to_string(), text);
                    }
                }
            }
        }

        let mut details = BTreeMap::new();
        for name in DETAIL_FIELDS {
            if let Some(v) = f.text(name)? {
                details.insert((*name).to_string(), v);
            }
        }
        let mut masked = BTreeMap::new();
        for name in PAN_FIELDS {
            if let Some(pan) = f.text(name)? {
                let m = mask_pan(&pan);
                details.insert("cardNumberMasked".to_string(), m.clone());
                masked.insert((*name).to_string(), m);
            }
        }
        shipping_info(&f, &mut flags)?;

        let redacted_body = f.rewrite(&|key| masked.get(key).cloned());
        Ok(Self {
            order_no,
            status,
            kind,
            refs,
            amounts,
            details,
            flags,
            redacted_body,
        })
    }
}

/// `shippingInfo` is typed "string" in the docs: accept an object, a string holding
/// an object, or nothing; keep anything else and flag it.
fn shipping_info(f: &Fields<'_>, flags: &mut BTreeSet<String>) -> Result<(), FieldError> {
    if f.get("shippingInfo").is_none() {
        return Ok(());
    }
    if f.object("shippingInfo").is_ok() {
        return Ok(());
    }
    match f.string_value("shippingInfo")? {
        Some(text) if Fields::parse(text.as_bytes()).is_ok() => {
            flags.insert("shipping_info_encoded".to_string());
        }
        _ => {
            flags.insert("shipping_info_unparsed".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod lifecycle_tests {
    use super::*;

    #[test]
    fn every_status() {
        for (raw, l) in [
            ("INIT", Lifecycle::AwaitingPayment),
            ("REFUNDING", Lifecycle::Refunding),
            ("SUCCESS", Lifecycle::Paid),
            ("FAIL", Lifecycle::Failed),
            ("CANCEL", Lifecycle::Canceled),
            ("PAID", Lifecycle::Unknown),
        ] {
            assert_eq!(OrderStatus::parse(raw).lifecycle(), l, "{raw}");
        }
    }
}
