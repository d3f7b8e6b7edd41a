//! Events out, end to end on local stand-ins: receivers write to DynamoDB Local,
//! a poller plays Lambda's event-source mapping on its stream and runs the real
//! publisher, which puts events on an EventBridge bus of moto's server; a rule
//! sends them to an SQS queue, read with the real SDK client.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use crate::support;

use std::collections::BTreeMap;

use shared::metrics::Metrics;
use shared::publish::Publisher;
use support::*;
use testkit::bus::LocalBus;
use testkit::calls::RecordAs;
use testkit::stream::StreamPoller;

/// A bus with a rule sending every payment event to a new queue.
pub(crate) async fn bus(name: &str) -> LocalBus {
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
pub(crate) async fn drain(b: &LocalBus) -> Vec<serde_json::Value> {
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

pub(crate) async fn poller(client: &aws_sdk_dynamodb::Client, table: &str) -> StreamPoller {
    let streams = aws_sdk_dynamodbstreams::Client::new(shared::store::sdk_config().await);
    StreamPoller::new(client, streams, table).await.unwrap()
}

/// Until the stream has nothing left for the handler.
pub(crate) async fn run(p: &mut StreamPoller, publisher: &Publisher) {
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

/// A publisher onto `b`'s bus and onto a new FIFO queue, and that queue's URL.
async fn ordered_publisher(b: &LocalBus) -> (Publisher, String) {
    let fifo = b.create_fifo_queue(&b.bus).await.unwrap();
    let publisher = Publisher::new(
        b.eventbridge.record_as("PublisherFunction"),
        &b.bus,
        "payment-webhooks",
        Metrics::memory().0,
    )
    .with_ordered_queue(shared::publish::OrderedQueue::new(
        b.sqs.record_as("PublisherFunction"),
        &fifo,
    ));
    (publisher, fifo)
}

/// A deposit of `record` against merchant order `order` (0.3 due).
pub(crate) fn order_deposit(order: &str, record: &str, status: &str, paid: &str) -> String {
    String::from_utf8(deposit(record, status, paid))
        .unwrap()
        .replace("ord-55", order)
}

pub(crate) fn deposit(record: &str, status: &str, paid: &str) -> Vec<u8> {
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
    let publisher = Publisher::new(
        b.eventbridge.record_as("PublisherFunction"),
        &b.bus,
        "payment-webhooks",
        metrics,
    );

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
    let pause = std::time::Duration::from_millis(300);
    let down = Publisher::new(
        b.eventbridge.clone(),
        "no-such-bus",
        "payment-webhooks",
        metrics,
    )
    .with_refusal_pause(pause);
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
    let started = std::time::Instant::now();
    run(&mut p, &down).await;
    assert!(
        started.elapsed() >= pause * 10,
        "each refused invocation waits before it reports"
    );
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
    let (publisher, fifo) = ordered_publisher(&b).await;

    // Two orders, their notifications interleaved: 3 versions each.
    for body in [
        order_deposit("ord-a", "a1", "pending", "0.1"),
        order_deposit("ord-b", "b1", "pending", "0.1"),
        order_deposit("ord-a", "a1", "success", "0.1"),
        order_deposit("ord-b", "b1", "success", "0.1"),
        order_deposit("ord-b", "b2", "success", "0.2"),
        order_deposit("ord-a", "a2", "success", "0.2"),
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

#[tokio::test]
async fn a_replay_from_the_table_sends_the_latest_view_again_as_a_redelivery_with_its_event_id() {
    use shared::lookup::Lookup;
    use shared::publish::replay::{replay, Scope};

    let (client, table) = fresh_table_with_stream().await;
    let (rx, _) = receiver(client.clone(), &table);
    let b = bus("replay").await;
    let (publisher, fifo) = ordered_publisher(&b).await;
    let post = |body: String| {
        let rx = &rx;
        async move {
            let resp = rx.handle_at(signed(body.as_bytes(), NOW), NOW).await;
            assert_eq!(resp.status(), 200);
        }
    };
    post(order_deposit("ord-a", "a1", "pending", "0.3")).await;
    post(order_deposit("ord-a", "a1", "success", "0.3")).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mid = shared::clock::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    post(order_deposit("ord-b", "b1", "pending", "0.1")).await;
    post(order_deposit("ord-c", "c1", "success", "0.3")).await;

    // What went out live.
    let mut p = poller(&client, &table).await;
    run(&mut p, &publisher).await;
    let live = drain(&b).await;
    assert_eq!(live.len(), 4);
    assert_eq!(
        testkit::bus::drain_queue(&b.sqs, &fifo)
            .await
            .unwrap()
            .len(),
        4
    );
    let live_id = |r: &str, v: u64| {
        live.iter()
            .find(|e| e["detail"]["merchant_ref"] == r && e["detail"]["version"] == v)
            .map(|e| e["detail"]["event_id"].clone())
            .unwrap()
    };

    let store = shared::store::Store::new(client.clone(), &table, 90);
    // A time range: the payments whose last change is in it, and only those.
    let range = Scope::Changed {
        from_ms: mid,
        to_ms: shared::clock::now_ms(),
    };
    let report = replay(&store, &publisher, &range).await.unwrap();
    assert_eq!(report.payments, 2);
    assert_eq!(report.outcome.put_requests, 1);
    let again = drain(&b).await;
    let mut refs: Vec<&str> = again
        .iter()
        .map(|e| e["detail"]["merchant_ref"].as_str().unwrap())
        .collect();
    refs.sort();
    assert_eq!(refs, ["ord-b", "ord-c"]);
    for e in &again {
        let d = &e["detail"];
        assert_eq!(d["redelivery"], true);
        assert_eq!(d["version"], 1);
        assert_eq!(
            d["event_id"],
            live_id(d["merchant_ref"].as_str().unwrap(), 1)
        );
    }

    // One reference: its latest view, version 2, paid.
    let one = Scope::Of(Lookup::MerchantRef("ord-a".into()));
    assert_eq!(replay(&store, &publisher, &one).await.unwrap().payments, 1);
    let a = drain(&b).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["detail-type"], "payment.paid");
    assert_eq!(a[0]["detail"]["version"], 2);
    assert_eq!(a[0]["detail"]["event_id"], live_id("ord-a", 2));
    assert_eq!(a[0]["detail"]["redelivery"], true);

    // The ordered queue took the redeliveries too: not dropped as copies of the
    // live messages, each in its order's group.
    let ordered = testkit::bus::drain_queue(&b.sqs, &fifo).await.unwrap();
    assert_eq!(ordered.len(), 3);
    for (group, m) in &ordered {
        assert_eq!(m["detail"]["redelivery"], true);
        assert_eq!(
            group.as_deref().unwrap(),
            format!("ref#{}", m["detail"]["merchant_ref"].as_str().unwrap())
        );
    }

    // Nothing under a reference: nothing sent.
    let none = Scope::Of(Lookup::MerchantRef("ord-none".into()));
    let report = replay(&store, &publisher, &none).await.unwrap();
    assert_eq!((report.payments, report.outcome.put_requests), (0, 0));
}

/// One notification of the drill: which provider, its body, and for CCPayment v2
/// what its record API says at the time.
#[derive(Clone)]
struct Notice {
    provider: &'static str,
    body: Vec<u8>,
    v2_truth: Option<(String, &'static str)>,
}

struct Receivers {
    v1: shared::ccpayment::CcpaymentReceiver,
    v2: shared::ccpayment_v2::CcpaymentV2Receiver,
    alchemy: shared::alchemypay::AlchemypayReceiver,
    citypay: shared::citypay::CitypayReceiver,
}

impl Receivers {
    fn new(
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        v2_api: &str,
        citypay_api: &str,
    ) -> Self {
        Self {
            v1: receiver(client.clone(), table).0,
            v2: ccpayment_v2_receiver(client.clone(), table, v2_config(v2_api)).0,
            alchemy: alchemy_receiver(client.clone(), table, "").0,
            citypay: citypay_receiver(client.clone(), table, citypay_api).0,
        }
    }

    async fn deliver(&self, n: &Notice, fake: &testkit::ccpayment_v2::FakeCcpaymentV2) -> u16 {
        use testkit::ccpayment_v2::{FakeRecord, RecordAnswer};
        let resp = match n.provider {
            "ccpayment" => self.v1.handle_at(signed(&n.body, NOW), NOW).await,
            "ccpayment-v2" => {
                if let Some((record, status)) = &n.v2_truth {
                    let mut truth = FakeRecord::success("5");
                    truth.status = (*status).into();
                    fake.set_record(record, RecordAnswer::Record(truth));
                }
                self.v2.handle_at(signed_v2(&n.body, NOW), NOW).await
            }
            "alchemypay" => {
                self.alchemy
                    .handle(post("alchemypay", ALCHEMY_TOKEN, &n.body, None))
                    .await
            }
            _ => {
                self.citypay
                    .handle(post("citypay", CITYPAY_TOKEN, &n.body, None))
                    .await
            }
        };
        resp.status().as_u16()
    }
}

/// The drill's payments: per provider, `per` payments of two notifications each
/// (some arriving late, after the status they precede), some sent twice. Returns,
/// per simulated hour, what arrives.
fn drill_day(per: usize) -> BTreeMap<usize, Vec<Notice>> {
    let mut day: BTreeMap<usize, Vec<Notice>> = BTreeMap::new();
    let json = |provider: &str, name: &str| -> serde_json::Value {
        serde_json::from_slice(&fixture_of(provider, name)).unwrap()
    };
    for i in 0..per {
        let h = i % 20;
        // Out of order for one in four: the final status first, the earlier one an
        // hour later; one in three is sent again three hours on.
        let late = i % 4 == 1;
        let (first, second) = if late { (h + 1, h) } else { (h, h + 2) };
        let mut add = |hour: usize, n: Notice| day.entry(hour).or_default().push(n);
        let twice = i % 3 == 0;

        let order = format!("v1-ord-{i}");
        let v1 = |status: &str| Notice {
            provider: "ccpayment",
            body: order_deposit(&order, &format!("v1-r-{i}"), status, "0.3").into_bytes(),
            v2_truth: None,
        };
        // One in five names its order only from its second notification: a
        // payment under the record's id first, moved to the order's when it does.
        let late_reference = i % 5 == 2;
        let mut pending = v1("pending");
        if late_reference {
            let mut b: serde_json::Value = serde_json::from_slice(&pending.body).unwrap();
            b["extend"]
                .as_object_mut()
                .unwrap()
                .remove("merchant_order_id");
            pending.body = serde_json::to_vec(&b).unwrap();
        }
        add(first, pending);
        add(second, v1("success"));
        if twice {
            add(second + 3, v1("success"));
        }

        let record = format!("20261202{i:024}");
        let v2 = |status: &'static str, truth: &'static str| {
            let mut b = json("ccpayment-v2", "direct-deposit");
            b["msg"]["recordId"] = record.clone().into();
            b["msg"]["status"] = status.into();
            Notice {
                provider: "ccpayment-v2",
                body: serde_json::to_vec(&b).unwrap(),
                v2_truth: Some((record.clone(), truth)),
            }
        };
        // The record API says what is true when each notification arrives: a late
        // "Processing" finds the record already settled.
        add(
            first,
            v2("Processing", if late { "Success" } else { "Processing" }),
        );
        add(second, v2("Success", "Success"));
        if twice {
            add(second + 3, v2("Success", "Success"));
        }

        let alchemy = |name: &str| {
            let mut b = json("alchemypay", name);
            b["orderNo"] = format!("alc-{i}").into();
            Notice {
                provider: "alchemypay",
                body: serde_json::to_vec(&b).unwrap(),
                v2_truth: None,
            }
        };
        add(first, alchemy("init"));
        add(second, alchemy("success"));
        if twice {
            add(second + 3, alchemy("success"));
        }

        let deposit = |name: &str| {
            let mut b = json("citypay", name);
            b["transaction_id"] = format!("tx-{i}").into();
            b["deposit_token"] = format!("customer-{}", i % 5).into();
            Notice {
                provider: "citypay",
                body: serde_json::to_vec(&b).unwrap(),
                v2_truth: None,
            }
        };
        add(first, deposit("deposit-pending"));
        add(second, deposit("deposit-confirmed"));
        if twice {
            add(second + 3, deposit("deposit-confirmed"));
        }
    }
    day
}

/// The payment an event belongs to: its `event_id` without the version.
pub(crate) fn payment_of(event_id: &str) -> &str {
    event_id.rsplit_once("-v").map_or(event_id, |(p, _)| p)
}

#[tokio::test]
async fn drill_a_day_of_every_provider_with_our_outage_and_the_bus_down_for_an_hour() {
    use std::collections::{BTreeSet, HashMap};

    let per: usize = std::env::var("EVENTS_DRILL_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let (client, table) = fresh_table_with_stream().await;
    let fake_v2 = testkit::ccpayment_v2::FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    let fake_citypay = testkit::citypay::FakeCityPay::start().await;
    let live = Receivers::new(
        &client,
        &table,
        &fake_v2.base_url(),
        &fake_citypay.base_url(),
    );
    let dead = Receivers::new(
        &dead_client().await,
        &table,
        &fake_v2.base_url(),
        &fake_citypay.base_url(),
    );
    let b = bus("drill").await;
    let (metrics, docs) = Metrics::memory();
    let publisher = Publisher::new(b.eventbridge.clone(), &b.bus, "payment-webhooks", metrics);
    let refusing = Publisher::new(
        b.eventbridge.clone(),
        "no-such-bus",
        "payment-webhooks",
        Metrics::memory().0,
    );
    let mut stream = poller(&client, &table).await;
    // The template's defaults: 1,200 retries, each after the publisher's 20 s pause.
    stream.max_retries = Some(1_200);
    let retries_per_hour = 3_600 / 20;

    let our_outage = 8..11;
    let bus_outage = 15;
    // Later, the bus down longer than the records' age bound (6 h): the mapping
    // gives up on them and the on-failure destination keeps them.
    let long_bus_outage = 20;
    let mut day = drill_day(per);
    let (mut sent, mut refused_5xx, mut ok) = (0, 0, 0);
    let mut retry_later: Vec<Notice> = Vec::new();
    let mut outage_from = 0;
    let mut lost_in_first_outage = usize::MAX;
    let last_hour = *day.keys().max().unwrap() + 1;
    for hour in 0..=last_hour {
        if hour == long_bus_outage {
            // The bus is down from the start of the hour.
            outage_from = shared::clock::now_ms();
        }
        let mut arriving = day.remove(&hour).unwrap_or_default();
        if hour == our_outage.end {
            // The providers retry what we refused, newest first.
            arriving.extend(retry_later.drain(..).rev());
        }
        for n in &arriving {
            sent += 1;
            if our_outage.contains(&hour) {
                let status = dead.deliver(n, &fake_v2).await;
                assert!(
                    status >= 500,
                    "an outage answers 5xx, never success: {status}"
                );
                refused_5xx += 1;
                retry_later.push(n.clone());
            } else {
                let status = live.deliver(n, &fake_v2).await;
                assert_eq!(status, 200, "{}", n.provider);
                ok += 1;
            }
        }
        if hour == bus_outage || hour == long_bus_outage {
            if hour == long_bus_outage {
                stream.max_retries = Some(2);
            }
            // Polls through the hour, every one refused.
            for _ in 0..retries_per_hour {
                stream
                    .poll_once(|e| async {
                        refusing
                            .handle(e)
                            .await
                            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                    })
                    .await
                    .unwrap();
            }
            if hour == bus_outage {
                lost_in_first_outage = stream.discarded.len();
                assert_eq!(lost_in_first_outage, 0, "an hour's outage loses nothing");
            }
            stream.max_retries = Some(1_200);
        } else {
            run(&mut stream, &publisher).await;
        }
    }
    assert_eq!(stream.pending(), 0, "the stream drained");
    let discarded: Vec<shared::publish::PaymentEvent> = stream
        .discarded
        .iter()
        .filter_map(|r| match shared::publish::decide(r) {
            Ok(shared::publish::Decision::Publish(e)) => Some(*e),
            _ => None,
        })
        .collect();
    assert!(
        !discarded.is_empty(),
        "the long bus outage must have cost events, or the drill proves nothing of replays"
    );
    let live_messages = b.drain().await.unwrap();

    // The operator replays everything changed since the long outage began.
    let store = shared::store::Store::new(client.clone(), &table, 90);
    let scope = shared::publish::replay::Scope::Changed {
        from_ms: outage_from,
        to_ms: shared::clock::now_ms(),
    };
    let report = shared::publish::replay::replay(&store, &publisher, &scope)
        .await
        .unwrap();
    let replayed = b.drain().await.unwrap();

    // The consumer: dedupe by event_id, keep the highest version per payment.
    let mut seen: HashMap<String, serde_json::Value> = HashMap::new();
    let mut copies = 0;
    for m in live_messages.iter().chain(&replayed) {
        let d = &m["detail"];
        let id = d["event_id"].as_str().unwrap().to_string();
        match seen.get(&id) {
            Some(first) => {
                copies += 1;
                let strip = |v: &serde_json::Value| {
                    let mut v = v.clone();
                    v.as_object_mut().unwrap().remove("redelivery");
                    v
                };
                assert_eq!(strip(first), strip(d), "a copy is the same event");
            }
            None => {
                seen.insert(id, d.clone());
            }
        }
    }
    let mut versions: HashMap<String, BTreeSet<u64>> = HashMap::new();
    for (id, d) in &seen {
        versions
            .entry(payment_of(id).to_string())
            .or_default()
            .insert(d["version"].as_u64().unwrap());
    }
    let mut lost_to_bus: HashMap<String, BTreeSet<u64>> = HashMap::new();
    for e in &discarded {
        lost_to_bus
            .entry(payment_of(&e.event_id).to_string())
            .or_default()
            .insert(e.payment.version);
    }

    // Against the table: every payment, every version.
    let table_payments = payments(&client, &table).await;
    let merged = table_payments
        .iter()
        .filter(|p| p.merged_into.is_some())
        .count();
    assert_eq!(
        table_payments.len() - merged,
        4 * per,
        "every payment stored, once per order"
    );
    assert!(
        merged > 0,
        "some late references must have moved a payment, or the drill proves nothing of moves"
    );
    let (mut complete, mut restored_by_replay, mut total_versions) = (0, 0, 0);
    for p in &table_payments {
        let id = shared::publish::event::event_id(&p.key.0, &p.key.1, p.version);
        let key = payment_of(&id).to_string();
        let got = versions.get(&key).cloned().unwrap_or_default();
        let lost = lost_to_bus.get(&key).cloned().unwrap_or_default();
        total_versions += p.version;
        // Two statuses per payment: a duplicate or a late status never made a version.
        assert!((1..=2).contains(&p.version), "{key}: version {}", p.version);
        // The latest view reached the consumer, as the table has it.
        assert_eq!(got.last(), Some(&p.version), "{key}: latest version");
        let latest = &seen[&id];
        assert_eq!(latest["lifecycle"], p.lifecycle.as_str());
        match &p.merged_into {
            // Closed under the record's id, naming the order it joined.
            Some(into) => {
                assert!(p.key.0.starts_with("id#ccpayment#v1-r-"), "{key}");
                let order = into.merchant_ref.as_deref().unwrap();
                assert_eq!(latest["merged_into"]["merchant_ref"], order);
                assert!(table_payments
                    .iter()
                    .any(|o| o.merchant_ref.as_deref() == Some(order) && o.records == p.records));
            }
            None => assert_eq!(
                latest["lifecycle"], "paid",
                "{}: every drill payment ends paid",
                p.provider
            ),
        }
        // Every version was published, or is kept by the on-failure destination.
        let all: BTreeSet<u64> = got.union(&lost).copied().collect();
        assert_eq!(all, (1..=p.version).collect(), "{key}: nothing lost");
        if got == (1..=p.version).collect() {
            complete += 1;
            if lost.contains(&p.version) {
                restored_by_replay += 1;
            }
        } else {
            assert!(
                !lost.is_empty(),
                "{key}: a gap only where the long bus outage dropped"
            );
        }
        if lost.is_empty() {
            assert_eq!(got, (1..=p.version).collect(), "{key}: every version");
        }
    }
    let known: BTreeSet<String> = table_payments
        .iter()
        .map(|p| payment_of(&shared::publish::event::event_id(&p.key.0, &p.key.1, 1)).to_string())
        .collect();
    assert!(
        versions.keys().all(|k| known.contains(k)),
        "no event for anything but a stored payment"
    );
    let gaps = table_payments.len() - complete;
    println!(
        "events drill: {sent} deliveries over 4 providers ({} payments, {merged} of them closed when their record's order became known), {refused_5xx} answered 5xx in our 3-hour outage and stored on retry, {ok} answered 200; \
         {total_versions} view versions; 1-hour bus outage: {retries_per_hour} refused retries, {lost_in_first_outage} lost; \
         {} events on the bus live, {} lost to a bus outage past the record age (kept by the on-failure destination); \
         replay since then: {} payments in {} PutEvents; consumer (dedupe by event_id): {} distinct events, {copies} copies dropped; \
         {complete} payments with every version 1..last ({restored_by_replay} of them completed by the replay), {gaps} with an intermediate version only in the on-failure destination; \
         PutEvents per event {:.3}",
        table_payments.len(),
        live_messages.len(),
        discarded.len(),
        report.payments,
        report.outcome.put_requests,
        seen.len(),
        shared::metrics::total(&docs, "PutEventsRequests")
            / shared::metrics::total(&docs, "EventsPublished").max(1.0),
    );
}
