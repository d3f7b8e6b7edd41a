//! The opt-in SQS FIFO queue: every event the bus takes, also in one message
//! group per payment (its merchant reference), for a consumer that wants each
//! order's changes strictly in order without running anything of its own.
//!
//! The publisher feeds it, not a rule on the bus: a rule target's
//! `MessageGroupId` is one fixed string, which would put every order in a single
//! group and let one slow message hold back all of them.
//!
//! A group never goes out of order, even when a batch is only partly taken: one
//! `SendMessageBatch` carries at most one message per group, and nothing is sent
//! after a call that was not taken whole. What follows is retried from the first
//! message refused, so a message taken after it may arrive twice; within five
//! minutes SQS drops the copy by its deduplication id, after that the consumer's
//! dedupe by `event_id` does.

use std::collections::HashSet;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::error::PublishError;
use super::event::PaymentEvent;

/// SQS takes at most ten messages per `SendMessageBatch`.
pub const MAX_MESSAGES: usize = 10;

/// What SQS allows in a group or deduplication id.
const ID_MAX: usize = 128;

#[derive(Debug, Clone)]
pub struct OrderedQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl OrderedQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends `events` in order; returns how many of them, from the first, were
    /// taken.
    pub async fn send(
        &self,
        events: &[PaymentEvent],
        source: &str,
        requests: &mut usize,
    ) -> Result<usize, PublishError> {
        let mut taken = 0;
        for call in calls(events) {
            let mut entries = Vec::with_capacity(call.len());
            for (i, event) in call.iter().enumerate() {
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body(event, source)?)
                        .message_group_id(group_id(event))
                        .message_deduplication_id(deduplication_id(event))
                        .build()
                        .map_err(|e| PublishError::Encode(e.to_string()))?,
                );
            }
            *requests += 1;
            let answer = match self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "SendMessageBatch failed");
                    return Ok(taken);
                }
            };
            let refused: Option<usize> = answer
                .failed()
                .iter()
                .filter_map(|f| f.id().parse::<usize>().ok())
                .min();
            let accepted: HashSet<&str> = answer.successful().iter().map(|s| s.id()).collect();
            // An entry neither taken nor refused (a short answer) counts as refused.
            let first_missing =
                (0..call.len()).find(|i| !accepted.contains(i.to_string().as_str()));
            if let Some(i) = refused.into_iter().chain(first_missing).min() {
                if let Some(f) = answer.failed().first() {
                    tracing::warn!(
                        code = f.code(),
                        sender_fault = f.sender_fault(),
                        "message not taken by the ordered queue"
                    );
                }
                return Ok(taken + i);
            }
            taken += call.len();
        }
        Ok(taken)
    }
}

/// Consecutive runs of at most ten events with at most one per group.
fn calls(events: &[PaymentEvent]) -> Vec<&[PaymentEvent]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut groups: HashSet<String> = HashSet::new();
    for (i, event) in events.iter().enumerate() {
        let group = group_id(event);
        if i - start == MAX_MESSAGES || groups.contains(&group) {
            out.push(events.get(start..i).unwrap_or_default());
            start = i;
            groups.clear();
        }
        groups.insert(group);
    }
    if start < events.len() {
        out.push(events.get(start..).unwrap_or_default());
    }
    out
}

/// The same envelope a bus rule hands an SQS queue, so one consumer reads both.
fn body(event: &PaymentEvent, source: &str) -> Result<String, PublishError> {
    let detail = serde_json::to_value(event).map_err(|e| PublishError::Encode(e.to_string()))?;
    let envelope = serde_json::json!({
        "id": event.event_id,
        "detail-type": event.detail_type(),
        "source": source,
        "time": time(event.payment.changed_at_ms),
        "detail": detail,
    });
    serde_json::to_string(&envelope).map_err(|e| PublishError::Encode(e.to_string()))
}

/// RFC 3339 in UTC, as EventBridge writes an event's `time`.
fn time(ms: i64) -> String {
    use aws_sdk_sqs::primitives::{DateTime, DateTimeFormat};
    DateTime::from_millis(ms)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}

/// The payment's key (`ref#<merchant ref>`, `user#…`, `id#…`): one group per
/// merchant order. A key SQS would refuse, by its length or characters, is
/// replaced by its digest, which is as stable.
pub fn group_id(event: &PaymentEvent) -> String {
    let pk = &event.payment.key.0;
    if allowed(pk) {
        pk.clone()
    } else {
        let digest = crate::hashing::sha256_hex(pk.as_bytes());
        format!("sha256:{digest}")
    }
}

/// A replay is a new delivery of an event already sent: it must not be dropped as
/// a copy of the live one.
pub fn deduplication_id(event: &PaymentEvent) -> String {
    if event.redelivery {
        format!("{}-redelivery", event.event_id)
    } else {
        event.event_id.clone()
    }
}

fn allowed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_MAX
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Direction, Lifecycle};
    use crate::store::payment::Payment;

    fn event(pk: &str, version: u64) -> PaymentEvent {
        PaymentEvent::of(
            Payment {
                provider: "ccpayment".into(),
                merchant_ref: None,
                user_ref: None,
                record_id: "r".into(),
                records: vec!["r".into()],
                direction: Direction::Incoming,
                lifecycle: Lifecycle::Paid,
                is_final: true,
                provider_status: "success".into(),
                currency: None,
                amount_due: None,
                amount_paid: None,
                amounts_source: None,
                price: None,
                flags: vec![],
                merged_into: None,
                version,
                changed_at_ms: 0,
                key: (pk.into(), "ccpayment#record#r".into()),
            },
            false,
        )
    }

    #[test]
    fn a_call_never_holds_two_messages_of_one_group_nor_more_than_ten() {
        let mut events: Vec<PaymentEvent> =
            (0..12).map(|i| event(&format!("ref#o{i}"), 1)).collect();
        events.insert(3, event("ref#o1", 2));
        let sizes: Vec<usize> = calls(&events).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [3, 10]);
        for call in calls(&events) {
            let groups: HashSet<String> = call.iter().map(group_id).collect();
            assert_eq!(groups.len(), call.len());
        }
        assert_eq!(calls(&events).iter().map(|c| c.len()).sum::<usize>(), 13);
    }

    #[test]
    fn group_and_deduplication_ids_are_what_sqs_takes() {
        assert_eq!(group_id(&event("ref#ord-1", 1)), "ref#ord-1");
        for odd in [
            "ref#ordre n°1",
            "ref#with space",
            &format!("ref#{}", "x".repeat(200)),
        ] {
            let g = group_id(&event(odd, 1));
            assert!(allowed(&g), "{g}");
            assert_eq!(g, group_id(&event(odd, 2)), "stable per payment");
        }
        let live = event("ref#a", 3);
        let mut replayed = live.clone();
        replayed.redelivery = true;
        assert_ne!(deduplication_id(&live), deduplication_id(&replayed));
        assert!(allowed(&deduplication_id(&replayed)));
    }
}
