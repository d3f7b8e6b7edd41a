//! Where a CCPayment v2 record's items live: the provider's name, its `open`
//! queues and each account's resend scope.

use super::notification::NotificationType;

pub const PROVIDER: &str = "ccpayment-v2";

/// The `open` index queue of a record of this notification type; every type
/// nobody documents shares one, so a list of queues covers it.
pub fn open_queue(kind: &NotificationType) -> String {
    match kind {
        NotificationType::Unknown(_) => OTHER_QUEUE.to_string(),
        known => format!("{PROVIDER}#{}", known.as_str()),
    }
}

const OTHER_QUEUE: &str = "ccpayment-v2#other";

/// Every queue `open_queue` can name.
pub const OPEN_QUEUES: &[&str] = &[
    "ccpayment-v2#ApiDeposit",
    "ccpayment-v2#DirectDeposit",
    "ccpayment-v2#ApiWithdrawal",
    "ccpayment-v2#UserDeposit",
    "ccpayment-v2#UserWithdrawal",
    OTHER_QUEUE,
];

/// The partition of one account's resend windows and call budget.
pub fn resend_scope(app_id: &str) -> String {
    format!(
        "reconciler#{PROVIDER}#{}",
        crate::store::schema::key_part(app_id)
    )
}

#[cfg(test)]
mod queue_tests {
    use super::*;

    #[test]
    fn every_notification_type_has_a_listed_queue() {
        for t in NotificationType::KNOWN
            .iter()
            .chain([&NotificationType::Unknown("Swap".into())])
        {
            assert!(OPEN_QUEUES.contains(&open_queue(t).as_str()), "{t:?}");
        }
        assert_eq!(OPEN_QUEUES.len(), NotificationType::KNOWN.len() + 1);
    }
}
