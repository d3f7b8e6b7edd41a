//! What Lambda's event-source mapping does for a DynamoDB stream, on DynamoDB
//! Local: read every shard in order, hand the records to the real handler as the
//! Lambda event, and honour its partial batch response (retry from the first
//! record it reports, drop what came before).

use std::collections::BTreeMap;
use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
struct Shard {
    iterator: Option<String>,
    /// Read, not yet acknowledged by the handler.
    pending: Vec<EventRecord>,
    /// Failed invocations in a row for the batch at the head of `pending`.
    retries: u32,
}

#[derive(Debug)]
pub struct StreamPoller {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    shards: BTreeMap<String, Shard>,
    pub batch_size: usize,
    /// Invocations whose response reported a failure.
    pub failed_invocations: usize,
    /// `MaximumRetryAttempts`: after this many retries of a batch, its records
    /// from the first one failing are handed to the on-failure destination
    /// (`discarded`) and the shard moves on. `None` retries until they are taken.
    pub max_retries: Option<u32>,
    /// What the on-failure destination would hold, in stream order.
    pub discarded: Vec<EventRecord>,
    /// The mapping's filter criteria: records it rejects are passed over without
    /// an invocation, as Lambda does. `None` hands the function every record.
    pub filter: Option<fn(&EventRecord) -> bool>,
}

/// The template's filter: payment items' `INSERT` and `MODIFY`.
pub fn payment_changes(r: &EventRecord) -> bool {
    (r.event_name == "INSERT" || r.event_name == "MODIFY")
        && matches!(
            r.change.new_image.get("item_type"),
            Some(serde_dynamo::AttributeValue::S(t)) if t == "payment"
        )
}

impl StreamPoller {
    /// From the start of the table's stream (`TRIM_HORIZON`).
    pub async fn new(
        dynamodb: &aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
    ) -> Result<Self, Error> {
        let described = dynamodb.describe_table().table_name(table).send().await?;
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or("the table has no stream")?
            .to_string();
        Ok(Self {
            client: streams,
            stream_arn,
            shards: BTreeMap::new(),
            batch_size: 100,
            failed_invocations: 0,
            max_retries: None,
            discarded: Vec::new(),
            filter: None,
        })
    }

    async fn discover(&mut self) -> Result<(), Error> {
        let mut start = None;
        loop {
            let d = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await?;
            let Some(desc) = d.stream_description() else {
                return Ok(());
            };
            for shard in desc.shards() {
                let Some(id) = shard.shard_id() else { continue };
                if self.shards.contains_key(id) {
                    continue;
                }
                let it = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await?;
                self.shards.insert(
                    id.to_string(),
                    Shard {
                        iterator: it.shard_iterator().map(str::to_string),
                        pending: Vec::new(),
                        retries: 0,
                    },
                );
            }
            start = desc.last_evaluated_shard_id().map(str::to_string);
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// One pass over every shard: new records read, one invocation per shard with
    /// what is pending. Returns how many records were acknowledged.
    pub async fn poll_once<F, Fut>(&mut self, handler: F) -> Result<usize, Error>
    where
        F: Fn(Event) -> Fut,
        Fut: Future<Output = Result<DynamoDbEventResponse, Error>>,
    {
        self.discover().await?;
        let mut acknowledged = 0;
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            let Some(shard) = self.shards.get_mut(&id) else {
                continue;
            };
            if let Some(it) = shard.iterator.clone() {
                let page = self.client.get_records().shard_iterator(it).send().await?;
                let filter = self.filter;
                shard.pending.extend(
                    page.records()
                        .iter()
                        .map(lambda_record)
                        .filter(|r| filter.is_none_or(|f| f(r))),
                );
                shard.iterator = page.next_shard_iterator().map(str::to_string);
            }
            if shard.pending.is_empty() {
                continue;
            }
            let n = shard.pending.len().min(self.batch_size);
            let mut event = Event::default();
            event.records = shard.pending.get(..n).unwrap_or_default().to_vec();
            let response = handler(event).await;
            let done = match response {
                // A failed invocation: the whole batch again.
                Err(_) => 0,
                Ok(r) => match r.batch_item_failures.first() {
                    None => n,
                    Some(f) => {
                        let seq = f
                            .item_identifier
                            .clone()
                            .ok_or("batch item failure without an identifier")?;
                        shard
                            .pending
                            .iter()
                            .position(|r| r.change.sequence_number.as_deref() == Some(&seq))
                            .ok_or("batch item failure names no record of the batch")?
                    }
                },
            };
            shard.pending.drain(..done);
            acknowledged += done;
            if done < n {
                self.failed_invocations += 1;
                shard.retries = if done > 0 { 1 } else { shard.retries + 1 };
                if self.max_retries.is_some_and(|max| shard.retries > max) {
                    let left = (n - done).min(shard.pending.len());
                    self.discarded.extend(shard.pending.drain(..left));
                    shard.retries = 0;
                }
            } else {
                shard.retries = 0;
            }
        }
        Ok(acknowledged)
    }

    /// Records read and not yet acknowledged.
    pub fn pending(&self) -> usize {
        self.shards.values().map(|s| s.pending.len()).sum()
    }
}

fn lambda_record(r: &Record) -> EventRecord {
    let mut out = EventRecord::default();
    out.event_id = r.event_id().unwrap_or_default().to_string();
    out.event_name = r
        .event_name()
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    out.aws_region = r.aws_region().unwrap_or_default().to_string();
    out.event_source = r.event_source().map(str::to_string);
    out.event_version = r.event_version().map(str::to_string);
    if let Some(d) = r.dynamodb() {
        let mut change = StreamRecord::default();
        // ApproximateCreationDateTime is left at its default: the handler reads
        // the payment's own change time.
        if let Some(k) = d.keys() {
            change.keys = k.clone().into();
        }
        if let Some(i) = d.new_image() {
            change.new_image = i.clone().into();
        }
        if let Some(i) = d.old_image() {
            change.old_image = i.clone().into();
        }
        change.sequence_number = d.sequence_number().map(str::to_string);
        change.size_bytes = d.size_bytes().unwrap_or_default();
        out.change = change;
    }
    out
}
