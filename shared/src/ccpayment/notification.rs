//! The five v1.0 notification types, told apart by `order_type`.
//!
//! Tolerant where the provider is inconsistent (the `Invocie` spelling, the legacy
//! `Api`/`invoice` shape, `""` for absent, unknown fields, numbers for strings) and
//! strict where money is at stake: `record_id` and `pay_status` must be present,
//! amounts must be decimals, and no value passes through `f64`.

use std::collections::{BTreeMap, BTreeSet};

use crate::fields::{Amount, FieldError, Fields};
use crate::lifecycle::{Direction, Lifecycle};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderType {
    ApiDeposit,
    DirectDeposit,
    Invoice,
    ApiWithdrawal,
    Refund,
    /// Stored and flagged, never rejected: a new type must not be lost.
    Unknown(String),
}

impl OrderType {
    pub(crate) fn parse(raw: Option<&str>, flags: &mut BTreeSet<String>) -> Self {
        let Some(raw) = raw else {
            flags.insert("missing_order_type".into());
            return OrderType::Unknown(String::new());
        };
        let normalised = raw.trim().to_ascii_lowercase();
        let t = match normalised.as_str() {
            "api deposit" => OrderType::ApiDeposit,
            "direct deposit" => OrderType::DirectDeposit,
            "invoice" => OrderType::Invoice,
            "api withdrawal" => OrderType::ApiWithdrawal,
            "refund" => OrderType::Refund,
            // The v1.0 invoice page's own parameter table spells it this way.
            "invocie" => {
                flags.insert("misspelt_order_type".into());
                OrderType::Invoice
            }
            // The pre-v1.0 shape ("Api", "invoice") still used by the PHP and Java SDKs.
            "api" => {
                flags.insert("legacy_order_type".into());
                OrderType::ApiDeposit
            }
            _ => {
                flags.insert("unknown_order_type".into());
                OrderType::Unknown(raw.to_string())
            }
        };
        if raw != t.as_str() && !matches!(t, OrderType::Unknown(_)) {
            flags.insert("noncanonical_order_type".into());
        }
        t
    }

    /// Which way the money goes; an unknown type counts as incoming, and its
    /// lifecycle stays `unknown`.
    pub fn direction(&self) -> Direction {
        match self {
            OrderType::ApiWithdrawal => Direction::Outgoing,
            OrderType::Refund => Direction::Refund,
            _ => Direction::Incoming,
        }
    }

    /// The canonical name, as the resend API's `transaction_type` spells it.
    pub fn as_str(&self) -> &str {
        match self {
            OrderType::ApiDeposit => "API Deposit",
            OrderType::DirectDeposit => "Direct Deposit",
            OrderType::Invoice => "Invoice",
            OrderType::ApiWithdrawal => "API Withdrawal",
            OrderType::Refund => "Refund",
            OrderType::Unknown(raw) => raw,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayStatus {
    Pending,
    Processing,
    Success,
    Failed,
    Unknown(String),
}

impl PayStatus {
    pub(crate) fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pending" => PayStatus::Pending,
            "processing" => PayStatus::Processing,
            "success" => PayStatus::Success,
            "failed" => PayStatus::Failed,
            _ => PayStatus::Unknown(raw.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PayStatus::Pending => "pending",
            PayStatus::Processing => "processing",
            PayStatus::Success => "success",
            PayStatus::Failed => "failed",
            PayStatus::Unknown(raw) => raw,
        }
    }

    /// Paid once `success` (a deposit credited, a withdrawal sent); a refund's
    /// `success` is `refunded`. `pending` and `processing` never mean paid.
    pub fn lifecycle(&self, order_type: &OrderType) -> Lifecycle {
        if matches!(order_type, OrderType::Unknown(_)) {
            return Lifecycle::Unknown;
        }
        match (self, order_type.direction()) {
            (PayStatus::Unknown(_), _) => Lifecycle::Unknown,
            (PayStatus::Failed, _) => Lifecycle::Failed,
            (PayStatus::Success, Direction::Refund) => Lifecycle::Refunded,
            (PayStatus::Pending | PayStatus::Processing, Direction::Refund) => Lifecycle::Refunding,
            (PayStatus::Success, _) => Lifecycle::Paid,
            (PayStatus::Pending | PayStatus::Processing, _) => Lifecycle::Processing,
        }
    }

    /// pending < processing < success | failed; the last two are final.
    pub fn rank(&self) -> Option<(u8, bool)> {
        match self {
            PayStatus::Pending => Some((1, false)),
            PayStatus::Processing => Some((2, false)),
            PayStatus::Success | PayStatus::Failed => Some((3, true)),
            PayStatus::Unknown(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub order_type: OrderType,
    pub pay_status: PayStatus,
    pub record_id: String,
    /// Order-level keys: `order_id`, `merchant_order_id`, `invoice_id`, `user_id`.
    pub refs: BTreeMap<String, String>,
    pub amounts: BTreeMap<String, Amount>,
    pub details: BTreeMap<String, String>,
    pub flags: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error(transparent)]
    Field(#[from] FieldError),
}

const AMOUNT_FIELDS: &[&str] = &[
    "product_price",
    "order_amount",
    "fiat_rate",
    "paid_amount",
    "credit_amount",
    "token_rate",
    "service_fee",
    "network_fee",
    "network_fee_value",
    "withdraw_amount",
    "net_receivable",
    "amount",
    // Legacy shape.
    "origin_price",
    "origin_amount",
];

const DETAIL_FIELDS: &[&str] = &[
    "chain",
    "contract",
    "crypto",
    "txid",
    "denominated_currency",
    "from_address",
    "to_address",
    "memo",
    "network_coin_id",
];

impl Notification {
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let f = Fields::parse(body)?;
        let mut flags = BTreeSet::new();
        let record_id = f.required_id("record_id")?;
        let pay_status_raw = f.id("pay_status")?.ok_or_else(|| FieldError::Missing {
            field: "pay_status".into(),
        })?;
        let pay_status = PayStatus::parse(&pay_status_raw);
        if matches!(pay_status, PayStatus::Unknown(_)) {
            flags.insert("unknown_pay_status".into());
        }
        let order_type = OrderType::parse(f.text("order_type")?.as_deref(), &mut flags);
        let extend = f.object("extend")?;

        let mut refs = BTreeMap::new();
        if let Some(v) = f.id("order_id")? {
            refs.insert("order_id".to_string(), v);
        }
        // Top-level on withdrawals and refunds, under `extend` on API deposits.
        let merchant_order_id = match f.id("merchant_order_id")? {
            Some(v) => Some(v),
            None => match &extend {
                Some(e) => e.id("merchant_order_id")?,
                None => None,
            },
        };
        if let Some(v) = merchant_order_id {
            refs.insert("merchant_order_id".to_string(), v);
        }
        if let Some(e) = &extend {
            if let Some(v) = e.id("invoice_id")? {
                refs.insert("invoice_id".to_string(), v);
            }
        }
        if let Some(v) = f.id("user_id")? {
            refs.insert("user_id".to_string(), v);
        }

        let mut amounts = BTreeMap::new();
        for name in AMOUNT_FIELDS {
            if let Some(a) = f.amount(name)? {
                if a.value.is_none() {
                    flags.insert(format!("wide_amount_{name}"));
                }
                amounts.insert((*name).to_string(), a);
            }
        }

        let mut details = BTreeMap::new();
        for name in DETAIL_FIELDS {
            if let Some(v) = f.text(name)? {
                details.insert((*name).to_string(), v);
            }
        }
        // Withdrawals say `network_fee_crypto`, refunds `network_crypto`.
        if let Some(v) = f.text("network_fee_crypto")?.or(f.text("network_crypto")?) {
            details.insert("network_fee_crypto".to_string(), v);
        }
        if let Some(b) = f.bool("merchant_pays_fee")? {
            details.insert("merchant_pays_fee".to_string(), b.to_string());
        }
        if let Some(e) = &extend {
            if let Some(v) = e.text("custom_value")? {
                details.insert("custom_value".to_string(), v);
            }
        }

        Ok(Self {
            order_type,
            pay_status,
            record_id,
            refs,
            amounts,
            details,
            flags,
        })
    }
}

#[cfg(test)]
mod lifecycle_tests {
    use super::*;

    #[test]
    fn every_type_and_status() {
        let mut flags = BTreeSet::new();
        let t = |raw: &str, flags: &mut BTreeSet<String>| OrderType::parse(Some(raw), flags);
        for (kind, status, l) in [
            ("API Deposit", "pending", Lifecycle::Processing),
            ("API Deposit", "processing", Lifecycle::Processing),
            ("API Deposit", "success", Lifecycle::Paid),
            ("Direct Deposit", "failed", Lifecycle::Failed),
            ("Invoice", "success", Lifecycle::Paid),
            ("API Withdrawal", "processing", Lifecycle::Processing),
            ("API Withdrawal", "success", Lifecycle::Paid),
            ("Refund", "processing", Lifecycle::Refunding),
            ("Refund", "success", Lifecycle::Refunded),
            ("Refund", "failed", Lifecycle::Failed),
            ("API Deposit", "partially", Lifecycle::Unknown),
            ("Swap", "success", Lifecycle::Unknown),
        ] {
            let order_type = t(kind, &mut flags);
            assert_eq!(
                PayStatus::parse(status).lifecycle(&order_type),
                l,
                "{kind} {status}"
            );
        }
        assert_eq!(
            t("API Withdrawal", &mut flags).direction(),
            Direction::Outgoing
        );
        assert_eq!(t("Refund", &mut flags).direction(), Direction::Refund);
        assert_eq!(t("Invoice", &mut flags).direction(), Direction::Incoming);
    }
}
