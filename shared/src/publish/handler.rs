//! The stream's consumer: one `PutEvents` entry per payment change, in stream
//! order, at most ten to a request.
//!
//! A failure never drops a record and never reorders one merchant's events: the
//! first record that could not be published is reported (`batchItemFailures`), so
//! Lambda retries from it, and nothing after it is sent in this invocation. A
//! record that cannot even be identified fails the whole invocation instead: an
//! empty or missing identifier would read as success and lose the batch.

use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::error::PublishError;
use super::event::{decide, Decision, PaymentEvent};
use super::ordered::OrderedQueue;
use crate::config::ConfigError;
use crate::metrics::{Metrics, Unit};

/// EventBridge takes at most ten entries per `PutEvents` request.
pub const MAX_ENTRIES: usize = 10;

pub const DEFAULT_SOURCE: &str = "payment-webhooks";

/// How long an invocation waits before it reports that the bus (or the ordered
/// queue) refused: the mapping retries at once, so this pause is what makes its
/// bounded retries (`PublisherMaxRetries`) last through an outage of the bus,
/// until the records' age bound (`PublisherMaxRecordAgeSecs`) is what ends them.
pub const DEFAULT_REFUSAL_PAUSE: Duration = Duration::from_secs(20);

/// Where events go: the bus, and the `source` they carry; and, when the
/// deployment asks for it, the ordered queue as well.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    source: String,
    ordered: Option<OrderedQueue>,
    refusal_pause: Duration,
    metrics: Metrics,
}

/// What one invocation did, for the log line and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub published: usize,
    pub skipped: usize,
    pub put_requests: usize,
    /// `SendMessageBatch` calls to the ordered queue.
    pub queue_requests: usize,
    /// The sequence number Lambda retries from, if any.
    pub failed_from: Option<String>,
    /// The bus or the ordered queue refused an event (rather than a record being
    /// unreadable).
    pub refused: bool,
}

impl Publisher {
    pub fn new(
        client: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
        source: impl Into<String>,
        metrics: Metrics,
    ) -> Self {
        Self {
            client,
            bus: bus.into(),
            source: source.into(),
            ordered: None,
            refusal_pause: Duration::ZERO,
            metrics,
        }
    }

    /// How long a refused batch waits before it is reported (none by default;
    /// the deployed function's is `PUBLISH_REFUSAL_PAUSE_SECS`, 20 s).
    pub fn with_refusal_pause(mut self, pause: Duration) -> Self {
        self.refusal_pause = pause;
        self
    }

    /// Every event also goes to `queue`, and counts as published only once both
    /// took it.
    pub fn with_ordered_queue(mut self, queue: OrderedQueue) -> Self {
        self.ordered = Some(queue);
        self
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        let bus = crate::config::optional("EVENT_BUS_NAME")
            .ok_or(ConfigError::Missing("EVENT_BUS_NAME"))?;
        let source =
            crate::config::optional("EVENT_SOURCE").unwrap_or_else(|| DEFAULT_SOURCE.to_string());
        let pause = crate::config::parse_or(
            "PUBLISH_REFUSAL_PAUSE_SECS",
            DEFAULT_REFUSAL_PAUSE.as_secs(),
        )?;
        let config = crate::store::sdk_config().await;
        let publisher = Self::new(
            aws_sdk_eventbridge::Client::new(config),
            bus,
            source,
            Metrics::from_env(),
        )
        .with_refusal_pause(Duration::from_secs(pause));
        Ok(match crate::config::optional("ORDERED_QUEUE_URL") {
            Some(url) => publisher
                .with_ordered_queue(OrderedQueue::new(aws_sdk_sqs::Client::new(config), url)),
            None => publisher,
        })
    }

    /// The Lambda handler's work for one batch.
    pub async fn handle(&self, event: Event) -> Result<DynamoDbEventResponse, PublishError> {
        let started = Instant::now();
        let outcome = self.publish_records(&event.records).await?;
        self.emit(&outcome);
        tracing::info!(
            records = event.records.len(),
            published = outcome.published,
            skipped = outcome.skipped,
            put_requests = outcome.put_requests,
            queue_requests = outcome.queue_requests,
            failed_from = outcome.failed_from.as_deref(),
            refused = outcome.refused,
            ms = started.elapsed().as_millis() as u64,
            "stream batch"
        );
        if outcome.refused && !self.refusal_pause.is_zero() {
            tokio::time::sleep(self.refusal_pause).await;
        }
        Ok(response(outcome.failed_from))
    }

    pub fn emit(&self, outcome: &Outcome) {
        self.metrics.emit(
            &[],
            &[
                ("EventsPublished", outcome.published as f64, Unit::Count),
                ("StreamRecordsSkipped", outcome.skipped as f64, Unit::Count),
                (
                    "PutEventsRequests",
                    outcome.put_requests as f64,
                    Unit::Count,
                ),
                (
                    "PublishFailures",
                    f64::from(u8::from(outcome.failed_from.is_some() || outcome.refused)),
                    Unit::Count,
                ),
            ],
        );
    }

    pub async fn publish_records(&self, records: &[EventRecord]) -> Result<Outcome, PublishError> {
        let mut out = Outcome::default();
        // Events waiting to be sent, and the sequence numbers of their records.
        let mut seqs: Vec<String> = Vec::new();
        let mut pending: Vec<PaymentEvent> = Vec::new();
        for record in records {
            let seq = sequence_number(record)?;
            match decide(record) {
                Ok(Decision::Skip(_)) => out.skipped += 1,
                Ok(Decision::Publish(event)) => {
                    seqs.push(seq);
                    pending.push(*event);
                    if pending.len() == MAX_ENTRIES {
                        if let Some(failed) = self.flush(&mut seqs, &mut pending, &mut out).await? {
                            out.failed_from = Some(failed);
                            return Ok(out);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, sequence = seq.as_str(), "unreadable payment in the stream");
                    // What came before it still goes out, in order.
                    if let Some(failed) = self.flush(&mut seqs, &mut pending, &mut out).await? {
                        out.failed_from = Some(failed);
                        return Ok(out);
                    }
                    out.failed_from = Some(seq);
                    return Ok(out);
                }
            }
        }
        out.failed_from = self.flush(&mut seqs, &mut pending, &mut out).await?;
        Ok(out)
    }

    /// Sends what is pending; returns the sequence number of the first record not
    /// published, if any.
    async fn flush(
        &self,
        seqs: &mut Vec<String>,
        pending: &mut Vec<PaymentEvent>,
        out: &mut Outcome,
    ) -> Result<Option<String>, PublishError> {
        let events = std::mem::take(pending);
        let seqs = std::mem::take(seqs);
        let sent = self.publish(&events, out).await?;
        Ok(seqs.get(sent).cloned())
    }

    /// Publishes `events` in order, everywhere they go; returns how many of them,
    /// from the first, were taken. Nothing after the first refusal is sent.
    pub async fn publish(
        &self,
        events: &[PaymentEvent],
        out: &mut Outcome,
    ) -> Result<usize, PublishError> {
        let mut done = 0;
        for chunk in events.chunks(MAX_ENTRIES) {
            let mut taken = self.put(chunk, out).await?;
            if let Some(queue) = &self.ordered {
                let head = chunk.get(..taken).unwrap_or_default();
                taken = queue
                    .send(head, &self.source, &mut out.queue_requests)
                    .await?;
            }
            done += taken;
            out.published += taken;
            if taken < chunk.len() {
                out.refused = true;
                break;
            }
        }
        Ok(done)
    }

    /// One `PutEvents`; how many entries, from the first, the bus took.
    async fn put(&self, chunk: &[PaymentEvent], out: &mut Outcome) -> Result<usize, PublishError> {
        if chunk.is_empty() {
            return Ok(0);
        }
        let mut entries = Vec::with_capacity(chunk.len());
        for event in chunk {
            entries.push(self.entry(event)?);
        }
        out.put_requests += 1;
        let result = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await;
        let answer = match result {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&e), "PutEvents failed");
                return Ok(0);
            }
        };
        let results = answer.entries();
        for (i, event) in chunk.iter().enumerate() {
            let ok = results
                .get(i)
                .is_some_and(|r| r.event_id().is_some() && r.error_code().is_none());
            if !ok {
                let code = results
                    .get(i)
                    .and_then(|r| r.error_code())
                    .unwrap_or("no entry");
                tracing::warn!(
                    event_id = event.event_id.as_str(),
                    error = code,
                    "event not accepted by the bus"
                );
                return Ok(i);
            }
        }
        Ok(chunk.len())
    }

    fn entry(&self, event: &PaymentEvent) -> Result<PutEventsRequestEntry, PublishError> {
        let detail =
            serde_json::to_string(event).map_err(|e| PublishError::Encode(e.to_string()))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(&self.source)
            .detail_type(event.detail_type())
            .detail(detail)
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                event.payment.changed_at_ms,
            ))
            .build())
    }
}

fn sequence_number(record: &EventRecord) -> Result<String, PublishError> {
    record
        .change
        .sequence_number
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| PublishError::NoSequenceNumber(record.event_id.clone()))
}

/// The partial batch response: empty for success, else the one record to retry
/// from (Lambda checkpoints at the lowest reported sequence number).
pub fn response(failed_from: Option<String>) -> DynamoDbEventResponse {
    let mut r = DynamoDbEventResponse::default();
    if let Some(seq) = failed_from {
        let mut f = DynamoDbBatchItemFailure::default();
        f.item_identifier = Some(seq);
        r.batch_item_failures.push(f);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_response_has_the_exact_shape_lambda_reads() {
        let ok = serde_json::to_value(response(None)).unwrap();
        assert_eq!(ok, serde_json::json!({"batchItemFailures": []}));
        let failed = serde_json::to_value(response(Some("4200".into()))).unwrap();
        assert_eq!(
            failed,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "4200"}]})
        );
    }

    #[test]
    fn a_record_without_a_sequence_number_fails_the_batch_loudly() {
        let r: EventRecord = serde_json::from_value(serde_json::json!({
            "eventID": "e-1", "eventName": "INSERT", "awsRegion": "us-east-1",
            "dynamodb": {"ApproximateCreationDateTime": 1.0, "SizeBytes": 1, "SequenceNumber": ""}
        }))
        .unwrap();
        assert!(matches!(
            sequence_number(&r),
            Err(PublishError::NoSequenceNumber(id)) if id == "e-1"
        ));
    }
}
