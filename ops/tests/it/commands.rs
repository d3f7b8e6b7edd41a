//! Each command's effect on DynamoDB Local and moto's EventBridge and SQS, called as
//! the binary calls it, with its AWS calls recorded as `ops-<command>`'s: the
//! permissions test holds them against `docs/operator-permissions/<command>.json`.

use payments_ops::{commands, Clients, Deployment, OpsError};
use shared::ccpayment::credentials::{Accounts, Credentials};
use shared::metrics::Metrics;
use shared::store::Store;
use testkit::bus::LocalBus;
use testkit::calls::RecordAs;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::store::schema::{OPEN_PK, PK, SK};

type Item = std::collections::HashMap<String, AttributeValue>;

const APP_ID: &str = "ops-commands-app";
const SECRET: &str = "ops-commands-secret";
const RECORD: &str = "202302201213531627642695975706624";
const REFERENCE: &str = "202211154785795";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../shared/tests/fixtures/ccpayment/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn signed(body: &[u8], ts: i64) -> lambda_http::Request {
    let ts = ts.to_string();
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhooks/ccpayment")
        .header("content-type", "application/json")
        .header("Appid", APP_ID)
        .header("Timestamp", &ts)
        .header(
            "Sign",
            shared::ccpayment::signature::sign(APP_ID, SECRET, &ts, body),
        )
        .body(lambda_http::Body::from(body.to_vec()))
        .unwrap()
}

/// The clients one command gets, each recording as `ops-<command>`.
async fn as_command(command: &'static str) -> Clients {
    let c = Clients::new(shared::store::sdk_config().await);
    Clients {
        cloudformation: c.cloudformation.record_as(command),
        dynamodb: c.dynamodb.record_as(command),
        eventbridge: c.eventbridge.record_as(command),
        lambda: c.lambda.record_as(command),
        logs: c.logs.record_as(command),
        secrets: c.secrets.record_as(command),
        sns: c.sns.record_as(command),
        sqs: c.sqs.record_as(command),
        sdk: c.sdk,
    }
}

#[tokio::test]
async fn each_command_does_what_it_says_on_the_table_bus_and_queue() {
    let sdk = shared::store::sdk_config().await;
    let aws = Clients::new(sdk);
    let name = format!("ops-commands-{}", std::process::id());
    shared::store::schema::create_table(&aws.dynamodb, &name)
        .await
        .unwrap();
    let store = Store::new(aws.dynamodb.clone(), &name, 90);

    // A payment, then a conflicting body for its record: one entry on the list.
    let receiver = shared::ccpayment::CcpaymentReceiver::new(
        shared::ccpayment::CcpaymentConfig {
            accounts: Accounts::one(Credentials::new(APP_ID, SECRET)),
            freshness: shared::timestamp::Freshness {
                window_secs: 300,
                horizon_secs: 90 * 86_400,
            },
            max_body_bytes: 64 * 1024,
        },
        store.clone(),
        Metrics::memory().0,
    );
    let now = shared::clock::now_unix();
    // A suspect hour: the list shows it with its account's resend budget.
    store
        .windows("reconciler#ccpayment")
        .mark_suspect(now - 2 * 3600)
        .await
        .unwrap();
    for body in ["api-deposit", "api-deposit-conflicting"] {
        let resp = receiver.handle_at(signed(&fixture(body), now), now).await;
        assert_eq!(resp.status(), 200);
    }

    let bus = LocalBus::create(aws.eventbridge.clone(), aws.sqs.clone(), &name)
        .await
        .unwrap();
    let fifo = bus.create_fifo_queue(&name).await.unwrap();
    let d = Deployment {
        table: Some(name.clone()),
        bus: Some(name.clone()),
        queue_url: Some(fifo.clone()),
        event_ttl_days: 90,
        ..Deployment::default()
    };

    // payment and records: found, and a reference nobody has is a negative answer.
    let payment = as_command("ops-payment").await;
    commands::payment(&payment, &d, &[REFERENCE.into()], false)
        .await
        .unwrap();
    commands::payment(&payment, &d, &["ccpayment".into(), RECORD.into()], false)
        .await
        .unwrap();
    assert!(matches!(
        commands::payment(&payment, &d, &["--user".into(), "nobody".into()], false).await,
        Err(OpsError::No(_))
    ));
    assert!(matches!(
        commands::payment(&payment, &d, &["no-such-order".into()], false).await,
        Err(OpsError::No(_))
    ));
    let records = as_command("ops-records").await;
    commands::records(&records, &d, "ccpayment", RECORD)
        .await
        .unwrap();

    // replay, of one reference and of the last hours: on the bus and the ordered queue.
    let replay = as_command("ops-replay").await;
    commands::replay(&replay, &d, &["--ref".into(), REFERENCE.into()], false)
        .await
        .unwrap();
    for scope in [
        vec!["--record".to_string(), "ccpayment".into(), RECORD.into()],
        vec!["--user".to_string(), "nobody".into()],
    ] {
        commands::replay(&replay, &d, &scope, false).await.unwrap();
    }
    let since = (shared::clock::now_ms() - 2 * 3_600_000).to_string();
    commands::replay(&replay, &d, &["--since".into(), since], true)
        .await
        .unwrap();
    let events = bus.drain().await.unwrap();
    assert_eq!(
        events.len(),
        3,
        "by reference, by record, of the last hours: {events:?}"
    );
    for e in &events {
        assert_eq!(e["detail"]["merchant_ref"], REFERENCE, "{e}");
        assert_eq!(e["detail"]["redelivery"], true, "{e}");
    }
    // The FIFO queue takes the event_id as deduplication id: the second replay of
    // the same version within five minutes is dropped there, by design.
    let ordered = testkit::bus::drain_queue(&aws.sqs, &fifo).await.unwrap();
    assert_eq!(ordered.len(), 1, "{ordered:?}");
    assert_eq!(ordered[0].1["detail"]["redelivery"], true);

    // unresolved: the conflict, written as before the list existed (no queue), is
    // listed again by the scan for what predates the list.
    let listed = |store: Store| async move {
        shared::unresolved::overview(&store, shared::clock::now_ms(), 86_400, 100)
            .await
            .unwrap()
            .entries
            .len()
    };
    assert_eq!(
        listed(store.clone()).await,
        2,
        "the conflict and the window"
    );
    let conflict = only(&aws.dynamodb, &name, "conflict").await;
    aws.dynamodb
        .update_item()
        .table_name(&name)
        .key(PK, conflict[PK].clone())
        .key(SK, conflict[SK].clone())
        .update_expression("REMOVE #q")
        .expression_attribute_names("#q", OPEN_PK)
        .send()
        .await
        .unwrap();
    assert_eq!(listed(store.clone()).await, 1);
    let unresolved = as_command("ops-unresolved").await;
    commands::unresolved(&unresolved, &d, 86_400, 100, true, true)
        .await
        .unwrap();
    assert_eq!(listed(store.clone()).await, 2);

    // acknowledge takes the conflict off the list; a second finds nothing.
    let acknowledge = as_command("ops-acknowledge").await;
    commands::acknowledge(&acknowledge, &d, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(listed(store.clone()).await, 1, "the window is left");
    assert!(matches!(
        commands::acknowledge(&acknowledge, &d, "ccpayment", RECORD).await,
        Err(OpsError::No(_))
    ));

    // rehash: an event and a conflict fingerprinted the old way get new ones (the
    // conflict moves to the key its new fingerprint names).
    let event = only(&aws.dynamodb, &name, "event").await;
    aws.dynamodb
        .update_item()
        .table_name(&name)
        .key(PK, event[PK].clone())
        .key(SK, event[SK].clone())
        .update_expression("SET body_sha256 = :old")
        .expression_attribute_values(":old", AttributeValue::S("old".into()))
        .send()
        .await
        .unwrap();
    let conflict = only(&aws.dynamodb, &name, "conflict").await;
    let fingerprint = conflict["content_sha256"].as_s().unwrap().clone();
    let mut old = conflict.clone();
    let sk = conflict[SK].as_s().unwrap();
    old.insert(
        SK.into(),
        AttributeValue::S(sk.replace(&fingerprint, "0ld")),
    );
    old.insert("content_sha256".into(), AttributeValue::S("0ld".into()));
    aws.dynamodb
        .put_item()
        .table_name(&name)
        .set_item(Some(old))
        .send()
        .await
        .unwrap();
    aws.dynamodb
        .delete_item()
        .table_name(&name)
        .key(PK, conflict[PK].clone())
        .key(SK, conflict[SK].clone())
        .send()
        .await
        .unwrap();
    commands::rehash(&as_command("ops-rehash").await, &d)
        .await
        .unwrap();
    let event = only(&aws.dynamodb, &name, "event").await;
    assert_ne!(event["body_sha256"].as_s().unwrap(), "old");
    let moved = only(&aws.dynamodb, &name, "conflict").await;
    assert_eq!(moved[SK], conflict[SK], "back under its fingerprint");
    assert_eq!(moved["content_sha256"].as_s().unwrap(), &fingerprint);
}

/// The one item of `item_type` in the table.
async fn only(client: &aws_sdk_dynamodb::Client, table: &str, item_type: &str) -> Item {
    let out = client
        .scan()
        .table_name(table)
        .filter_expression("item_type = :t")
        .expression_attribute_values(":t", AttributeValue::S(item_type.into()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().len(), 1, "{item_type}: {:?}", out.items());
    out.items()[0].clone()
}
