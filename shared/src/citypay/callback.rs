//! Order and deposit callbacks, told apart by `type`. Every field is optional but
//! the keys; numbers and strings are both accepted; the documented typo `crated_at`
//! is read beside `created_at`.

use std::collections::{BTreeMap, BTreeSet};

use crate::fields::{FieldError, Fields};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCallback {
    pub order_token: String,
    pub action: Option<String>,
    /// The status the callback claims; the state never follows it directly.
    pub claimed_status: String,
    pub transaction_id: Option<String>,
    pub refs: BTreeMap<String, String>,
    pub amounts: BTreeMap<String, String>,
    pub details: BTreeMap<String, String>,
    pub flags: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositCallback {
    pub transaction_id: String,
    pub status: String,
    pub action: Option<String>,
    pub refs: BTreeMap<String, String>,
    pub amounts: BTreeMap<String, String>,
    pub details: BTreeMap<String, String>,
    pub flags: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Order(OrderCallback),
    Deposit(DepositCallback),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("cannot tell an order callback from a deposit callback")]
    UnknownKind,
}

type Attributes = BTreeMap<String, String>;

fn created_at(f: &Fields<'_>, details: &mut BTreeMap<String, String>) -> Result<(), FieldError> {
    if let Some(v) = f.text("created_at")?.or(f.text("crated_at")?) {
        details.insert("created_at".to_string(), v);
    }
    Ok(())
}

fn collect(
    f: &Fields<'_>,
    amounts_from: &[&str],
    details_from: &[&str],
) -> Result<(Attributes, Attributes), FieldError> {
    let mut amounts = BTreeMap::new();
    for name in amounts_from {
        if let Some(a) = f.amount(name)? {
            amounts.insert((*name).to_string(), a.text);
        }
    }
    let mut details = BTreeMap::new();
    for name in details_from {
        if let Some(v) = f.text(name)? {
            details.insert((*name).to_string(), v);
        }
    }
    created_at(f, &mut details)?;
    Ok((amounts, details))
}

impl Callback {
    pub fn parse(body: &[u8]) -> Result<Self, CallbackError> {
        let f = Fields::parse(body)?;
        let kind = f.text("type")?.map(|t| t.to_ascii_lowercase());
        let mut flags = BTreeSet::new();
        let is_deposit = match kind.as_deref() {
            Some(t) if t.contains("deposit") => true,
            Some(t) if t.contains("order") => false,
            other => {
                flags.insert(
                    if other.is_some() {
                        "unknown_type"
                    } else {
                        "missing_type"
                    }
                    .to_string(),
                );
                if f.get("order_token").is_some() {
                    false
                } else if f.get("deposit_token").is_some() {
                    true
                } else {
                    return Err(CallbackError::UnknownKind);
                }
            }
        };
        let required = |name: &str| -> Result<String, FieldError> { f.required_id(name) };
        if is_deposit {
            let (amounts, details) = collect(
                &f,
                &["received_amount", "exchange_rate"],
                &["crypto_currency"],
            )?;
            let mut refs = BTreeMap::new();
            if let Some(t) = f.id("deposit_token")? {
                refs.insert("deposit_token".to_string(), t);
            }
            Ok(Callback::Deposit(DepositCallback {
                transaction_id: required("transaction_id")?,
                status: required("status")?,
                action: f.id("action")?,
                refs,
                amounts,
                details,
                flags,
            }))
        } else {
            let (amounts, details) = collect(
                &f,
                &[
                    "received_amount_in_coins",
                    "received_amount_in_fiat",
                    "exchange_rate",
                ],
                &["fiat_currency", "crypto_currency", "order_expiration"],
            )?;
            let mut refs = BTreeMap::new();
            for (from, to) in [
                ("order_id", "order_id"),
                ("client_order_id", "client_order_id"),
            ] {
                if let Some(v) = f.id(from)? {
                    refs.insert(to.to_string(), v);
                }
            }
            Ok(Callback::Order(OrderCallback {
                order_token: required("order_token")?,
                action: f.id("action")?,
                claimed_status: required("status")?,
                transaction_id: f.id("transaction_id")?,
                refs,
                amounts,
                details,
                flags,
            }))
        }
    }
}
