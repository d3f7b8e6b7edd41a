//! CityPay's status vocabularies. Machine values are only partly documented, so
//! spellings are normalised (`Paid/Unconfirmed`, `CANCELLED`...) before matching.

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

    /// IN_PROGRESS < UNDERPAID < PAID_UNCONFIRMED < CONFIRMED | OVERPAID | EXPIRED | CANCELED.
    /// An underpaid order can still be completed, so it is not final.
    pub fn rank(&self) -> Option<(u8, bool)> {
        match self {
            OrderStatus::InProgress => Some((1, false)),
            OrderStatus::Underpaid => Some((2, false)),
            OrderStatus::PaidUnconfirmed => Some((3, false)),
            OrderStatus::Confirmed
            | OrderStatus::Overpaid
            | OrderStatus::Expired
            | OrderStatus::Canceled => Some((4, true)),
            OrderStatus::Unknown(_) => None,
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
        ];
        for s in all {
            let (r, t) = s.rank().unwrap();
            assert!(!t && r < OrderStatus::Confirmed.rank().unwrap().0);
        }
    }
}
