//! What a v2 record means to the merchant: the status its state follows, the
//! view it gives, and what the reconciler writes when the APIs say more.

use std::collections::BTreeMap;

use super::api;
use super::keys::PROVIDER;
use super::notification::{NotificationType, Status};
use crate::lifecycle::{amount, Lifecycle, PaymentView};

/// The status a record's state follows, from the record API's word: a record
/// flagged `isFlaggedAsRisky` is never paid for us, it is held open for a human,
/// ranked above every unfinished status and below every final one.
pub fn confirmed_status(r: &api::Record) -> Option<crate::store::StatusChange> {
    use crate::store::StatusChange;
    if r.risky && r.status == Status::Success {
        StatusChange::ranked(RISKY_HELD, Some((4, false)))
    } else {
        StatusChange::ranked(r.status.as_str(), r.status.rank())
    }
}

/// What the reconciler writes when a record API or list says more than we hold.
pub fn reconciled_update(
    r: &api::Record,
    kind: &NotificationType,
    app_id: &str,
    at_ms: i64,
) -> Option<crate::store::StatusUpdate> {
    let mut flags = std::collections::BTreeSet::from(["reconciled".to_string()]);
    if r.risky {
        flags.insert("risky".into());
    }
    let owned = |v: &[(&'static str, String)]| -> BTreeMap<String, String> {
        v.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    let mut refs = owned(&r.refs);
    refs.insert("app_id".into(), app_id.to_string());
    let view = payment_view(
        kind,
        Some((&r.status, r.risky)),
        &refs,
        &owned(&r.amounts),
        &owned(&r.details),
    );
    Some(crate::store::StatusUpdate {
        provider: PROVIDER,
        record_key: r.record_id.clone(),
        status: confirmed_status(r)?,
        flags,
        at_ms,
        view,
    })
}

/// The record API's status (`None`: not confirmed) in the lifecycle. An API
/// deposit pays a merchant order (`orderId`) that can take several payments, so the
/// merchant follows the order, per account; its amount due counts only in the
/// coin paid (an invoice priced in fiat is paid by its first paid payment).
pub fn payment_view(
    kind: &NotificationType,
    confirmed: Option<(&Status, bool)>,
    refs: &BTreeMap<String, String>,
    amounts: &BTreeMap<String, String>,
    details: &BTreeMap<String, String>,
) -> PaymentView {
    let merchant_ref = refs.get("order_id").cloned();
    let currency = details.get("coin_symbol").cloned();
    let order = match (&merchant_ref, kind) {
        (Some(r), NotificationType::ApiDeposit) => Some(format!(
            "{}#{r}",
            refs.get("app_id").map_or("", String::as_str)
        )),
        _ => None,
    };
    let same_coin = match (&currency, details.get("order_currency")) {
        (Some(c), Some(o)) => c.eq_ignore_ascii_case(o),
        _ => false,
    };
    // Priced in another currency (a fiat invoice, another token): CCPayment's own
    // figures in that currency say whether the price is covered.
    let price =
        (!same_coin && details.contains_key("order_currency")).then(|| crate::lifecycle::Price {
            currency: details.get("order_currency").cloned(),
            amount_due: amount(amounts.get("amount_due")),
            amount_paid: amount(amounts.get("paid_total")),
        });
    PaymentView {
        direction: kind.direction(),
        lifecycle: confirmed.map_or(Lifecycle::Unknown, |(st, risky)| st.lifecycle(kind, risky)),
        merchant_ref,
        user_ref: refs.get("user_id").cloned(),
        currency,
        amount_due: amount(amounts.get("amount_due")).filter(|_| same_coin),
        amount_paid: amount(amounts.get("amount")),
        order,
        amounts_source: confirmed.map(|_| crate::lifecycle::AmountsSource::ProviderApi),
        price,
    }
}

pub const RISKY_HELD: &str = "FlaggedAsRisky";
