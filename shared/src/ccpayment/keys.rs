//! Where a CCPayment v1.0 record's items live: the provider's name, its `open`
//! queues and each account's resend scope.

use super::credentials::Accounts;
use super::notification::OrderType;

pub const PROVIDER: &str = "ccpayment";

/// The partition of the first account's resend windows and call budget: the one a
/// single-account deployment has always used, so an upgrade strands no open window.
pub const RESEND_SCOPE: &str = "reconciler#ccpayment";

/// The partition of one account's resend windows and call budget.
pub fn resend_scope(accounts: &Accounts, app_id: &str) -> String {
    if accounts
        .iter()
        .next()
        .is_some_and(|first| first.app_id == app_id)
    {
        RESEND_SCOPE.to_string()
    } else {
        format!("{RESEND_SCOPE}#{}", crate::store::schema::key_part(app_id))
    }
}

/// The `open` index queue of a record of this notification type (its canonical
/// name); every type nobody documents shares one, so a list of queues covers it.
pub fn open_queue(order_type: &OrderType) -> String {
    match order_type {
        OrderType::Unknown(_) => OTHER_QUEUE.to_string(),
        known => format!("{PROVIDER}#{}", known.as_str()),
    }
}

const OTHER_QUEUE: &str = "ccpayment#other";

/// Every queue `open_queue` can name.
pub const OPEN_QUEUES: &[&str] = &[
    "ccpayment#API Deposit",
    "ccpayment#Direct Deposit",
    "ccpayment#Invoice",
    "ccpayment#API Withdrawal",
    "ccpayment#Refund",
    OTHER_QUEUE,
];

#[cfg(test)]
mod queue_tests {
    use super::*;

    #[test]
    fn every_order_type_has_a_listed_queue() {
        let types = [
            OrderType::ApiDeposit,
            OrderType::DirectDeposit,
            OrderType::Invoice,
            OrderType::ApiWithdrawal,
            OrderType::Refund,
            OrderType::Unknown("Payout".into()),
            OrderType::Unknown(String::new()),
        ];
        for t in &types {
            assert!(OPEN_QUEUES.contains(&open_queue(t).as_str()), "{t:?}");
        }
        assert_eq!(open_queue(&OrderType::Invoice), "ccpayment#Invoice");
    }
}
