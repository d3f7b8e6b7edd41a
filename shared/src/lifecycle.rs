//! One payment lifecycle for every provider: what a merchant's systems need to know
//! of a record, whatever the provider calls its statuses. Each provider maps its own
//! vocabulary in its own module (`lifecycle` next to its status type); this module
//! holds only the shared words.
//!
//! Only what really is final for the merchant is final here: an underpaid or expired
//! order can still be paid, a payment held as risky can still be released.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::Serialize;

/// Which way the money goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A buyer pays the merchant: deposits, orders, invoices, card orders.
    #[default]
    Incoming,
    /// The merchant pays out: withdrawals.
    Outgoing,
    /// Money goes back to a buyer.
    Refund,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Self> {
        [Direction::Incoming, Direction::Outgoing, Direction::Refund]
            .into_iter()
            .find(|d| d.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
            Direction::Refund => "refund",
        }
    }
}

/// Where a payment stands for the merchant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
    #[default]
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

    pub fn parse(s: &str) -> Option<Self> {
        Lifecycle::ALL.into_iter().find(|l| l.as_str() == s)
    }

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

/// What one delivery or status update says about the payment, beside the
/// provider's raw status. The provider fills it from its own vocabulary; the store
/// writes it in the same transaction as the event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentView {
    pub direction: Direction,
    /// What the status applied with this write means.
    pub lifecycle: Lifecycle,
    /// The merchant's own order reference, where the provider carries one.
    pub merchant_ref: Option<String>,
    /// The merchant's reference of the paying user: the way to find a record that
    /// belongs to no merchant order (a direct deposit to a user's address).
    pub user_ref: Option<String>,
    pub currency: Option<String>,
    pub amount_due: Option<Decimal>,
    pub amount_paid: Option<Decimal>,
    /// The merchant order this record is one payment of, for a provider that
    /// spreads one order over several records: the account-qualified order key.
    /// The merchant then follows the order, not the record.
    pub order: Option<String>,
    /// Who vouches for `currency` and the amounts.
    pub amounts_source: Option<AmountsSource>,
    /// The provider's own figures for an order priced in another currency than the
    /// one it is paid in (a fiat-priced invoice paid in a token).
    pub price: Option<Price>,
}

/// What a provider says an order costs and what was paid against it, in the
/// currency the order is priced in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Price {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_paid: Option<Decimal>,
}

/// Who vouches for a payment's currency and amounts: what the merchant's systems
/// must compare with the order they created before they ship against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountsSource {
    /// The provider's own API answered them, about an order bound to this merchant.
    ProviderApi,
    /// A notification signed with the merchant's own secret.
    SignedNotification,
    /// A notification whose sender proved only the URL's secret token, with no API
    /// to confirm it: a claim.
    UnverifiedNotification,
}

impl AmountsSource {
    pub const ALL: [AmountsSource; 3] = [
        AmountsSource::ProviderApi,
        AmountsSource::SignedNotification,
        AmountsSource::UnverifiedNotification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AmountsSource::ProviderApi => "provider_api",
            AmountsSource::SignedNotification => "signed_notification",
            AmountsSource::UnverifiedNotification => "unverified_notification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Provider flags that say something to the merchant about the payment (the rest
/// are about one notification's shape and stay on the record).
pub const VIEW_FLAGS: &[&str] = &[
    "risky",
    "unconfirmed",
    "status_contradicted",
    "found_by_sweep",
    "expired_locally",
    "paid_late",
    "overpaid",
];

/// Raised by the store when a record is given two different final statuses.
pub const TERMINAL_CLASH: &str = "terminal_clash";

/// Raised by the store on a notification (and its record) that names another
/// merchant reference than the one its record was first given.
pub const REFERENCE_CONFLICT: &str = "reference_conflict";

impl PaymentView {
    /// The view's flags for this write: the provider's that matter to the merchant,
    /// and what the amounts say.
    pub fn flags(&self, provider_flags: &BTreeSet<String>) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = provider_flags
            .iter()
            .filter(|f| VIEW_FLAGS.contains(&f.as_str()))
            .cloned()
            .collect();
        if let (Some(due), Some(paid)) = (self.amount_due, self.amount_paid) {
            if self.lifecycle == Lifecycle::Paid && paid > due {
                out.insert("overpaid".into());
            }
        }
        out
    }
}

/// A decimal amount as a provider sends it: `None` for empty, non-numeric or wider
/// than exact arithmetic allows (the text stays on the record's events).
pub fn amount(text: Option<&String>) -> Option<Decimal> {
    let t = text?.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(t))
        .ok()
        .map(|d| d.normalize())
}

/// What a merchant order spread over several records (its payments) adds up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTotals {
    pub amount_due: Option<Decimal>,
    /// The sum of the payments that are final and paid, exact.
    pub paid_total: Decimal,
    /// The lifecycle of the payment that changed last.
    pub last: Lifecycle,
    /// A paid payment in another currency than the order's: not summed.
    pub mixed_currency: bool,
    /// The provider's figures in the order's pricing currency, where the payments'
    /// own currency is another: then they, not our sum, say whether it is paid.
    pub price: Option<Price>,
}

impl OrderTotals {
    /// The order's lifecycle and the flags the sums raise.
    pub fn lifecycle(&self) -> (Lifecycle, BTreeSet<String>) {
        let mut flags = BTreeSet::new();
        if self.mixed_currency {
            flags.insert("mixed_currency".to_string());
        }
        let paid = self.paid_total;
        let lifecycle = match self.amount_due {
            Some(due) if paid >= due && paid > Decimal::ZERO => {
                if paid > due {
                    flags.insert("overpaid".to_string());
                }
                Lifecycle::Paid
            }
            // Priced in another currency: only the provider's own figures in it
            // can say whether the price is covered.
            None if paid > Decimal::ZERO => {
                let figures = self
                    .price
                    .as_ref()
                    .and_then(|p| Some((p.amount_due?, p.amount_paid?)));
                match figures {
                    Some((due, covered)) if covered >= due && due > Decimal::ZERO => {
                        flags.insert("priced_in_other_currency".to_string());
                        if covered > due {
                            flags.insert("overpaid".to_string());
                        }
                        Lifecycle::Paid
                    }
                    Some(_) => {
                        flags.insert("priced_in_other_currency".to_string());
                        Lifecycle::Underpaid
                    }
                    // Nothing says what is due: money arrived, but never "paid".
                    None => {
                        flags.insert("amount_due_unknown".to_string());
                        Lifecycle::Processing
                    }
                }
            }
            _ if paid > Decimal::ZERO => Lifecycle::Underpaid,
            // Nothing paid: the order is where its latest payment is, but one
            // failed payment does not fail an order the buyer can still pay.
            _ => match self.last {
                Lifecycle::Paid => Lifecycle::Underpaid,
                Lifecycle::Failed | Lifecycle::Canceled => Lifecycle::AwaitingPayment,
                other => other,
            },
        };
        (lifecycle, flags)
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

    fn totals(due: Option<&str>, paid: &str, last: Lifecycle) -> OrderTotals {
        OrderTotals {
            amount_due: due.map(|d| d.parse().unwrap()),
            paid_total: paid.parse().unwrap(),
            last,
            mixed_currency: false,
            price: None,
        }
    }

    #[test]
    fn an_order_is_paid_when_its_payments_add_up_exactly() {
        let (l, f) = totals(Some("0.3"), "0.3", Lifecycle::Paid).lifecycle();
        assert_eq!((l, f.len()), (Lifecycle::Paid, 0));
        let (l, _) = totals(Some("0.3"), "0.299999999999999999", Lifecycle::Paid).lifecycle();
        assert_eq!(l, Lifecycle::Underpaid);
        let (l, f) = totals(Some("10"), "10.000000000000000001", Lifecycle::Paid).lifecycle();
        assert_eq!(l, Lifecycle::Paid);
        assert!(f.contains("overpaid"));
        let (l, _) = totals(Some("10"), "0", Lifecycle::Processing).lifecycle();
        assert_eq!(l, Lifecycle::Processing);
        let (l, _) = totals(Some("10"), "0", Lifecycle::Failed).lifecycle();
        assert_eq!(
            l,
            Lifecycle::AwaitingPayment,
            "a failed payment leaves the order payable"
        );
        let (l, f) = totals(None, "1", Lifecycle::Paid).lifecycle();
        assert_eq!(
            (l, f.contains("amount_due_unknown")),
            (Lifecycle::Processing, true),
            "money with nothing to hold it against is never paid"
        );
    }

    #[test]
    fn an_order_priced_in_another_currency_is_paid_by_the_providers_figures() {
        let priced = |due: &str, covered: &str| OrderTotals {
            price: Some(Price {
                currency: Some("USD".into()),
                amount_due: Some(due.parse().unwrap()),
                amount_paid: Some(covered.parse().unwrap()),
            }),
            ..totals(None, "10", Lifecycle::Paid)
        };
        let (l, f) = priced("25", "24.99").lifecycle();
        assert_eq!(l, Lifecycle::Underpaid, "short");
        assert!(f.contains("priced_in_other_currency"));
        let (l, f) = priced("25", "25").lifecycle();
        assert_eq!(
            (l, f.contains("overpaid")),
            (Lifecycle::Paid, false),
            "exact"
        );
        let (l, f) = priced("25", "30").lifecycle();
        assert_eq!((l, f.contains("overpaid")), (Lifecycle::Paid, true), "over");
    }

    #[test]
    fn amounts_parse_exactly_or_not_at_all() {
        let a = |t: &str| amount(Some(&t.to_string()));
        assert_eq!(a("0.10").unwrap().to_string(), "0.1");
        assert_eq!(a(" 25 ").unwrap().to_string(), "25");
        assert_eq!(a("1e-3").unwrap().to_string(), "0.001");
        assert_eq!(a(""), None);
        assert_eq!(a("abc"), None);
        assert_eq!(a(&"9".repeat(40)), None, "wider than exact arithmetic");
    }

    #[test]
    fn view_flags_keep_what_matters_to_the_merchant() {
        let view = PaymentView {
            lifecycle: Lifecycle::Paid,
            amount_due: amount(Some(&"5".to_string())),
            amount_paid: amount(Some(&"5.5".to_string())),
            ..PaymentView::default()
        };
        let provider: BTreeSet<String> = ["risky", "wide_amount_x", "legacy_order_type"]
            .map(String::from)
            .into();
        let flags: Vec<String> = view.flags(&provider).into_iter().collect();
        assert_eq!(flags, ["overpaid", "risky"]);
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
