//! Events out, measured on the local stack: a table with its stream on DynamoDB
//! Local, the stream poller playing Lambda's event-source mapping, the real
//! publisher, moto's EventBridge with a rule delivering to an SQS queue.
//!
//! - CPU per stream record: the process's CPU clock (every thread) around each
//!   invocation of the handler, from the Lambda event's JSON text to its answer,
//!   `PutEvents` requests included; and, alone, the pure part (decide + encode).
//! - `PutEvents` per change, at load: changes stored first, then the stream read
//!   in batches of 100 as the mapping does when records wait.
//! - Delay from the notification's arrival (`changed_at_ms`, taken before the
//!   write) to the event read off the queue, with changes arriving at a steady
//!   rate and the stream polled every 250 ms, as the mapping polls a shard.

use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use shared::metrics::Metrics;
use shared::publish::{decide, Decision, Publisher};
use shared::store::{schema, Store};
use testkit::bus::LocalBus;
use testkit::stream::StreamPoller;

use crate::bodies::Kind;
use crate::rig::Rig;
use crate::stats::{percentiles, Percentiles};

/// How often the mapping reads a shard (four times a second).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
pub struct EventsReport {
    pub changes: usize,
    pub published: f64,
    pub put_requests: f64,
    pub handler_cpu_per_record: Duration,
    pub pure_cpu_per_record: Duration,
    /// The handler against a bus that answers at once.
    pub instant_bus_cpu_per_record: Duration,
    /// Of the handler's: the Lambda event's JSON parsed, alone.
    pub parse_cpu_per_record: Duration,
    /// Stream records that reached the handler (payment changes).
    pub records: usize,
    pub delayed: usize,
    pub rate_per_sec: u64,
    pub delay: Option<Percentiles>,
}

/// CPU the whole process has used: the sum over its threads.
fn process_cpu() -> Result<Duration, Error> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        let text = std::fs::read_to_string(task?.path().join("schedstat")).unwrap_or_default();
        ns += text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(Duration::from_nanos(ns))
}

/// An EventBridge endpoint that takes every entry at once.
async fn instant_bus() -> wiremock::MockServer {
    struct TakeAll;
    impl wiremock::Respond for TakeAll {
        fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
            let n = serde_json::from_slice::<serde_json::Value>(&req.body)
                .ok()
                .and_then(|v| v.get("Entries").and_then(|e| e.as_array()).map(Vec::len))
                .unwrap_or(0);
            let entries: Vec<serde_json::Value> = (0..n)
                .map(|i| serde_json::json!({ "EventId": format!("e-{i}") }))
                .collect();
            wiremock::ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-amz-json-1.1")
                .set_body_json(serde_json::json!({"FailedEntryCount": 0, "Entries": entries}))
        }
    }
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(TakeAll)
        .mount(&server)
        .await;
    server
}

async fn store_change(rig: &Rig, store: &Store, key: &str) -> Result<(), Error> {
    let now = shared::clock::now_unix();
    let kind = Kind::Alchemypay;
    let req = kind.request(kind.body(key)?, now)?;
    let d = rig
        .prepare(kind, key, &req, now)
        .map_err(|r| format!("{r:?}"))?;
    store.record(&d).await?;
    Ok(())
}

pub async fn measure(
    rig: &Rig,
    changes: usize,
    delayed: usize,
    rate_per_sec: u64,
) -> Result<EventsReport, Error> {
    let table = format!("{}-events", rig.table);
    schema::create_table_with_stream(&rig.client, &table).await?;
    let store = Store::new(rig.client.clone(), table.clone(), 90);
    let config = shared::store::sdk_config().await;
    let bus = LocalBus::create(
        aws_sdk_eventbridge::Client::new(config),
        aws_sdk_sqs::Client::new(config),
        &format!("bench-{}", shared::clock::now_ms()),
    )
    .await?;
    let (metrics, docs) = Metrics::memory();
    let publisher = Publisher::new(
        bus.eventbridge.clone(),
        &bus.bus,
        "payment-webhooks",
        metrics,
    );
    let streams = aws_sdk_dynamodbstreams::Client::new(config);
    let texts = std::sync::Mutex::new(Vec::<String>::new());

    // At load: the changes wait in the stream, read 100 at a time.
    for i in 0..changes {
        store_change(rig, &store, &format!("ev-load-{i}")).await?;
    }
    let mut poller = StreamPoller::new(&rig.client, streams, &table).await?;
    poller.batch_size = 100;
    // As the template's filter criteria: only payment changes reach the function.
    poller.filter = Some(testkit::stream::payment_changes);
    let cpu = std::sync::Mutex::new((Duration::ZERO, 0usize));
    let seen = std::sync::Mutex::new(Vec::<Event>::new());
    let mut idle = 0;
    while idle < 3 {
        let done = poller
            .poll_once(|e| {
                let (publisher, cpu, seen, texts) = (&publisher, &cpu, &seen, &texts);
                async move {
                    // What the Lambda runtime hands the function: the event's JSON.
                    let text = serde_json::to_string(&e)?;
                    if let Ok(mut t) = texts.lock() {
                        t.push(text.clone());
                    }
                    let records = e.records.len();
                    if let Ok(mut s) = seen.lock() {
                        s.push(e);
                    }
                    let before = process_cpu()?;
                    let event: Event = serde_json::from_str(&text)?;
                    let answer = publisher.handle(event).await?;
                    let used = process_cpu()?.saturating_sub(before);
                    if let Ok(mut c) = cpu.lock() {
                        c.0 += used;
                        c.1 += records;
                    }
                    Ok::<_, Error>(answer)
                }
            })
            .await?;
        idle = if done == 0 && poller.pending() == 0 {
            idle + 1
        } else {
            0
        };
    }
    let (handler_cpu, records) = cpu.lock().map(|c| *c).unwrap_or_default();
    let published = shared::metrics::total(&docs, "EventsPublished");
    let put_requests = shared::metrics::total(&docs, "PutEventsRequests");
    bus.drain().await?;

    // The same batches against a bus that answers at once (a loopback fake taking
    // every entry): the handler's own CPU, without a slow stand-in's waits.
    let instant_bus = instant_bus().await;
    let fast = Publisher::new(
        aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(config)
                .endpoint_url(instant_bus.uri())
                .build(),
        ),
        "bench",
        "payment-webhooks",
        Metrics::memory().0,
    );
    let batches: Vec<String> = texts.lock().map(|t| t.clone()).unwrap_or_default();
    let before = process_cpu()?;
    for text in &batches {
        let event: Event = serde_json::from_str(text)?;
        let answer = fast.handle(event).await?;
        if !answer.batch_item_failures.is_empty() {
            return Err("the instant bus refused".into());
        }
    }
    let instant_cpu = process_cpu()?.saturating_sub(before) / records.max(1) as u32;

    // The pure part, alone: decide and encode, on the thread's own clock.
    let events = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let c0 = crate::cpu::thread_cpu()?;
        for e in &events {
            for r in &e.records {
                if let Ok(Decision::Publish(event)) = decide(std::hint::black_box(r)) {
                    std::hint::black_box(serde_json::to_string(&event)?);
                }
            }
        }
        rounds.push(crate::cpu::thread_cpu()?.saturating_sub(c0));
    }
    rounds.sort_unstable();
    let pure = rounds.get(3).copied().unwrap_or_default() / records.max(1) as u32;
    // The Lambda event's deserialization alone.
    let texts = batches;
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let c0 = crate::cpu::thread_cpu()?;
        for t in &texts {
            std::hint::black_box(serde_json::from_str::<Event>(std::hint::black_box(t))?);
        }
        rounds.push(crate::cpu::thread_cpu()?.saturating_sub(c0));
    }
    rounds.sort_unstable();
    let parse = rounds.get(3).copied().unwrap_or_default() / records.max(1) as u32;

    // Steady arrivals, the stream polled every 250 ms, the queue read as events land.
    let delays = delay(rig, &store, &bus, &publisher, poller, delayed, rate_per_sec).await?;
    if published as usize != changes || delays.len() != delayed {
        return Err(format!(
            "events lost: {published} of {changes} published at load, {} of {delayed} arrived",
            delays.len()
        )
        .into());
    }

    Ok(EventsReport {
        changes,
        published,
        put_requests,
        handler_cpu_per_record: handler_cpu / records.max(1) as u32,
        pure_cpu_per_record: pure,
        parse_cpu_per_record: parse,
        instant_bus_cpu_per_record: instant_cpu,
        records,
        delayed: delays.len(),
        rate_per_sec,
        delay: percentiles(&delays),
    })
}

async fn delay(
    rig: &Rig,
    store: &Store,
    bus: &LocalBus,
    publisher: &Publisher,
    // Where the load run left the stream: only new changes are timed.
    mut poller: StreamPoller,
    n: usize,
    rate_per_sec: u64,
) -> Result<Vec<Duration>, Error> {
    let writing = std::sync::atomic::AtomicBool::new(true);
    let gap = Duration::from_micros(1_000_000 / rate_per_sec.max(1));
    let writer = async {
        let started = Instant::now();
        for i in 0..n {
            store_change(rig, store, &format!("ev-delay-{i}")).await?;
            let next = gap * (i as u32 + 1);
            if let Some(wait) = next.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        writing.store(false, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, Error>(())
    };
    let mapping = async {
        loop {
            poller
                .poll_once(|e| async move { Ok::<_, Error>(publisher.handle(e).await?) })
                .await?;
            if !writing.load(std::sync::atomic::Ordering::SeqCst) && poller.pending() == 0 {
                // One more read for the last records written.
                tokio::time::sleep(POLL_INTERVAL).await;
                poller
                    .poll_once(|e| async move { Ok::<_, Error>(publisher.handle(e).await?) })
                    .await?;
                return Ok::<_, Error>(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    let consumer = async {
        let mut delays = Vec::with_capacity(n);
        let deadline = Instant::now() + Duration::from_secs(60) + gap * n as u32;
        while delays.len() < n && Instant::now() < deadline {
            let r = bus
                .sqs
                .receive_message()
                .queue_url(&bus.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            let now = shared::clock::now_ms();
            for m in r.messages() {
                let v: serde_json::Value = serde_json::from_str(m.body().unwrap_or("null"))?;
                if let Some(at) = v
                    .pointer("/detail/changed_at_ms")
                    .and_then(serde_json::Value::as_i64)
                {
                    delays.push(Duration::from_millis((now - at).max(0) as u64));
                }
                if let Some(handle) = m.receipt_handle() {
                    bus.sqs
                        .delete_message()
                        .queue_url(&bus.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
        }
        Ok::<_, Error>(delays)
    };
    let (w, m, delays) = tokio::join!(writer, mapping, consumer);
    w?;
    m?;
    delays
}
