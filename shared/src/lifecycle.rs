//! One payment lifecycle for every provider: what a merchant's systems need to know
//! of a record, whatever the provider calls its statuses. Each provider maps its own
//! vocabulary in its own module (`lifecycle` next to its status type); this module
//! holds only the shared words.
//!
//! Only what really is final for the merchant is final here: an underpaid or expired
//! order can still be paid, a payment held as risky can still be released.

use serde::Serialize;

/// Which way the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A buyer pays the merchant: deposits, orders, invoices, card orders.
    Incoming,
    /// The merchant pays out: withdrawals.
    Outgoing,
    /// Money goes back to a buyer.
    Refund,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
            Direction::Refund => "refund",
        }
    }
}

/// Where a payment stands for the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Created; nothing received yet.
    AwaitingPayment,
    /// Money seen or a payout under way, not confirmed yet.
    Processing,
    /// Less than the amount due has arrived; the buyer can still complete it.
    Underpaid,
    /// Received, but held for a human (flagged as risky): never treat as paid.
    Held,
    /// Complete: credited (incoming) or paid out (outgoing).
    Paid,
    /// The payment window closed without full payment; a late payment can still come.
    Expired,
    /// Failed or rejected.
    Failed,
    Canceled,
    Refunding,
    Refunded,
    /// Not confirmed yet, or a status nobody documents: look before acting.
    Unknown,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 11] = [
        Lifecycle::AwaitingPayment,
        Lifecycle::Processing,
        Lifecycle::Underpaid,
        Lifecycle::Held,
        Lifecycle::Paid,
        Lifecycle::Expired,
        Lifecycle::Failed,
        Lifecycle::Canceled,
        Lifecycle::Refunding,
        Lifecycle::Refunded,
        Lifecycle::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::AwaitingPayment => "awaiting_payment",
            Lifecycle::Processing => "processing",
            Lifecycle::Underpaid => "underpaid",
            Lifecycle::Held => "held",
            Lifecycle::Paid => "paid",
            Lifecycle::Expired => "expired",
            Lifecycle::Failed => "failed",
            Lifecycle::Canceled => "canceled",
            Lifecycle::Refunding => "refunding",
            Lifecycle::Refunded => "refunded",
            Lifecycle::Unknown => "unknown",
        }
    }

    /// Nothing the provider sends next changes it for the merchant.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Lifecycle::Paid | Lifecycle::Failed | Lifecycle::Canceled | Lifecycle::Refunded
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_match_serde() {
        let mut seen = std::collections::BTreeSet::new();
        for l in Lifecycle::ALL {
            assert!(seen.insert(l.as_str()), "{} twice", l.as_str());
            assert_eq!(
                serde_json::to_value(l).unwrap(),
                serde_json::Value::from(l.as_str())
            );
        }
        for d in [Direction::Incoming, Direction::Outgoing, Direction::Refund] {
            assert_eq!(
                serde_json::to_value(d).unwrap(),
                serde_json::Value::from(d.as_str())
            );
        }
    }

    #[test]
    fn underpaid_expired_and_held_are_not_final() {
        let finals: Vec<_> = Lifecycle::ALL.iter().filter(|l| l.is_final()).collect();
        assert_eq!(
            finals,
            [
                &Lifecycle::Paid,
                &Lifecycle::Failed,
                &Lifecycle::Canceled,
                &Lifecycle::Refunded
            ]
        );
    }
}
