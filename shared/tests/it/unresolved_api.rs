//! The operator's list on the HTTP API against DynamoDB Local: the pages, followed
//! by their cursors, hold exactly the entries and counts `payments-ops unresolved
//! --json` prints; acknowledge takes a record off; bad requests change nothing;
//! storage failure is a 503.

use crate::support;

use lambda_http::{Body, Request};
use serde_json::Value;
use shared::store::Store;

use support::*;

fn request(method: &str, path: &str) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .body(Body::Empty)
        .unwrap()
}

/// An hour after the first call, for every request: ages count from when we
/// received each record, and two answers compared must be read at one instant.
fn at_ms() -> i64 {
    static AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *AT.get_or_init(|| shared::clock::now_ms() + 3_600_000)
}

async fn call(store: &Store, method: &str, path: &str) -> (u16, Value) {
    let resp = unresolved_api(store, &request(method, path), at_ms()).await;
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&body_text(&resp)).unwrap())
}

/// Five records, each with a conflicting second body, and a suspect hour to ask
/// CCPayment to resend (listed with its account's budget): six entries or more.
async fn conflicts(client: &aws_sdk_dynamodb::Client, table: &str) {
    Store::new(client.clone(), table, 90)
        .windows("reconciler#ccpayment")
        .mark_suspect(shared::clock::now_unix() - 2 * 3600)
        .await
        .unwrap();
    let (rx, _) = receiver(client.clone(), table);
    for i in 0..5 {
        for amount in ["10", "11"] {
            let body = format!(
                r#"{{"pay_status":"success","order_type":"API Deposit","record_id":"api-rec-{i}","merchant_order_id":"api-order-{i}","order_amount":"10","paid_amount":"{amount}","crypto":"USDT"}}"#
            );
            let now = shared::clock::now_unix();
            let resp = rx.handle_at(signed(body.as_bytes(), now), now).await;
            assert_eq!(resp.status(), 200);
        }
    }
}

#[tokio::test]
async fn pages_hold_the_clis_entries_and_counts_and_acknowledge_takes_one_off() {
    let (client, table) = fresh_table().await;
    conflicts(&client, &table).await;
    let store = Store::new(as_function(&client, "UnresolvedApiFunction"), &table, 90);
    let cli = serde_json::to_value(
        shared::unresolved::overview(&store, at_ms(), 86_400, 10_000)
            .await
            .unwrap(),
    )
    .unwrap();
    let expected = cli["entries"].as_array().unwrap();
    assert!(expected.len() >= 6, "{cli}");
    assert!(
        expected.iter().any(|e| e["category"] == "resend_window"),
        "{cli}"
    );

    // Two at a time, oldest first, until no cursor is given.
    let mut seen: Vec<Value> = Vec::new();
    let mut path = "/unresolved?limit=2".to_string();
    loop {
        let (status, page) = call(&store, "GET", &path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["counts"], cli["counts"]);
        assert_eq!(page["stale_after_secs"], 86_400);
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 2);
        seen.extend(entries.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/unresolved?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let since: Vec<i64> = seen
        .iter()
        .map(|e| e["since_ms"].as_i64().unwrap())
        .collect();
    assert!(since.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let mut want = expected.clone();
    let mut got = seen.clone();
    let by_subject = |a: &Value, b: &Value| {
        (
            a["since_ms"].as_i64(),
            a["subject"].as_str(),
            a["category"].as_str(),
        )
            .cmp(&(
                b["since_ms"].as_i64(),
                b["subject"].as_str(),
                b["category"].as_str(),
            ))
    };
    want.sort_by(by_subject);
    got.sort_by(by_subject);
    assert_eq!(got, want, "the same entries as the command line's");

    // One page of everything; a stale limit of its own.
    let (_, all) = call(&store, "GET", "/prod/unresolved?limit=1000&stale_after=60").await;
    assert_eq!(all["entries"].as_array().unwrap().len(), expected.len());
    assert!(all.get("next_cursor").is_none());
    assert!(all["entries"][0]["overdue"].as_bool().unwrap());

    // Acknowledge: the record's conflict leaves the list, once.
    let (status, ack) = call(
        &store,
        "POST",
        "/unresolved/ccpayment/api-rec-0/acknowledge",
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    assert!(ack["acknowledged"].as_u64().unwrap() >= 1);
    let (status, again) = call(
        &store,
        "POST",
        "/unresolved/ccpayment/api-rec-0/acknowledge",
    )
    .await;
    assert_eq!(status, 404, "{again}");
    let (_, after) = call(&store, "GET", "/unresolved").await;
    assert_eq!(
        after["counts"]["conflict"]["total"].as_u64().unwrap() + 1,
        cli["counts"]["conflict"]["total"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn bad_requests_change_nothing_and_storage_failure_is_a_503() {
    let (client, table) = fresh_table().await;
    conflicts(&client, &table).await;
    let store = Store::new(as_function(&client, "UnresolvedApiFunction"), &table, 90);
    let before = all_items(&client, &table).await.len();
    for (method, path, status) in [
        ("GET", "/unresolved?limit=0", 400),
        ("GET", "/unresolved?limit=5000", 400),
        ("GET", "/unresolved?cursor=zz", 400),
        ("GET", "/unresolved?cursor=5b315d", 400),
        ("GET", "/unresolved?max=3", 400),
        ("POST", "/unresolved/paypal/api-rec-0/acknowledge", 400),
        ("POST", "/unresolved/ccpayment/%0A/acknowledge", 400),
        ("GET", "/unresolved/ccpayment/api-rec-0/acknowledge", 405),
        ("DELETE", "/unresolved", 405),
        ("POST", "/unresolved/ccpayment/api-rec-0", 404),
    ] {
        let (got, body) = call(&store, method, path).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    let (_, list) = call(&store, "GET", "/unresolved").await;
    assert_eq!(list["counts"]["conflict"]["total"], 5);
    assert_eq!(all_items(&client, &table).await.len(), before);

    let down = Store::new(dead_client().await, &table, 90);
    for (method, path) in [
        ("GET", "/unresolved"),
        ("POST", "/unresolved/ccpayment/api-rec-1/acknowledge"),
    ] {
        let (status, body) = call(&down, method, path).await;
        assert_eq!(status, 503, "{body}");
    }
}
