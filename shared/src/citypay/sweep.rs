//! Orders found by sweeping CityPay's order history: each one we never heard of
//! is stored as if its callback had arrived, with the status the order API gives
//! (never the list's), and flagged `found_by_sweep`.

use std::collections::{BTreeMap, BTreeSet};

use super::callback::OrderCallback;
use super::history::HistoryItem;
use super::order_api::{ConfirmError, ConfirmedOrder};
use super::receiver::order_delivery;
use crate::store::Delivery;

pub const FOUND_BY_SWEEP: &str = "found_by_sweep";

/// Where the sweep stands (one cursor item).
pub const SWEEP_SCOPE: &str = "reconciler#citypay-sweep";

/// The delivery for a listed order we do not hold; `raw` is the list's entry,
/// kept as the event's body.
pub fn swept_order(
    item: &HistoryItem,
    confirmation: Result<ConfirmedOrder, ConfirmError>,
    raw: &[u8],
) -> Delivery {
    let mut refs = BTreeMap::new();
    if let Some(at) = item.created_at_ms {
        refs.insert("created_at_ms".to_string(), at.to_string());
    }
    let callback = OrderCallback {
        order_token: item.token.clone(),
        action: Some("sweep".into()),
        claimed_status: item.status.as_str().to_string(),
        transaction_id: None,
        refs,
        amounts: BTreeMap::new(),
        details: BTreeMap::new(),
        flags: BTreeSet::from([FOUND_BY_SWEEP.to_string()]),
    };
    order_delivery(callback, confirmation, raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citypay::OrderStatus;

    #[test]
    fn a_swept_order_takes_the_order_apis_status_and_is_flagged() {
        let item = HistoryItem {
            token: "tok-9".into(),
            created_at_ms: Some(1_796_000_000_000),
            status: OrderStatus::InProgress,
        };
        let confirmed = ConfirmedOrder {
            status: OrderStatus::Confirmed,
            expires_at_ms: Some(1_796_003_600_000),
            amount_fiat: Some("100".into()),
            order_id: Some("2876".into()),
            currency: Some("USD".into()),
            paid_fiat: None,
        };
        let d = swept_order(&item, Ok(confirmed), br#"{"token":"tok-9"}"#);
        assert_eq!(d.record_key, crate::citypay::order_record_key("tok-9"));
        assert_eq!(
            d.status.as_ref().map(|s| s.name.as_str()),
            Some("CONFIRMED")
        );
        assert!(d.flags.contains(FOUND_BY_SWEEP));
        let unconfirmed = swept_order(&item, Err(ConfirmError::Timeout), b"{}");
        assert!(unconfirmed.status.is_none(), "the list's word is not proof");
        assert!(unconfirmed.flags.contains("unconfirmed"));
    }
}
