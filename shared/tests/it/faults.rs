//! Fault injection: DynamoDB Local is stopped in the middle of a stream of
//! deliveries and started again (same data on disk). While it is down every answer
//! is 5xx and none is a success; with provider-style retries every notification is
//! stored exactly once in the end.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout)]

use crate::support;

use std::collections::HashSet;
use std::time::Duration;

use shared::store::schema;
use support::*;

const NOTIFICATIONS: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_stopped_mid_stream_then_restarted() {
    let dir = std::env::temp_dir().join(format!("ddb-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut db = PrivateDynamo::start_on_disk(&dir).await;
    let client = client_without_retries(&db.endpoint).await;
    schema::create_table(&client, "faults").await.unwrap();
    let (rx, _) = receiver(client.clone(), "faults");
    let fake_v2 = testkit::ccpayment_v2::FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    let (rx_v2, _) =
        ccpayment_v2_receiver(client.clone(), "faults", v2_config(&fake_v2.base_url()));

    let mut pending: Vec<usize> = (0..NOTIFICATIONS).collect();
    let (mut while_down, mut successes_while_down, mut attempts) = (0, 0, 0);
    let mut stored: HashSet<usize> = HashSet::new();
    let mut round = 0;
    while !pending.is_empty() {
        round += 1;
        assert!(round < 20, "deliveries never got through");
        let mut retry = Vec::new();
        for (n, id) in pending.into_iter().enumerate() {
            if round == 1 && n == 50 {
                db.shut_down();
            }
            if round == 1 && n == 100 {
                db.restart().await;
            }
            let down = round == 1 && (50..100).contains(&n);
            // Even ids through CCPayment v1, odd ones through v2.
            let resp = if id % 2 == 0 {
                let body = format!(
                    r#"{{"pay_status":"success","order_type":"Refund","record_id":"fault-{id}","amount":"1"}}"#
                );
                rx.handle_at(signed(body.as_bytes(), NOW), NOW).await
            } else {
                let body = format!(
                    r#"{{"type":"ApiWithdrawal","msg":{{"recordId":"fault-{id}","orderId":"w-{id}","status":"Success"}}}}"#
                );
                rx_v2.handle_at(signed_v2(body.as_bytes(), NOW), NOW).await
            };
            attempts += 1;
            if down {
                while_down += 1;
                assert!(
                    resp.status().is_server_error(),
                    "answer while down: {}",
                    resp.status()
                );
                if body_text(&resp).eq_ignore_ascii_case("success") {
                    successes_while_down += 1;
                }
            }
            if resp.status() == 200 {
                stored.insert(id);
            } else {
                // The provider retries later.
                retry.push(id);
            }
        }
        pending = retry;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(successes_while_down, 0);
    assert_eq!(while_down, 50);
    let items = all_items(&client, "faults").await;
    let events = of_type(&items, "event");
    let missing: Vec<usize> = (0..NOTIFICATIONS)
        .filter(|id| {
            let provider = if id % 2 == 0 {
                "ccpayment"
            } else {
                "ccpayment-v2"
            };
            !events
                .iter()
                .any(|e| s(e, "pk") == Some(format!("{provider}#fault-{id}").as_str()))
        })
        .collect();
    println!("faults: missing after restart: {missing:?}");
    assert_eq!(
        events.len(),
        NOTIFICATIONS,
        "every notification stored exactly once"
    );
    let pks: HashSet<&str> = events.iter().map(|e| s(e, "pk").unwrap()).collect();
    assert_eq!(pks.len(), NOTIFICATIONS);
    assert_eq!(stored.len(), NOTIFICATIONS);
    println!("faults: {NOTIFICATIONS} notifications, {attempts} attempts, {while_down} answered 5xx while the database was down, {round} rounds");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
