//! The payment item: what the merchant's systems follow, written in the same
//! transaction as the event and the record's state, so it is never behind them.
//!
//! - Keyed by the merchant's reference, so a lookup is one strongly consistent
//!   `Query` on the table itself: `pk = ref#<merchant ref>`; a record with none
//!   is found by the merchant's user reference (`user#<ref>`), else by its own id
//!   (`id#<provider>#<record>`).
//! - `sk = <provider>#record#<record id>` for a record that is the whole payment;
//!   `<provider>#order#<order key>` for a merchant order a provider spreads over
//!   several records (CCPayment), whose paid amounts are summed exactly with `ADD`
//!   (DynamoDB numbers are exact decimals of 38 digits).
//! - `version` grows by one with every write that changes the view, and only
//!   then: a duplicate, a late status or a re-applied mark never touches the item.
//!   One stream record of this item is one event for the merchant.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use rust_decimal::Decimal;
use serde::Serialize;

use super::attr::AttrExt;
use super::error::StoreError;
use super::expr::{n, s, update_expression, Expr};
use super::notification::Delivery;
use super::schema::{changed_pk, key_part, CHANGED_AT, CHANGED_PK, PK, SK};
use super::table::Store;
use crate::lifecycle::{AmountsSource, Direction, Lifecycle, OrderTotals, Price, TERMINAL_CLASH};

pub const ITEM_TYPE: &str = "payment";

/// On a closed id-keyed payment: the key of the payment its record moved to.
pub const MERGED_INTO_PK: &str = "merged_into_pk";
pub const MERGED_INTO_SK: &str = "merged_into_sk";
/// And that payment's references, for the merchant.
pub const MERGED_INTO_MERCHANT_REF: &str = "merged_into_merchant_ref";
pub const MERGED_INTO_USER_REF: &str = "merged_into_user_ref";

/// Flags of one payment that stay on an order for good.
const ORDER_FLAGS: &[&str] = &["risky", "found_by_sweep", "paid_late", TERMINAL_CLASH];

/// How a write changes the record's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ViewWrite {
    /// The status advanced: a new view.
    Advance,
    /// The first notification of a record, with no status we can apply.
    Create,
    /// A second, different final status: the view gains `terminal_clash`.
    Clash,
    /// Nothing the merchant sees changes.
    Seen,
}

pub fn pk_for_ref(merchant_ref: &str) -> String {
    format!("ref#{}", key_part(merchant_ref))
}

pub fn pk_for_user(user_ref: &str) -> String {
    format!("user#{}", key_part(user_ref))
}

/// Where a delivery's payment item is.
pub(crate) fn payment_key(d: &Delivery) -> (String, String) {
    let v = &d.view;
    let pk = match (&v.merchant_ref, &v.user_ref) {
        (Some(r), _) => pk_for_ref(r),
        (None, Some(u)) => pk_for_user(u),
        (None, None) => format!("id#{}#{}", d.provider, key_part(&d.record_key)),
    };
    let sk = match &v.order {
        Some(order) => format!("{}#order#{}", d.provider, key_part(order)),
        None => format!("{}#record#{}", d.provider, key_part(&d.record_key)),
    };
    (pk, sk)
}

/// How many record ids an order's payment item lists. Beyond it the order's item
/// and every event stay the same size however many payments arrive (a thousand
/// dust deposits would otherwise push it past DynamoDB's 400 KB item limit, and
/// then refuse every later payment of the order); `paid_count` counts them all,
/// and each record keeps a pointer to its payment.
pub const MAX_LISTED_RECORDS: usize = 100;

/// What cancelled attempts of a write found out about its payment item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// A paid payment in another currency than its order's: flagged, not summed.
    pub mixed_currency: bool,
    /// The order already lists `MAX_LISTED_RECORDS` others: this one is not listed.
    pub records_full: bool,
}

/// An amount as stored: exact, without trailing zeros.
pub(crate) fn decimal(d: Decimal) -> String {
    d.normalize().to_string()
}

impl Store {
    /// The payment item's update for a write that changes the view (`mode` is not
    /// `Seen`), given what cancelled attempts `found`.
    pub(crate) fn payment_update(
        &self,
        d: &Delivery,
        mode: ViewWrite,
        found: Found,
    ) -> Result<Update, StoreError> {
        let mixed_currency = found.mixed_currency;
        let v = &d.view;
        let (pk, sk) = payment_key(d);
        let mut e = Expr::default();
        let now = e.value(n(d.received_at_ms));
        let mut set = vec![
            format!("{} = {}", e.name("item_type"), e.value(s(ITEM_TYPE))),
            format!("{} = {}", e.name("provider"), e.value(s(d.provider))),
            format!("{} = {now}", e.name(CHANGED_AT)),
            format!(
                "{} = {}",
                e.name(CHANGED_PK),
                e.value(s(changed_pk(&pk, d.received_at_ms)))
            ),
        ];
        let version = e.name("version");
        let zero = e.value(n(0));
        let one = e.value(n(1));
        set.push(format!(
            "{version} = if_not_exists({version}, {zero}) + {one}"
        ));
        let first = e.name("first_seen_at_ms");
        set.push(format!("{first} = if_not_exists({first}, {now})"));
        let keep = |e: &mut Expr, set: &mut Vec<String>, name: &str, value: &Option<String>| {
            if let Some(value) = value {
                let k = e.name(name);
                let v = e.value(s(value));
                set.push(format!("{k} = if_not_exists({k}, {v})"));
            }
        };
        keep(&mut e, &mut set, "merchant_ref", &v.merchant_ref);
        keep(&mut e, &mut set, "user_ref", &v.user_ref);
        set.push(format!(
            "{} = {}",
            e.name("direction"),
            e.value(s(v.direction.as_str()))
        ));
        if let Some(source) = v.amounts_source {
            set.push(format!(
                "{} = {}",
                e.name("amounts_source"),
                e.value(s(source.as_str()))
            ));
        }
        let mut add = Vec::new();
        let mut remove = Vec::new();
        let mut condition = None;
        let summed = v.order.is_some();
        let mut view_flags = v.flags(&d.flags);
        // A record moving to its reference's payment brings a clash it had.
        if d.flags.contains(TERMINAL_CLASH) {
            view_flags.insert(TERMINAL_CLASH.into());
        }
        if mode != ViewWrite::Clash {
            let lifecycle = if mode == ViewWrite::Create {
                Lifecycle::Unknown
            } else {
                v.lifecycle
            };
            set.push(format!(
                "{} = {}",
                e.name("last_lifecycle"),
                e.value(s(lifecycle.as_str()))
            ));
            let status = d
                .status
                .as_ref()
                .map_or(d.status_text.as_str(), |st| st.name.as_str());
            set.push(format!(
                "{} = {}",
                e.name("provider_status"),
                e.value(s(status))
            ));
            set.push(format!(
                "{} = {}",
                e.name("last_record"),
                e.value(s(&d.record_key))
            ));
        }
        if summed {
            set.push(format!("{} = {}", e.name("rule"), e.value(s("summed"))));
            keep(&mut e, &mut set, "currency", &v.currency);
            keep(&mut e, &mut set, "amount_due", &v.amount_due.map(decimal));
            if let Some(price) = &v.price {
                keep(&mut e, &mut set, "price_currency", &price.currency);
                keep(
                    &mut e,
                    &mut set,
                    "price_due",
                    &price.amount_due.map(decimal),
                );
                // Each answer's paid figure; the largest is the latest, whatever
                // order two deliveries' writes commit in.
                if let Some(paid) = price.amount_paid {
                    add.push(format!(
                        "{} {}",
                        e.name("price_paid_seen"),
                        e.value(AttributeValue::Ss(vec![decimal(paid)]))
                    ));
                }
            }
            // Listed while the list has room (or already lists it): the condition
            // fails otherwise, and the write is sent again without it.
            let mut conditions = Vec::new();
            if found.records_full {
                add.push(format!("{} {}", e.name("records_unlisted"), e.value(n(1))));
            } else {
                let r = e.name("records");
                let rk = e.value(s(&d.record_key));
                let cap = e.value(n(MAX_LISTED_RECORDS as i64));
                add.push(format!(
                    "{r} {}",
                    e.value(AttributeValue::Ss(vec![d.record_key.clone()]))
                ));
                conditions.push(format!(
                    "(attribute_not_exists({r}) OR size({r}) < {cap} OR contains({r}, {rk}))"
                ));
            }
            let paid_now = mode == ViewWrite::Advance && v.lifecycle == Lifecycle::Paid;
            let mut flags: BTreeSet<String> = view_flags
                .into_iter()
                .filter(|f| ORDER_FLAGS.contains(&f.as_str()))
                .collect();
            if mode == ViewWrite::Clash {
                flags.insert(TERMINAL_CLASH.into());
            }
            match v.amount_paid {
                Some(amount) if paid_now && !mixed_currency => {
                    add.push(format!(
                        "{} {}",
                        e.name("paid_total"),
                        e.value(AttributeValue::N(decimal(amount)))
                    ));
                    // A record is paid once (the state's rank condition), so this
                    // counts each paid record once.
                    add.push(format!("{} {}", e.name("paid_count"), e.value(n(1))));
                    if let Some(currency) = &v.currency {
                        let c = e.name("currency");
                        let cv = e.value(s(currency));
                        conditions.push(format!("(attribute_not_exists({c}) OR {c} = {cv})"));
                    }
                }
                Some(_) if paid_now => {
                    flags.insert("mixed_currency".into());
                }
                None if paid_now => {
                    flags.insert("amount_unknown".into());
                }
                _ => {}
            }
            if !flags.is_empty() {
                add.push(format!(
                    "{} {}",
                    e.name("flags"),
                    e.value(AttributeValue::Ss(flags.into_iter().collect()))
                ));
            }
            if !conditions.is_empty() {
                condition = Some(conditions.join(" AND "));
            }
        } else {
            set.push(format!("{} = {}", e.name("rule"), e.value(s("record"))));
            for (name, value) in [
                ("currency", v.currency.clone()),
                ("amount_due", v.amount_due.map(decimal)),
                ("amount_paid", v.amount_paid.map(decimal)),
            ] {
                if let Some(value) = value {
                    set.push(format!("{} = {}", e.name(name), e.value(s(value))));
                }
            }
            set.push(format!(
                "{} = {}",
                e.name("record_key"),
                e.value(s(&d.record_key))
            ));
            if mode == ViewWrite::Clash {
                add.push(format!(
                    "{} {}",
                    e.name("flags"),
                    e.value(AttributeValue::Ss(vec![TERMINAL_CLASH.into()]))
                ));
            } else {
                // The flags of a record's payment describe its current view.
                let f = e.name("flags");
                if view_flags.is_empty() {
                    remove.push(f);
                } else {
                    let fv = e.value(AttributeValue::Ss(view_flags.into_iter().collect()));
                    set.push(format!("{f} = {fv}"));
                }
            }
        }
        let expression = update_expression(&set, &add, &remove);
        // The old item comes back with a failed condition: it tells another currency
        // from a full list.
        let old = condition
            .as_ref()
            .map(|_| aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld);
        Ok(Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(expression)
            .set_return_values_on_condition_check_failure(old)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()?)
    }
}

/// A payment as the merchant sees it, read from its item (a lookup, or a stream
/// image): the same function gives the same view, so a redelivered stream record
/// yields the same event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
    /// The provider's record id, or for an order spread over several records the
    /// record that changed last.
    pub record_id: String,
    /// Every record of an order (one for a record that is the whole payment).
    pub records: Vec<String>,
    pub direction: Direction,
    pub lifecycle: Lifecycle,
    pub is_final: bool,
    /// The provider's own status behind the lifecycle (of the last record changed).
    pub provider_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_paid: Option<Decimal>,
    /// Who vouches for `currency` and the amounts: compare them with the order
    /// before shipping against anything but `provider_api` or `signed_notification`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amounts_source: Option<AmountsSource>,
    /// For an order priced in another currency than it is paid in: what the
    /// provider says it costs and what was paid, in that currency. Whether it is
    /// paid follows these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    pub flags: Vec<String>,
    /// On the last version of a payment keyed by a provider's record id: the
    /// record's reference became known, and the record is now part of the
    /// payment these references find. This payment changes no more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<MergedInto>,
    pub version: u64,
    pub changed_at_ms: i64,
    /// The item's key: where the lookup and a replay find it again.
    #[serde(skip)]
    pub key: (String, String),
}

/// Where a payment's record went: look it up by these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedInto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<String>,
}

impl Payment {
    /// `None` for an item that is no payment item, or is not whole.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        if item.text("item_type") != Some(ITEM_TYPE) {
            return None;
        }
        let key = (item.text(PK)?.to_string(), item.text(SK)?.to_string());
        let set = |name: &str| -> Vec<String> {
            let mut v = item
                .get(name)
                .and_then(|a| a.as_ss().ok())
                .cloned()
                .unwrap_or_default();
            v.sort();
            v
        };
        let dec = |name: &str| -> Option<Decimal> {
            let a = item.get(name)?;
            let t = a.as_s().or_else(|_| a.as_n()).ok()?;
            t.parse::<Decimal>().ok()
        };
        let last = Lifecycle::parse(item.text("last_lifecycle")?)?;
        let mut flags: BTreeSet<String> = set("flags").into_iter().collect();
        let summed = item.text("rule") == Some("summed");
        let paid_seen = set("price_paid_seen")
            .iter()
            .filter_map(|t| t.parse::<Decimal>().ok())
            .max();
        let price = (item.contains_key("price_due") || paid_seen.is_some()).then(|| Price {
            currency: item.text("price_currency").map(str::to_string),
            amount_due: dec("price_due"),
            amount_paid: paid_seen,
        });
        let (lifecycle, amount_paid, records) = if summed {
            let totals = OrderTotals {
                amount_due: dec("amount_due"),
                paid_total: dec("paid_total").unwrap_or(Decimal::ZERO),
                last,
                mixed_currency: flags.contains("mixed_currency"),
                price: price.clone(),
            };
            let (lifecycle, derived) = totals.lifecycle();
            flags.extend(derived);
            (
                lifecycle,
                Some(totals.paid_total.normalize()),
                set("records"),
            )
        } else {
            let record = item.text("record_key")?.to_string();
            (last, dec("amount_paid"), vec![record])
        };
        Some(Self {
            provider: item.text("provider")?.to_string(),
            merchant_ref: item.text("merchant_ref").map(str::to_string),
            user_ref: item.text("user_ref").map(str::to_string),
            record_id: item.text("last_record")?.to_string(),
            records,
            direction: item
                .text("direction")
                .and_then(Direction::parse)
                .unwrap_or_default(),
            lifecycle,
            is_final: lifecycle.is_final(),
            provider_status: item.text("provider_status")?.to_string(),
            currency: item.text("currency").map(str::to_string),
            amount_due: dec("amount_due"),
            amount_paid,
            amounts_source: item.text("amounts_source").and_then(AmountsSource::parse),
            price,
            flags: flags.into_iter().collect(),
            merged_into: item.contains_key(MERGED_INTO_PK).then(|| MergedInto {
                merchant_ref: item.text(MERGED_INTO_MERCHANT_REF).map(str::to_string),
                user_ref: item.text(MERGED_INTO_USER_REF).map(str::to_string),
            }),
            version: u64::try_from(item.int("version")?).ok()?,
            changed_at_ms: item.int("changed_at_ms")?,
            key,
        })
    }
}
