//! A record found by sweeping a list API, turned into what is stored: the list's
//! answer is the record API's own entity, signed the same way, so it is as
//! confirmed as a webhook checked with the record API.

use std::collections::BTreeMap;

use super::api::{Listed, OrderInfo, V2Api};
use super::keys::PROVIDER;
use super::notification::{Notification, NotificationType};
use super::receiver::{to_delivery, Confirmation};
use crate::store::Delivery;

pub const FOUND_BY_SWEEP: &str = "found_by_sweep";

/// The lists a sweep can walk, each named by the type its records are filed under
/// (app deposits hold both API and direct deposits).
pub const LISTS: [(&str, NotificationType); 4] = [
    ("app-deposits", NotificationType::ApiDeposit),
    ("app-withdrawals", NotificationType::ApiWithdrawal),
    ("user-deposits", NotificationType::UserDeposit),
    ("user-withdrawals", NotificationType::UserWithdrawal),
];

/// The list of a name in [`LISTS`].
pub fn list_named(name: &str) -> Option<NotificationType> {
    LISTS
        .iter()
        .find(|(n, _)| *n == name.trim())
        .map(|(_, kind)| kind.clone())
}

/// The partition of one account's cursor through one list.
pub fn sweep_scope(app_id: &str, list: &NotificationType) -> String {
    format!(
        "reconciler#{PROVIDER}#sweep#{}#{}",
        crate::store::schema::key_part(app_id),
        V2Api::list_path(list)
            .unwrap_or("unknown")
            .trim_start_matches('/')
    )
}

/// The notification type a webhook for this record would have carried: an app
/// deposit linked to a merchant order is an API deposit, any other a direct one.
pub fn swept_kind(list: &NotificationType, listed: &Listed) -> NotificationType {
    match list {
        NotificationType::ApiDeposit | NotificationType::DirectDeposit => {
            if listed.record.refs.iter().any(|(k, _)| *k == "order_id") {
                NotificationType::ApiDeposit
            } else {
                NotificationType::DirectDeposit
            }
        }
        other => other.clone(),
    }
}

/// What is stored for a record we never received. Its event key is
/// `sweep#<status>`, so a webhook for the same status arriving later is a new
/// event beside it, not a conflict.
pub fn swept_delivery(
    list: &NotificationType,
    listed: &Listed,
    app_id: &str,
    order: Option<Result<OrderInfo, super::api::ApiError>>,
    now_ms: i64,
) -> Delivery {
    let r = &listed.record;
    let notification = Notification {
        kind: swept_kind(list, listed),
        record_id: r.record_id.clone(),
        status_text: r.status_text.clone(),
        status: r.status.clone(),
        refs: r
            .refs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
        details: BTreeMap::new(),
        risky: Some(r.risky),
        flags: [FOUND_BY_SWEEP.to_string()].into(),
    };
    let confirmation = Confirmation {
        record: Ok(r.clone()),
        order,
    };
    let mut d = to_delivery(
        notification,
        app_id,
        false,
        confirmation,
        listed.raw.as_bytes(),
    );
    d.event_id = vec!["sweep".into(), r.status_text.clone()];
    d.received_at_ms = now_ms;
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccpayment_v2::api::Record;
    use crate::ccpayment_v2::Status;

    fn listed(order: bool, risky: bool) -> Listed {
        let mut refs = Vec::new();
        if order {
            refs.push(("order_id", "o-1".to_string()));
        }
        Listed {
            record: Record {
                record_id: "r-1".into(),
                status_text: "Success".into(),
                status: Status::Success,
                refs,
                amounts: vec![("amount", "1.5".into())],
                details: Vec::new(),
                risky,
            },
            raw: r#"{"recordId":"r-1"}"#.into(),
        }
    }

    #[test]
    fn app_deposits_are_filed_by_whether_an_order_is_linked() {
        let list = NotificationType::ApiDeposit;
        assert_eq!(
            swept_kind(&list, &listed(true, false)),
            NotificationType::ApiDeposit
        );
        assert_eq!(
            swept_kind(&list, &listed(false, false)),
            NotificationType::DirectDeposit
        );
        assert_eq!(
            swept_kind(&NotificationType::ApiWithdrawal, &listed(true, false)),
            NotificationType::ApiWithdrawal
        );
    }

    #[test]
    fn a_swept_record_is_flagged_keyed_apart_and_confirmed() {
        let d = swept_delivery(
            &NotificationType::ApiDeposit,
            &listed(false, false),
            "app",
            None,
            42_000,
        );
        assert_eq!(d.event_id, vec!["sweep".to_string(), "Success".to_string()]);
        assert!(d.flags.contains(FOUND_BY_SWEEP));
        assert!(!d.flags.contains("unconfirmed"));
        assert_eq!(d.status.as_ref().map(|s| s.name.as_str()), Some("Success"));
        assert_eq!(d.amounts.get("amount").map(String::as_str), Some("1.5"));
        assert_eq!(d.refs.get("app_id").map(String::as_str), Some("app"));
        assert_eq!(d.received_at_ms, 42_000);
        assert_eq!(d.kind.as_deref(), Some("DirectDeposit"));

        let risky = swept_delivery(
            &NotificationType::ApiDeposit,
            &listed(false, true),
            "app",
            None,
            0,
        );
        assert_eq!(
            risky.status.as_ref().map(|s| s.name.as_str()),
            Some(super::super::view::RISKY_HELD)
        );
        assert!(risky.flags.contains("risky"));
    }

    #[test]
    fn every_list_has_a_name_and_a_path() {
        for (name, kind) in LISTS {
            assert_eq!(list_named(name), Some(kind.clone()));
            assert!(V2Api::list_path(&kind).is_some());
        }
        assert_eq!(list_named("deposits"), None);
        assert_ne!(
            sweep_scope("a", &NotificationType::ApiDeposit),
            sweep_scope("a", &NotificationType::ApiWithdrawal)
        );
    }
}
