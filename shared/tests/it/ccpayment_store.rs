//! The CCPayment receiver end to end against DynamoDB Local.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout)]

use crate::support;

use lambda_http::http::StatusCode;
use shared::metrics::total;
use shared::store::schema;
use support::*;

const RECORD: &str = "202302201213531627642695975706624";

#[tokio::test]
async fn new_notification_is_stored_with_its_state() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    let body = fixture("api-deposit");
    let resp = rx.handle_at(signed(&body, NOW), NOW).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_text(&resp), "success");
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );

    let items = all_items(&client, &table).await;
    assert_eq!(items.len(), 3, "one event, one state and one payment item");
    let event = of_type(&items, "event")[0];
    assert_eq!(s(event, "pk"), Some(format!("ccpayment#{RECORD}").as_str()));
    assert_eq!(s(event, "sk"), Some("event#success"));
    assert_eq!(s(event, "body").unwrap().as_bytes(), &body[..]);
    assert_eq!(
        s(event, "body_sha256"),
        Some(shared::hashing::sha256_hex(&body).as_str())
    );
    assert_eq!(s(event, "kind"), Some("API Deposit"));
    let amounts = event["amounts"].as_m().unwrap();
    assert_eq!(amounts["paid_amount"].as_s().unwrap(), "10");
    assert_eq!(amounts["fiat_rate"].as_s().unwrap(), "0.08");
    let refs = event["refs"].as_m().unwrap();
    assert_eq!(refs["merchant_order_id"].as_s().unwrap(), "202211154785795");
    let received_s = num(event, "received_at_ms").unwrap() / 1000;
    assert_eq!(
        num(event, schema::TTL_ATTRIBUTE),
        Some(received_s + 90 * 86_400)
    );

    let state = state_item(&client, &table, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("success"));
    assert_eq!(num(&state, "status_rank"), Some(3));
    assert_eq!(
        s(&state, "order_id"),
        Some("202302200951001627606736097771520")
    );
    assert_eq!(s(&state, "merchant_order_id"), Some("202211154785795"));
    assert_eq!(num(&state, "event_count"), Some(1));
    assert!(
        !state.contains_key(schema::OPEN_PK),
        "a final record is not open"
    );
    assert_eq!(s(&state, "lifecycle"), Some("paid"));
    assert_eq!(s(&state, "amount_paid"), Some("10"));
    assert_eq!(total(&docs, "Stored"), 1.0);

    // The merchant follows the order, per account: its payments summed exactly.
    let payment = of_type(&items, "payment")[0];
    assert_eq!(s(payment, "pk"), Some("ref#202211154785795"));
    assert_eq!(s(&state, "payment_pk"), s(payment, "pk"));
    let p = shared::store::payment::Payment::from_item(payment).unwrap();
    assert_eq!(p.version, 1);
    assert_eq!(p.merchant_ref.as_deref(), Some("202211154785795"));
    assert_eq!(p.records, [RECORD]);
    assert_eq!(p.amount_paid.unwrap().to_string(), "10");
    assert_eq!(p.amount_due.unwrap().to_string(), "25");
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Underpaid);
    assert!(
        !p.is_final,
        "10 of 25 paid: the buyer can still complete it"
    );
}

#[tokio::test]
async fn thirty_two_concurrent_identical_deliveries_store_one_event() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    let rx = std::sync::Arc::new(rx);
    let body = fixture("api-deposit");
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let rx = rx.clone();
        let req = signed(&body, NOW);
        tasks.push(tokio::spawn(async move { rx.handle_at(req, NOW).await }));
    }
    for t in tasks {
        let resp = t.await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(body_text(&resp), "success");
    }
    let items = all_items(&client, &table).await;
    assert_eq!(of_type(&items, "event").len(), 1);
    assert_eq!(of_type(&items, "conflict").len(), 0);
    let state = state_item(&client, &table, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(
        num(&state, "event_count"),
        Some(1),
        "state applied exactly once"
    );
    assert_eq!(total(&docs, "Stored"), 1.0);
    assert_eq!(total(&docs, "Duplicate"), 31.0);
}

#[tokio::test]
async fn late_pending_never_overwrites_success() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    for name in [
        "api-deposit",
        "api-deposit-pending",
        "api-deposit-processing",
    ] {
        let resp = rx.handle_at(signed(&fixture(name), NOW), NOW).await;
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
    }
    let state = state_item(&client, &table, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("success"));
    assert_eq!(num(&state, "status_rank"), Some(3));
    assert!(state.contains_key("seen_pending") && state.contains_key("seen_processing"));
    assert!(
        !state.contains_key(schema::OPEN_PK),
        "late pending must not reopen the record"
    );
    assert_eq!(num(&state, "event_count"), Some(3));
    let items = all_items(&client, &table).await;
    assert_eq!(
        of_type(&items, "event").len(),
        3,
        "every status is its own event"
    );
}

#[tokio::test]
async fn in_order_progress_opens_then_closes_the_record() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    rx.handle_at(signed(&fixture("api-deposit-pending"), NOW), NOW)
        .await;
    let state = state_item(&client, &table, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("pending"));
    assert_eq!(s(&state, schema::OPEN_PK), Some("ccpayment#API Deposit"));
    let opened = num(&state, schema::OPEN_SINCE).unwrap();

    rx.handle_at(signed(&fixture("api-deposit-processing"), NOW), NOW)
        .await;
    let state = state_item(&client, &table, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("processing"));
    assert_eq!(
        num(&state, schema::OPEN_SINCE),
        Some(opened),
        "open since the first sighting"
    );

    let open = client
        .query()
        .table_name(&table)
        .index_name(schema::OPEN_INDEX)
        .key_condition_expression("open_pk = :q")
        .expression_attribute_values(
            ":q",
            aws_sdk_dynamodb::types::AttributeValue::S("ccpayment#API Deposit".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(open.count(), 1, "the reconciler finds the open record");

    rx.handle_at(signed(&fixture("api-deposit"), NOW), NOW)
        .await;
    let state = state_item(&client, &table, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("success"));
    assert!(!state.contains_key(schema::OPEN_PK));
}

#[tokio::test]
async fn same_key_different_body_is_a_conflict_and_overwrites_nothing() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    let original = fixture("api-deposit");
    let changed = fixture("api-deposit-conflicting");
    assert_eq!(
        rx.handle_at(signed(&original, NOW), NOW).await.status(),
        StatusCode::OK
    );
    for _ in 0..2 {
        let resp = rx.handle_at(signed(&changed, NOW), NOW).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "the conflicting body is kept, so it is acknowledged"
        );
    }
    let items = all_items(&client, &table).await;
    let events = of_type(&items, "event");
    assert_eq!(events.len(), 1);
    assert_eq!(
        s(events[0], "body").unwrap().as_bytes(),
        &original[..],
        "original untouched"
    );
    let conflicts = of_type(&items, "conflict");
    assert_eq!(conflicts.len(), 1, "a repeated conflict is recorded once");
    assert_eq!(s(conflicts[0], "body").unwrap().as_bytes(), &changed[..]);
    let state = state_item(&client, &table, "ccpayment", RECORD)
        .await
        .unwrap();
    assert_eq!(num(&state, "event_count"), Some(1));
    assert_eq!(total(&docs, "Conflict"), 2.0);
}

#[tokio::test]
async fn whitespace_only_difference_is_a_duplicate_not_a_conflict() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    rx.handle_at(signed(&fixture("api-deposit"), NOW), NOW)
        .await;
    let resp = rx
        .handle_at(signed(&fixture("api-deposit-pretty"), NOW), NOW)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let items = all_items(&client, &table).await;
    assert_eq!(of_type(&items, "event").len(), 1);
    assert_eq!(of_type(&items, "conflict").len(), 0);
    assert_eq!(total(&docs, "Duplicate"), 1.0);
}

#[tokio::test]
async fn two_different_final_statuses_keep_the_first_and_flag_the_clash() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    let success = fixture("api-withdrawal");
    let failed = String::from_utf8(success.clone())
        .unwrap()
        .replace("\"pay_status\":\"success\"", "\"pay_status\":\"failed\"");
    rx.handle_at(signed(&success, NOW), NOW).await;
    let resp = rx.handle_at(signed(failed.as_bytes(), NOW), NOW).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let state = state_item(
        &client,
        &table,
        "ccpayment",
        "202307310832281685931420447666176",
    )
    .await
    .unwrap();
    assert_eq!(s(&state, "status"), Some("success"));
    let flags = state["flags"].as_ss().unwrap();
    assert!(flags.contains(&"terminal_clash".to_string()));
}

#[tokio::test]
async fn unknown_status_and_type_are_stored_and_flagged() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    let body = br#"{"pay_status":"refunded_partially","order_type":"Swap","record_id":"r-unknown-1","paid_amount":"1"}"#;
    assert_eq!(
        rx.handle_at(signed(body, NOW), NOW).await.status(),
        StatusCode::OK
    );
    let items = all_items(&client, &table).await;
    let event = of_type(&items, "event")[0];
    let flags = event["flags"]
        .as_l()
        .unwrap()
        .iter()
        .map(|v| v.as_s().unwrap().clone())
        .collect::<Vec<_>>();
    assert!(
        flags.contains(&"unknown_pay_status".to_string()),
        "{flags:?}"
    );
    assert!(
        flags.contains(&"unknown_order_type".to_string()),
        "{flags:?}"
    );
    let state = state_item(&client, &table, "ccpayment", "r-unknown-1")
        .await
        .unwrap();
    assert!(
        !state.contains_key("status"),
        "an unknown status does not set the state"
    );
    assert!(state.contains_key("seen_refunded_partially"));
    assert_eq!(total(&docs, "Flagged"), 1.0);
}

#[tokio::test]
async fn rejected_deliveries_store_nothing() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    let body = fixture("api-deposit");

    let mut bad_sig = signed(&body, NOW);
    bad_sig
        .headers_mut()
        .insert("sign", "0".repeat(64).parse().unwrap());
    let mut no_sign = signed(&body, NOW);
    no_sign.headers_mut().remove("sign");
    let mut repeated = signed(&body, NOW);
    let sig = repeated.headers()["sign"].clone();
    repeated.headers_mut().append("sign", sig);
    let mut wrong_app = signed(&body, NOW);
    wrong_app
        .headers_mut()
        .insert("appid", "other".parse().unwrap());
    let expired = signed(&body, NOW - HORIZON - 1);
    let ahead = signed(&body, NOW + HORIZON + 1);
    // Malformed and not signed: refused for the signature before anything is read.
    let mut garbage = signed(b"not json", NOW);
    garbage
        .headers_mut()
        .insert("sign", "0".repeat(64).parse().unwrap());
    let huge = signed(&vec![b' '; 64 * 1024 + 1], NOW);
    let mut get = signed(&body, NOW);
    *get.method_mut() = lambda_http::http::Method::GET;

    let cases = [
        (bad_sig, 401, "Sign does not match"),
        (no_sign, 401, "header `sign` is missing"),
        (repeated, 401, "header `sign` is repeated"),
        (wrong_app, 401, "Appid does not match"),
        (expired, 401, "older than the dedupe horizon"),
        (ahead, 401, "further in the future than the dedupe horizon"),
        (garbage, 401, "Sign does not match"),
        (huge, 413, "larger than 65536 bytes"),
        (get, 405, "use POST"),
    ];
    for (req, status, reason) in cases {
        let resp = rx.handle_at(req, NOW).await;
        assert_eq!(resp.status().as_u16(), status, "{reason}");
        let text = body_text(&resp);
        assert!(text.contains(reason), "{text:?} should say {reason:?}");
    }
    let items = all_items(&client, &table).await;
    for kind in ["event", "state", "conflict"] {
        assert!(of_type(&items, kind).is_empty(), "no {kind} item stored");
    }
    // The only trace: the hour of the authentic-looking refusals (bad signature,
    // timestamp beyond the horizon) is marked for the reconciler to ask CCPayment
    // about, as unverified (anyone knowing the App ID can send one), once.
    let windows = of_type(&items, "resend_window");
    assert_eq!(items.len(), 1);
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["unverified"].as_bool().unwrap(), &true);
    assert!(!windows[0].contains_key("suspect"));
    assert_eq!(num(windows[0], "start"), Some(NOW - NOW % 3600));
    assert_eq!(total(&docs, "Rejected"), 9.0);
}

#[tokio::test]
async fn authentic_but_unusable_bodies_are_kept_in_quarantine_never_applied() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    let deposit = String::from_utf8(fixture("api-deposit")).unwrap();
    let shaped = [
        deposit.replace(r#""fiat_rate":"0.08""#, r#""fiat_rate":"-""#),
        deposit.replace(
            r#""crypto":"DOGE""#,
            r#""crypto":"DOGE","merchant_pays_fee":1"#,
        ),
        deposit.replace("202302201213531627642695975706624", &"7".repeat(300)),
    ];
    let bodies: Vec<&[u8]> = vec![
        b"not json",
        br#"{"pay_status":"success","order_type":"Invoice"}"#,
        b"{\"record_id\":\"\xff\",\"pay_status\":\"success\"}",
        br#"{"record_id":"r-1","record_id":"r-2","pay_status":"success","order_type":"Invoice"}"#,
        shaped[0].as_bytes(),
        shaped[1].as_bytes(),
        shaped[2].as_bytes(),
    ];
    // Each twice: the provider's retry sends the same bytes.
    for body in bodies.iter().chain(bodies.iter()) {
        let resp = rx.handle_at(signed(body, NOW), NOW).await;
        assert_eq!(resp.status(), 200, "{}", String::from_utf8_lossy(body));
        assert_eq!(body_text(&resp), "success");
    }
    let items = all_items(&client, &table).await;
    for kind in ["event", "state", "conflict", "payment"] {
        assert!(
            of_type(&items, kind).is_empty(),
            "no {kind} item: nothing applied"
        );
    }
    let kept = of_type(&items, "quarantine");
    assert_eq!(kept.len(), 7, "one item per body, retries included");
    assert_eq!(total(&docs, "Quarantined"), 14.0);
    assert_eq!(total(&docs, "Rejected"), 0.0);
    assert!(kept
        .iter()
        .any(|q| s(q, "body").is_some_and(|b| b.starts_with("hex:"))
            && s(q, "reason_code") == Some("not_utf8")));
    assert!(kept.iter().any(|q| s(q, "body") == Some("not json")));

    let store = shared::store::Store::new(client.clone(), &table, 90);
    let now_ms = shared::clock::now_ms();
    let o = shared::unresolved::overview(&store, now_ms, 86_400, 100)
        .await
        .unwrap();
    let listed: Vec<_> = o
        .entries
        .iter()
        .filter(|e| e.category == shared::unresolved::Category::Quarantined)
        .collect();
    assert_eq!(listed.len(), 7);
    assert!(listed.iter().all(|e| e
        .action
        .contains("payments-ops acknowledge ccpayment quarantine:")));
    assert!(listed
        .iter()
        .any(|e| e.detail.as_deref().is_some_and(|d| d.contains("record_id"))));
    for e in &listed {
        assert_eq!(
            store
                .acknowledge("ccpayment", &e.subject, now_ms)
                .await
                .unwrap(),
            1
        );
    }
    let o = shared::unresolved::overview(&store, now_ms, 86_400, 100)
        .await
        .unwrap();
    assert_eq!(o.counts["quarantined"].total, 0);
}

const HORIZON: i64 = 90 * 86_400;

/// Retries and resends may carry the timestamp of the first attempt: an authentic
/// notification outside the freshness window is stored, flagged and counted.
#[tokio::test]
async fn authentic_but_stale_is_stored_flagged_and_counted() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    let body = fixture("api-deposit");
    // Signed at NOW, delivered `age` seconds later (negative: from the future).
    let cases = [
        (0, 200, false),
        (300, 200, false),
        (-300, 200, false),
        (301, 200, true),
        (-301, 200, true),
        (HORIZON, 200, true),
        (-HORIZON, 200, true),
        (HORIZON + 1, 401, false),
        (-HORIZON - 1, 401, false),
    ];
    for (age, status, stale) in cases {
        let (client, table) = fresh_table().await;
        let (rx, docs) = receiver(client.clone(), &table);
        let resp = rx.handle_at(signed(&body, NOW), NOW + age).await;
        assert_eq!(resp.status().as_u16(), status, "age {age}");
        let events = all_items(&client, &table).await;
        let events = of_type(&events, "event");
        assert_eq!(events.len(), usize::from(status == 200), "age {age}");
        if let Some(event) = events.first() {
            let flagged = event
                .get("flags")
                .and_then(|f| f.as_l().ok())
                .is_some_and(|l| {
                    l.iter()
                        .any(|f| f.as_s().is_ok_and(|f| f == "stale_timestamp"))
                });
            assert_eq!(flagged, stale, "age {age}");
            assert_eq!(body_text(&resp), "success");
        }
        let counted = docs
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d["Flag"] == "stale_timestamp")
            .count();
        assert_eq!(counted, usize::from(stale), "age {age}");
    }

    // A stale replay of a notification already stored is a plain duplicate.
    assert_eq!(rx.handle_at(signed(&body, NOW), NOW).await.status(), 200);
    let replay = rx.handle_at(signed(&body, NOW), NOW + 7200).await;
    assert_eq!(replay.status(), 200);
    let items = all_items(&client, &table).await;
    assert_eq!(of_type(&items, "event").len(), 1);
    assert!(of_type(&items, "conflict").is_empty());
    assert_eq!(total(&docs, "Duplicate"), 1.0);
    assert!(
        of_type(&items, "resend_window").is_empty(),
        "a stored delivery is no evidence of loss"
    );
}

/// An API deposit of `record` against merchant order `order`, in `coin`.
fn deposit(record: &str, order: &str, status: &str, paid: &str, coin: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture("api-deposit")).unwrap();
    v["record_id"] = record.into();
    v["pay_status"] = status.into();
    v["paid_amount"] = paid.into();
    v["order_amount"] = "0.3".into();
    v["crypto"] = coin.into();
    v["extend"]["merchant_order_id"] = order.into();
    serde_json::to_vec(&v).unwrap()
}

async fn payment_of(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    merchant_ref: &str,
) -> shared::store::payment::Payment {
    let all = payments(client, table).await;
    let mine: Vec<_> = all
        .into_iter()
        .filter(|p| p.merchant_ref.as_deref() == Some(merchant_ref))
        .collect();
    assert_eq!(mine.len(), 1, "one payment for {merchant_ref}");
    mine.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_merchant_order_paid_in_parts_adds_up_exactly_and_each_change_is_one_version() {
    use shared::lifecycle::Lifecycle;
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    let send = |body: Vec<u8>| {
        let rx = &rx;
        async move {
            let resp = rx.handle_at(signed(&body, NOW), NOW).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
    };
    send(deposit("r1", "ord-7", "pending", "0.1", "DOGE")).await;
    let p = payment_of(&client, &table, "ord-7").await;
    assert_eq!((p.version, p.lifecycle), (1, Lifecycle::Processing));

    send(deposit("r1", "ord-7", "success", "0.1", "DOGE")).await;
    let p = payment_of(&client, &table, "ord-7").await;
    assert_eq!((p.version, p.lifecycle), (2, Lifecycle::Underpaid));
    assert_eq!(p.amount_paid.unwrap().to_string(), "0.1");

    // 0.1 + 0.2 is 0.3 exactly: the order is paid, and final.
    send(deposit("r2", "ord-7", "success", "0.2", "DOGE")).await;
    let p = payment_of(&client, &table, "ord-7").await;
    assert_eq!((p.version, p.lifecycle), (3, Lifecycle::Paid));
    assert_eq!(p.amount_paid.unwrap().to_string(), "0.3");
    assert_eq!(p.amount_due.unwrap().to_string(), "0.3");
    assert!(p.is_final);
    assert_eq!(p.records, ["r1", "r2"]);
    assert_eq!(p.record_id, "r2");

    // A duplicate, a late status of a known record: nothing the merchant sees.
    send(deposit("r2", "ord-7", "success", "0.2", "DOGE")).await;
    send(deposit("r1", "ord-7", "processing", "0.1", "DOGE")).await;
    let same = payment_of(&client, &table, "ord-7").await;
    assert_eq!(same, p, "no version for duplicates or late statuses");

    // A payment in another coin is counted, flagged, never summed with DOGE.
    send(deposit("r3", "ord-7", "success", "5", "USDT")).await;
    let p = payment_of(&client, &table, "ord-7").await;
    assert_eq!(p.version, 4);
    assert_eq!(p.amount_paid.unwrap().to_string(), "0.3");
    assert!(
        p.flags.contains(&"mixed_currency".to_string()),
        "{:?}",
        p.flags
    );
    assert_eq!(p.records.len(), 3);
    let state = state_item(&client, &table, "ccpayment", "r3")
        .await
        .unwrap();
    assert_eq!(
        s(&state, "lifecycle"),
        Some("paid"),
        "the record itself is paid"
    );
}

#[tokio::test]
async fn payments_of_one_order_at_once_sum_exactly() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    let rx = std::sync::Arc::new(rx);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let body = deposit(&format!("c{i}"), "ord-9", "success", "0.0375", "DOGE");
            // What the provider does with a 503: send again.
            for _ in 0..20 {
                let resp = rx.handle_at(signed(&body, NOW), NOW).await;
                if resp.status() == StatusCode::OK {
                    return;
                }
            }
            panic!("never stored");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let p = payment_of(&client, &table, "ord-9").await;
    assert_eq!(p.amount_paid.unwrap().to_string(), "0.3");
    assert_eq!(
        p.version, 8,
        "one version per payment, none lost, none doubled"
    );
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid);
}

#[tokio::test]
async fn a_record_that_is_its_own_payment_changes_version_only_with_its_view() {
    use shared::lifecycle::{Direction, Lifecycle};
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    let success = fixture("api-withdrawal");
    let with = |status: &str| {
        String::from_utf8(success.clone())
            .unwrap()
            .replace(
                "\"pay_status\":\"success\"",
                &format!("\"pay_status\":\"{status}\""),
            )
            .into_bytes()
    };
    let mut versions = Vec::new();
    for body in [
        with("pending"),
        success.clone(),
        success.clone(),
        with("pending"),
        with("processing"),
        with("failed"),
        with("failed"),
    ] {
        let resp = rx.handle_at(signed(&body, NOW), NOW).await;
        assert_eq!(resp.status(), StatusCode::OK);
        versions.push(payment_of(&client, &table, "1690792347702").await.version);
    }
    assert_eq!(versions, [1, 2, 2, 2, 2, 3, 3]);
    let p = payment_of(&client, &table, "1690792347702").await;
    assert_eq!(p.direction, Direction::Outgoing);
    assert_eq!(p.lifecycle, Lifecycle::Paid, "the first final status stays");
    assert_eq!(p.flags, ["terminal_clash"]);
    assert_eq!(p.amount_paid.unwrap().to_string(), "0.05");
    assert_eq!(p.currency.as_deref(), Some("USDC"));
    assert_eq!(p.records, ["202307310832281685931420447666176"]);
}

#[tokio::test]
async fn a_direct_deposit_is_found_by_the_users_reference() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    let resp = rx
        .handle_at(signed(&fixture("direct-deposit"), NOW), NOW)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let all = payments(&client, &table).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].key.0, "user#10192128173");
    assert_eq!(all[0].merchant_ref, None);
    assert_eq!(all[0].lifecycle, shared::lifecycle::Lifecycle::Paid);
    assert_eq!(all[0].amount_paid.unwrap().to_string(), "666");
}

#[tokio::test]
async fn the_lookup_finds_an_order_a_user_and_a_record_and_refuses_what_it_cannot() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    for body in [
        deposit("p1", "shop/42", "success", "0.1", "DOGE"),
        deposit("p2", "shop/42", "processing", "0.2", "DOGE"),
        fixture("direct-deposit"),
    ] {
        assert_eq!(rx.handle_at(signed(&body, NOW), NOW).await.status(), 200);
    }
    let store = shared::store::Store::new(as_function(&client, "PaymentsApiFunction"), &table, 90);
    let json = |resp: lambda_http::Response<lambda_http::Body>| {
        serde_json::from_str::<serde_json::Value>(&body_text(&resp)).unwrap()
    };

    // A reference with a slash, percent-encoded.
    let resp = lookup(&store, &get("/payments/shop%2F42")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v = json(resp);
    let p = &v["payments"][0];
    assert_eq!(p["merchant_ref"], "shop/42");
    assert_eq!(p["lifecycle"], "underpaid");
    assert_eq!(p["records"], serde_json::json!(["p1", "p2"]));
    assert_eq!(p["history"].as_array().unwrap().len(), 2);
    assert_eq!(p["history"][1]["status"], "processing");

    let resp = lookup(&store, &get("/users/10192128173/payments")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json(resp)["payments"][0]["amount_paid"], "666");

    let resp = lookup(&store, &get("/payments/ccpayment/p2")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json(resp)["payments"][0]["merchant_ref"], "shop/42");

    for (path, status) in [
        ("/payments/nobody", 404),
        ("/payments/ccpayment/nothing", 404),
        ("/users/nobody/payments", 404),
        ("/payments/paypal/1", 400),
        ("/payments/%FF", 400),
        ("/payments/a%00b", 400),
        ("/elsewhere", 404),
    ] {
        let resp = lookup(&store, &get(path)).await;
        assert_eq!(resp.status(), status, "{path}");
        assert!(json(resp)["error"].is_string(), "{path}");
    }
    let post = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/payments/shop%2F42")
        .body(lambda_http::Body::Empty)
        .unwrap();
    assert_eq!(lookup(&store, &post).await.status(), 405);

    // The table unreachable: a 5xx, never "not found".
    let dead = shared::store::Store::new(dead_client().await, &table, 90);
    let resp = lookup(&dead, &get("/payments/shop%2F42")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn thousands_of_dust_payments_to_one_order_are_all_stored_and_summed() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = receiver(client.clone(), &table);
    // 2,000 (twenty times the listed records) on every run; DUST_PAYMENTS=10000 is
    // the full-scale run (about three minutes on DynamoDB Local).
    let n: u32 = std::env::var("DUST_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let share = rust_decimal::Decimal::ONE / rust_decimal::Decimal::from(n);
    assert_eq!(
        share * rust_decimal::Decimal::from(n),
        rust_decimal::Decimal::ONE,
        "DUST_PAYMENTS must split 1 exactly (2^a 5^b)"
    );
    for i in 0..n {
        let body = format!(
            r#"{{"pay_status":"success","order_type":"API Deposit","record_id":"dust-{i:05}","merchant_order_id":"dusty","order_amount":"1","paid_amount":"{share}","crypto":"USDT"}}"#
        );
        let resp = rx.handle_at(signed(body.as_bytes(), NOW), NOW).await;
        assert_eq!(resp.status(), 200, "payment {i}: {}", body_text(&resp));
    }
    assert_eq!(total(&docs, "Stored"), f64::from(n));
    let items = all_items(&client, &table).await;
    assert_eq!(
        of_type(&items, "event").len(),
        n as usize,
        "every one stored"
    );
    let payment = of_type(&items, "payment");
    assert_eq!(payment.len(), 1, "one payment for the order");
    let item = payment[0];
    assert_eq!(num(item, "paid_count"), Some(i64::from(n)));
    assert_eq!(num(item, "records_unlisted"), Some(i64::from(n) - 100));
    let p = shared::store::payment::Payment::from_item(item).unwrap();
    assert_eq!(p.amount_paid.unwrap().to_string(), "1", "summed exactly");
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid);
    assert_eq!(p.records.len(), shared::store::payment::MAX_LISTED_RECORDS);
    // The item and the event stay small: far under DynamoDB's 400 KB and
    // EventBridge's 256 KB.
    let item_bytes: usize = items_as_text(std::slice::from_ref(item))[0].len();
    assert!(item_bytes < 16 * 1024, "payment item {item_bytes} bytes");
    let event = shared::publish::event::PaymentEvent::of(p, false);
    let event_bytes = serde_json::to_vec(&event).unwrap().len();
    assert!(event_bytes < 16 * 1024, "event {event_bytes} bytes");
    println!("10,000 dust payments: payment item {item_bytes} B, event {event_bytes} B");
}
