//! From a stream record to the event the merchant receives, or to nothing.
//!
//! One event per version of a payment: only a payment item's `INSERT` or `MODIFY`
//! whose `version` grew is published. Events, states, the reconciler's items and
//! TTL removals never are. The event is a pure function of the stream record, so a
//! redelivered record gives the same `event_id` and the same content.

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::Serialize;

use crate::store::payment::{Payment, ITEM_TYPE};
use crate::store::{AttrExt, Item};

/// The `detail` of a payment event on the bus: the payment's view (the lookup's
/// fields, without the history) and what makes it an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentEvent {
    /// Stable across redeliveries: the payment and its version.
    pub event_id: String,
    /// `version` grows by one with every change of this payment; 1 is its first.
    #[serde(flatten)]
    pub payment: Payment,
    /// Re-published from the table by an operator, not fresh from the stream.
    pub redelivery: bool,
}

impl PaymentEvent {
    pub fn of(payment: Payment, redelivery: bool) -> Self {
        Self {
            event_id: event_id(&payment.key.0, &payment.key.1, payment.version),
            payment,
            redelivery,
        }
    }

    /// `payment.<lifecycle>`: what a rule matches on. `payment.merged` for the
    /// last version of a payment whose record moved to its reference's payment:
    /// its lifecycle is not news, and a rule on `payment.paid` must not see the
    /// same money twice.
    pub fn detail_type(&self) -> String {
        if self.payment.merged_into.is_some() {
            return MERGED_DETAIL_TYPE.to_string();
        }
        format!("payment.{}", self.payment.lifecycle.as_str())
    }
}

pub const MERGED_DETAIL_TYPE: &str = "payment.merged";

/// Short enough for every consumer's dedupe key (SQS FIFO allows 128 characters),
/// and the same for the same payment and version wherever it is computed.
pub fn event_id(pk: &str, sk: &str, version: u64) -> String {
    let digest = crate::hashing::sha256_hex(format!("{pk}\n{sk}").as_bytes());
    format!("{}-v{version}", digest.get(..32).unwrap_or(&digest))
}

/// What a stream record comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Publish(Box<PaymentEvent>),
    Skip(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// Never dropped: reported as a failure, so the batch retries and, in the end,
    /// the on-failure destination keeps it.
    #[error("payment item in the stream cannot be read (pk {0})")]
    Unreadable(String),
}

fn image(item: &serde_dynamo::Item) -> Item {
    item.clone().into()
}

pub fn decide(record: &EventRecord) -> Result<Decision, DecisionError> {
    if record.event_name != "INSERT" && record.event_name != "MODIFY" {
        return Ok(Decision::Skip("removal"));
    }
    let new = image(&record.change.new_image);
    if new.text("item_type") != Some(ITEM_TYPE) {
        return Ok(Decision::Skip("not a payment"));
    }
    let old = image(&record.change.old_image);
    let version = |item: &Item| item.int("version").unwrap_or(0);
    if version(&new) <= version(&old) {
        return Ok(Decision::Skip("version unchanged"));
    }
    let pk = new.text("pk").unwrap_or_default().to_string();
    let payment = Payment::from_item(&new).ok_or(DecisionError::Unreadable(pk))?;
    Ok(Decision::Publish(Box::new(PaymentEvent::of(
        payment, false,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Lifecycle;
    use serde_json::json;

    fn record(name: &str, new: serde_json::Value, old: serde_json::Value) -> EventRecord {
        let mut r = json!({
            "eventID": "1", "eventName": name, "awsRegion": "us-east-1",
            "eventSource": "aws:dynamodb", "eventVersion": "1.1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_796_000_000.0,
                "Keys": {"pk": {"S": "x"}, "sk": {"S": "y"}},
                "SequenceNumber": "100", "SizeBytes": 10,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        });
        if !new.is_null() {
            r["dynamodb"]["NewImage"] = new;
        }
        if !old.is_null() {
            r["dynamodb"]["OldImage"] = old;
        }
        serde_json::from_value(r).unwrap()
    }

    fn payment(version: u64, lifecycle: &str) -> serde_json::Value {
        json!({
            "pk": {"S": "ref#ord-1"}, "sk": {"S": "ccpayment#order#app#ord-1"},
            "item_type": {"S": "payment"}, "provider": {"S": "ccpayment"},
            "merchant_ref": {"S": "ord-1"}, "direction": {"S": "incoming"},
            "rule": {"S": "summed"}, "last_lifecycle": {"S": lifecycle},
            "provider_status": {"S": "success"}, "last_record": {"S": "r1"},
            "records": {"SS": ["r1"]}, "paid_total": {"N": "0.3"},
            "amount_due": {"S": "0.3"}, "currency": {"S": "DOGE"},
            "version": {"N": version.to_string()}, "changed_at_ms": {"N": "1796000000000"}
        })
    }

    #[test]
    fn one_event_per_new_version_and_nothing_else() {
        let first = decide(&record("INSERT", payment(1, "paid"), json!(null))).unwrap();
        let Decision::Publish(e) = first else {
            panic!("{first:?}")
        };
        assert_eq!(e.payment.version, 1);
        assert_eq!(e.payment.lifecycle, Lifecycle::Paid, "summed: 0.3 of 0.3");
        assert_eq!(e.detail_type(), "payment.paid");
        assert_eq!(
            e.event_id,
            event_id("ref#ord-1", "ccpayment#order#app#ord-1", 1)
        );
        assert!(e.event_id.len() <= 40);
        assert!(!e.redelivery);

        let next = decide(&record("MODIFY", payment(2, "paid"), payment(1, "paid"))).unwrap();
        assert!(matches!(next, Decision::Publish(ref e) if e.payment.version == 2));

        for (name, new, old, why) in [
            (
                "MODIFY",
                payment(2, "paid"),
                payment(2, "paid"),
                "version unchanged",
            ),
            ("REMOVE", json!(null), payment(2, "paid"), "removal"),
            (
                "INSERT",
                json!({"pk": {"S": "ccpayment#1"}, "item_type": {"S": "event"}}),
                json!(null),
                "not a payment",
            ),
            (
                "MODIFY",
                json!({"pk": {"S": "ccpayment#1"}, "item_type": {"S": "state"}, "version": {"N": "9"}}),
                json!(null),
                "not a payment",
            ),
        ] {
            assert_eq!(
                decide(&record(name, new, old)).unwrap(),
                Decision::Skip(why)
            );
        }
    }

    #[test]
    fn the_same_record_twice_is_the_same_event() {
        let r = record("MODIFY", payment(3, "paid"), payment(2, "paid"));
        assert_eq!(decide(&r).unwrap(), decide(&r.clone()).unwrap());
    }

    #[test]
    fn an_unreadable_payment_is_an_error_never_a_skip() {
        let mut broken = payment(1, "paid");
        broken["last_lifecycle"] = json!({"S": "nonsense"});
        assert_eq!(
            decide(&record("INSERT", broken, json!(null))),
            Err(DecisionError::Unreadable("ref#ord-1".into()))
        );
    }
}
