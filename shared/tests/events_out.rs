//! Events out, end to end on local stand-ins: receivers write to DynamoDB Local,
//! a poller plays Lambda's event-source mapping on its stream and runs the real
//! publisher, which puts events on an EventBridge bus of moto's server; a rule
//! sends them to an SQS queue, read with the real SDK client.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use shared::metrics::Metrics;
use shared::publish::Publisher;
use support::*;
use testkit::bus::LocalBus;
use testkit::stream::StreamPoller;

/// A bus with a rule sending every payment event to a new queue.
async fn bus(name: &str) -> LocalBus {
    let config = shared::store::sdk_config().await;
    let unique = format!("{name}-{}", shared::clock::now_ms());
    LocalBus::create(
        aws_sdk_eventbridge::Client::new(config),
        aws_sdk_sqs::Client::new(config),
        &unique,
    )
    .await
    .unwrap()
}

/// What a consumer deduping by `event_id` keeps: delivery is at least once (an
/// SDK retry of a `PutEvents` that did arrive sends it again), and every copy of
/// an event must be the same event.
async fn drain(b: &LocalBus) -> Vec<serde_json::Value> {
    let mut seen: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut out = Vec::new();
    for e in b.drain().await.unwrap() {
        let id = e["detail"]["event_id"].as_str().unwrap().to_string();
        match seen.get(&id) {
            Some(first) => assert_eq!(first["detail"], e["detail"], "copies differ"),
            None => {
                seen.insert(id, e.clone());
                out.push(e);
            }
        }
    }
    out
}

async fn poller(client: &aws_sdk_dynamodb::Client, table: &str) -> StreamPoller {
    let streams = aws_sdk_dynamodbstreams::Client::new(shared::store::sdk_config().await);
    StreamPoller::new(client, streams, table).await.unwrap()
}

/// Until the stream has nothing left for the handler.
async fn run(p: &mut StreamPoller, publisher: &Publisher) {
    for _ in 0..10 {
        p.poll_once(|e| async move {
            publisher
                .handle(e)
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .await
        .unwrap();
    }
}

fn deposit(record: &str, status: &str, paid: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture("api-deposit")).unwrap();
    v["record_id"] = record.into();
    v["pay_status"] = status.into();
    v["paid_amount"] = paid.into();
    v["order_amount"] = "0.3".into();
    v["extend"]["merchant_order_id"] = "ord-55".into();
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn every_change_is_one_event_in_order_and_a_redelivery_has_the_same_id() {
    let (client, table) = fresh_table_with_stream().await;
    let (rx, _) = receiver(client.clone(), &table);
    let b = bus("out").await;
    let (metrics, docs) = Metrics::memory();
    let publisher = Publisher::new(b.eventbridge.clone(), &b.bus, "payment-webhooks", metrics);

    for body in [
        deposit("r1", "pending", "0.1"),
        deposit("r1", "success", "0.1"),
        deposit("r1", "success", "0.1"), // a duplicate: no change, no event
        deposit("r1", "processing", "0.1"), // late: no change, no event
        deposit("r2", "success", "0.2"),
        fixture("direct-deposit"),
    ] {
        assert_eq!(rx.handle_at(signed(&body, NOW), NOW).await.status(), 200);
    }
    let mut p = poller(&client, &table).await;
    run(&mut p, &publisher).await;
    assert_eq!(p.pending(), 0);

    let events = drain(&b).await;
    let mut by_ref: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for e in &events {
        assert_eq!(e["source"], "payment-webhooks");
        let d = &e["detail"];
        let key = d["merchant_ref"]
            .as_str()
            .or(d["user_ref"].as_str())
            .unwrap()
            .to_string();
        by_ref.entry(key).or_default().push((
            d["version"].as_u64().unwrap(),
            e["detail-type"].as_str().unwrap().to_string(),
        ));
        assert!(d.get("body").is_none());
    }
    assert_eq!(
        by_ref["ord-55"],
        [
            (1, "payment.processing".to_string()),
            (2, "payment.underpaid".to_string()),
            (3, "payment.paid".to_string())
        ],
        "every version once, in order"
    );
    assert_eq!(by_ref["10192128173"], [(1, "payment.paid".to_string())]);
    assert_eq!(
        events.len(),
        4,
        "nothing for duplicates, late statuses, events or states"
    );
    let paid = events.iter().find(|e| e["detail"]["version"] == 3).unwrap();
    assert_eq!(paid["detail"]["amount_paid"], "0.3");
    assert_eq!(paid["detail"]["is_final"], true);
    assert_eq!(shared::metrics::total(&docs, "EventsPublished"), 4.0);
    assert!(
        shared::metrics::total(&docs, "PutEventsRequests") <= 2.0,
        "batched: {}",
        shared::metrics::total(&docs, "PutEventsRequests")
    );

    // The stream read again from its start (a redelivery): the same event ids.
    let first_ids: Vec<String> = events
        .iter()
        .map(|e| e["detail"]["event_id"].as_str().unwrap().to_string())
        .collect();
    let mut again = poller(&client, &table).await;
    run(&mut again, &publisher).await;
    let mut second_ids: Vec<String> = drain(&b)
        .await
        .iter()
        .map(|e| e["detail"]["event_id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = first_ids.clone();
    sorted.sort();
    second_ids.sort();
    assert_eq!(
        second_ids, sorted,
        "a consumer deduping by event_id sees nothing new"
    );
}

#[tokio::test]
async fn a_bus_that_refuses_loses_nothing_the_batch_retries_from_the_first_event_not_published() {
    let (client, table) = fresh_table_with_stream().await;
    let (rx, _) = receiver(client.clone(), &table);
    let b = bus("outage").await;
    let (metrics, docs) = Metrics::memory();
    // A bus that does not exist: every PutEvents is refused.
    let down = Publisher::new(
        b.eventbridge.clone(),
        "no-such-bus",
        "payment-webhooks",
        metrics,
    );
    for i in 0..25 {
        let body = deposit(&format!("o{i}"), "success", "0.3")
            .into_iter()
            .collect::<Vec<u8>>();
        let body = String::from_utf8(body)
            .unwrap()
            .replace("ord-55", &format!("ord-{i}"));
        assert_eq!(
            rx.handle_at(signed(body.as_bytes(), NOW), NOW)
                .await
                .status(),
            200
        );
    }
    let mut p = poller(&client, &table).await;
    run(&mut p, &down).await;
    assert!(
        p.pending() > 0,
        "nothing acknowledged while the bus refuses"
    );
    assert!(p.failed_invocations > 0);
    assert!(shared::metrics::total(&docs, "PublishFailures") >= 1.0);
    assert!(drain(&b).await.is_empty());

    // The bus is back: everything goes out, once each.
    let up = Publisher::new(
        b.eventbridge.clone(),
        &b.bus,
        "payment-webhooks",
        Metrics::memory().0,
    );
    run(&mut p, &up).await;
    assert_eq!(p.pending(), 0);
    let events = drain(&b).await;
    let mut refs: Vec<String> = events
        .iter()
        .map(|e| e["detail"]["merchant_ref"].as_str().unwrap().to_string())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 25, "every payment published");
    assert_eq!(
        events.len(),
        25,
        "and once, to a consumer deduping by event_id"
    );
}

#[tokio::test]
async fn the_ordered_queue_gets_every_event_in_one_group_per_merchant_ref_in_version_order() {
    let (client, table) = fresh_table_with_stream().await;
    let (rx, _) = receiver(client.clone(), &table);
    let b = bus("ordered").await;
    let fifo = b.create_fifo_queue(&b.bus).await.unwrap();
    let publisher = Publisher::new(
        b.eventbridge.clone(),
        &b.bus,
        "payment-webhooks",
        Metrics::memory().0,
    )
    .with_ordered_queue(shared::publish::OrderedQueue::new(b.sqs.clone(), &fifo));

    // Two orders, their notifications interleaved: 3 versions each.
    let of = |order: &str, record: &str, status: &str, paid: &str| {
        let body = String::from_utf8(deposit(record, status, paid)).unwrap();
        body.replace("ord-55", order)
    };
    for body in [
        of("ord-a", "a1", "pending", "0.1"),
        of("ord-b", "b1", "pending", "0.1"),
        of("ord-a", "a1", "success", "0.1"),
        of("ord-b", "b1", "success", "0.1"),
        of("ord-b", "b2", "success", "0.2"),
        of("ord-a", "a2", "success", "0.2"),
    ] {
        let resp = rx.handle_at(signed(body.as_bytes(), NOW), NOW).await;
        assert_eq!(resp.status(), 200);
    }
    let mut p = poller(&client, &table).await;
    run(&mut p, &publisher).await;
    assert_eq!(p.pending(), 0);

    let messages = testkit::bus::drain_queue(&b.sqs, &fifo).await.unwrap();
    let mut by_group: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for (group, m) in &messages {
        let d = &m["detail"];
        assert_eq!(m["id"], d["event_id"]);
        assert_eq!(m["source"], "payment-webhooks");
        assert_eq!(
            m["detail-type"],
            format!("payment.{}", d["lifecycle"].as_str().unwrap())
        );
        assert!(m["time"].as_str().unwrap().ends_with('Z'));
        let group = group.clone().unwrap();
        assert_eq!(
            group,
            format!("ref#{}", d["merchant_ref"].as_str().unwrap())
        );
        by_group.entry(group).or_default().push((
            d["version"].as_u64().unwrap(),
            d["lifecycle"].as_str().unwrap().into(),
        ));
    }
    let expected = |last: &str| {
        vec![
            (1, "processing".to_string()),
            (2, "underpaid".to_string()),
            (3, last.to_string()),
        ]
    };
    assert_eq!(by_group["ref#ord-a"], expected("paid"));
    assert_eq!(by_group["ref#ord-b"], expected("paid"));
    assert_eq!(
        messages.len(),
        6,
        "nothing twice: each has its deduplication id"
    );
    // The bus got the same six.
    assert_eq!(drain(&b).await.len(), 6);
}
