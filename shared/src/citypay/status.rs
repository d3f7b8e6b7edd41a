//! CityPay's status vocabularies. Machine values are only partly documented, so
//! spellings are normalised (`Paid/Unconfirmed`, `CANCELLED`...) before matching.

use crate::lifecycle::Lifecycle;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStatus {
    InProgress,
    Underpaid,
    PaidUnconfirmed,
    Confirmed,
    Overpaid,
    Expired,
    Canceled,
    Unknown(String),
}

fn normalise(raw: &str) -> String {
    raw.trim()
        .to_ascii_uppercase()
        .chars()
        .map(|c| {
            if c == '/' || c == '-' || c == ' ' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

impl OrderStatus {
    pub fn parse(raw: &str) -> Self {
        match normalise(raw).as_str() {
            "IN_PROGRESS" | "INPROGRESS" => OrderStatus::InProgress,
            "UNDERPAID" | "UNDER_PAID" => OrderStatus::Underpaid,
            "PAID_UNCONFIRMED" | "PAIDUNCONFIRMED" | "UNCONFIRMED" => OrderStatus::PaidUnconfirmed,
            "CONFIRMED" => OrderStatus::Confirmed,
            "OVERPAID" | "OVER_PAID" => OrderStatus::Overpaid,
            "EXPIRED" => OrderStatus::Expired,
            "CANCELED" | "CANCELLED" => OrderStatus::Canceled,
            _ => OrderStatus::Unknown(raw.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            OrderStatus::InProgress => "IN_PROGRESS",
            OrderStatus::Underpaid => "UNDERPAID",
            OrderStatus::PaidUnconfirmed => "PAID_UNCONFIRMED",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Overpaid => "OVERPAID",
            OrderStatus::Expired => "EXPIRED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Unknown(raw) => raw,
        }
    }

    /// IN_PROGRESS < EXPIRED | UNDERPAID < PAID_UNCONFIRMED < CONFIRMED | OVERPAID | CANCELED.
    /// An underpaid order can still be completed, so it is not final; nor is an
    /// expired one: a payment sent late still arrives, and CityPay then confirms it.
    /// EXPIRED shares UNDERPAID's rank so ranks stored before keep their order (a
    /// late underpayment after expiry is kept as seen, the status stays EXPIRED).
    pub fn rank(&self) -> Option<(u8, bool)> {
        match self {
            OrderStatus::InProgress => Some((1, false)),
            OrderStatus::Underpaid | OrderStatus::Expired => Some((2, false)),
            OrderStatus::PaidUnconfirmed => Some((3, false)),
            OrderStatus::Confirmed | OrderStatus::Overpaid | OrderStatus::Canceled => {
                Some((4, true))
            }
            OrderStatus::Unknown(_) => None,
        }
    }

    /// For the merchant (incoming): paid once CONFIRMED or OVERPAID (flag `overpaid`);
    /// UNDERPAID and EXPIRED can still be paid, so they are not final.
    pub fn lifecycle(&self) -> Lifecycle {
        match self {
            OrderStatus::InProgress => Lifecycle::AwaitingPayment,
            OrderStatus::Underpaid => Lifecycle::Underpaid,
            OrderStatus::PaidUnconfirmed => Lifecycle::Processing,
            OrderStatus::Confirmed | OrderStatus::Overpaid => Lifecycle::Paid,
            OrderStatus::Expired => Lifecycle::Expired,
            OrderStatus::Canceled => Lifecycle::Canceled,
            OrderStatus::Unknown(_) => Lifecycle::Unknown,
        }
    }

    /// Only these credit the buyer.
    pub fn is_paid(&self) -> bool {
        matches!(self, OrderStatus::Confirmed | OrderStatus::Overpaid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepositStatus {
    Pending,
    Confirmed,
    Unknown(String),
}

impl DepositStatus {
    pub fn parse(raw: &str) -> Self {
        match normalise(raw).as_str() {
            "PENDING" => DepositStatus::Pending,
            "CONFIRMED" => DepositStatus::Confirmed,
            _ => DepositStatus::Unknown(raw.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DepositStatus::Pending => "Pending",
            DepositStatus::Confirmed => "Confirmed",
            DepositStatus::Unknown(raw) => raw,
        }
    }

    /// For the merchant (incoming): paid once Confirmed.
    pub fn lifecycle(&self) -> Lifecycle {
        match self {
            DepositStatus::Pending => Lifecycle::Processing,
            DepositStatus::Confirmed => Lifecycle::Paid,
            DepositStatus::Unknown(_) => Lifecycle::Unknown,
        }
    }

    pub fn rank(&self) -> Option<(u8, bool)> {
        match self {
            DepositStatus::Pending => Some((1, false)),
            DepositStatus::Confirmed => Some((2, true)),
            DepositStatus::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycles() {
        for (raw, l) in [
            ("IN_PROGRESS", Lifecycle::AwaitingPayment),
            ("UNDERPAID", Lifecycle::Underpaid),
            ("PAID_UNCONFIRMED", Lifecycle::Processing),
            ("CONFIRMED", Lifecycle::Paid),
            ("OVERPAID", Lifecycle::Paid),
            ("EXPIRED", Lifecycle::Expired),
            ("CANCELED", Lifecycle::Canceled),
            ("REFUNDED?", Lifecycle::Unknown),
        ] {
            assert_eq!(OrderStatus::parse(raw).lifecycle(), l, "{raw}");
            // Paid in the lifecycle exactly when the order credits the buyer.
            assert_eq!(
                OrderStatus::parse(raw).is_paid(),
                l == Lifecycle::Paid,
                "{raw}"
            );
        }
        for (raw, l) in [
            ("Pending", Lifecycle::Processing),
            ("Confirmed", Lifecycle::Paid),
            ("Reversed", Lifecycle::Unknown),
        ] {
            assert_eq!(DepositStatus::parse(raw).lifecycle(), l, "{raw}");
        }
    }

    #[test]
    fn spellings_normalise() {
        assert_eq!(
            OrderStatus::parse("Paid/Unconfirmed"),
            OrderStatus::PaidUnconfirmed
        );
        assert_eq!(OrderStatus::parse("in-progress"), OrderStatus::InProgress);
        assert_eq!(OrderStatus::parse("CANCELLED"), OrderStatus::Canceled);
        assert_eq!(OrderStatus::parse("canceled"), OrderStatus::Canceled);
        assert_eq!(
            OrderStatus::parse("REFUNDED"),
            OrderStatus::Unknown("REFUNDED".into())
        );
        assert!(OrderStatus::Overpaid.is_paid() && OrderStatus::Confirmed.is_paid());
        assert!(!OrderStatus::PaidUnconfirmed.is_paid() && !OrderStatus::Underpaid.is_paid());
        assert_eq!(DepositStatus::parse("confirmed"), DepositStatus::Confirmed);
    }

    #[test]
    fn terminal_states_outrank_everything_else() {
        let all = [
            OrderStatus::InProgress,
            OrderStatus::Underpaid,
            OrderStatus::PaidUnconfirmed,
            OrderStatus::Expired,
        ];
        for s in all {
            let (r, t) = s.rank().unwrap();
            assert!(!t && r < OrderStatus::Confirmed.rank().unwrap().0);
        }
        // A payment after expiry moves the order on; a stale IN_PROGRESS does not.
        let expired = OrderStatus::Expired.rank().unwrap().0;
        assert!(OrderStatus::PaidUnconfirmed.rank().unwrap().0 > expired);
        assert!(OrderStatus::InProgress.rank().unwrap().0 < expired);
    }
}
