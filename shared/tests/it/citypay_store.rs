//! The CityPay receiver against DynamoDB Local and a loopback fake of CityPay's
//! order API: a callback is a claim, the order API is the proof.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

use lambda_http::http::StatusCode;
use shared::citypay::{deposit_record_key, order_record_key};
use shared::metrics::total;
use shared::store::schema;
use support::*;
use testkit::citypay::{Answer, FakeCityPay};

fn callback(token: &str, action: &str, status: &str, tx: Option<&str>) -> Vec<u8> {
    let tx = tx.map_or("null".to_string(), |t| format!("\"{t}\""));
    format!(
        r#"{{"type":"order callback","action":"{action}","status":"{status}","order_id":2876,"client_order_id":"shop-1","transaction_id":{tx},"received_amount_in_coins":0.00196864,"received_amount_in_fiat":"100.00","fiat_currency":"USD","crypto_currency":"btc","created_at":"2026-01-01 09:15","order_token":"{token}","order_expiration":60,"exchange_rate":50795.91}}"#
    )
    .into_bytes()
}

async fn setup() -> (
    aws_sdk_dynamodb::Client,
    String,
    FakeCityPay,
    shared::citypay::CitypayReceiver,
    Docs,
) {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    let (rx, docs) = citypay_receiver(client.clone(), &table, &fake.base_url());
    (client, table, fake, rx, docs)
}

async fn open_orders(client: &aws_sdk_dynamodb::Client, table: &str) -> i32 {
    client
        .query()
        .table_name(table)
        .index_name(schema::OPEN_INDEX)
        .key_condition_expression("open_pk = :q")
        .expression_attribute_values(
            ":q",
            aws_sdk_dynamodb::types::AttributeValue::S("citypay#order".into()),
        )
        .send()
        .await
        .unwrap()
        .count()
}

#[tokio::test]
async fn confirmed_by_the_order_api_marks_the_order_paid() {
    let (client, table, fake, rx, _) = setup().await;
    fake.set_status("tok-a", "CONFIRMED");
    let resp = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback("tok-a", "confirmation", "CONFIRMED", Some("957")),
            None,
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_text(&resp), "ok");
    assert_eq!(fake.lookups("tok-a").await, 1, "the order API was asked");
    let st = state_item(&client, &table, "citypay", &order_record_key("tok-a"))
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), Some("CONFIRMED"));
    assert!(!st.contains_key(schema::OPEN_PK));
    assert_eq!(s(&st, "client_order_id"), Some("shop-1"));
    assert_eq!(s(&st, "expires_at_ms"), Some("4102444800000"));
    let items = all_items(&client, &table).await;
    let ev = of_type(&items, "event")[0];
    assert_eq!(s(ev, "sk"), Some("event#confirmation#CONFIRMED#957"));
    assert_eq!(
        ev["details"].as_m().unwrap()["paid"].as_s().unwrap(),
        "true"
    );
    let p = payment_of_record(&client, &table, "citypay", &order_record_key("tok-a")).await;
    assert_eq!(p.key.0, "ref#shop-1");
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid);
    assert_eq!(p.provider_status, "CONFIRMED");
    assert_eq!(p.amount_paid.unwrap().to_string(), "100");
    assert_eq!(p.amount_due.unwrap().to_string(), "100");
    assert_eq!(p.version, 1);
}

#[tokio::test]
async fn a_forged_confirmed_claim_does_not_mark_an_unpaid_order_paid() {
    let (client, table, fake, rx, docs) = setup().await;
    fake.set_status("tok-b", "IN_PROGRESS");
    let resp = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback("tok-b", "confirmation", "CONFIRMED", Some("1")),
            None,
        ))
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "the claim is stored as evidence"
    );
    let st = state_item(&client, &table, "citypay", &order_record_key("tok-b"))
        .await
        .unwrap();
    assert_eq!(
        s(&st, "status"),
        Some("IN_PROGRESS"),
        "state follows the order API"
    );
    assert_eq!(
        s(&st, schema::OPEN_PK),
        Some("citypay#order"),
        "still open for the reconciler"
    );
    let items = all_items(&client, &table).await;
    let ev = of_type(&items, "event")[0];
    assert!(flags(ev).contains(&"status_contradicted".to_string()));
    assert!(!ev["details"].as_m().unwrap().contains_key("paid"));
    assert_eq!(
        ev["details"].as_m().unwrap()["confirmed_status"]
            .as_s()
            .unwrap(),
        "IN_PROGRESS"
    );
    assert_eq!(total(&docs, "Flagged"), 1.0);
}

#[tokio::test]
async fn slow_failing_or_unknown_order_api_stores_the_callback_unconfirmed() {
    let (client, table, fake, rx, docs) = setup().await;
    fake.set(
        "tok-slow",
        Answer::Slow(std::time::Duration::from_secs(3), "CONFIRMED".into()),
    );
    fake.set("tok-fail", Answer::HttpError(500));
    fake.set("tok-gone", Answer::HttpError(404));
    for (token, error) in [
        ("tok-slow", "timeout"),
        ("tok-fail", "http_error"),
        ("tok-gone", "not_found"),
    ] {
        let resp = rx
            .handle(post(
                "citypay",
                CITYPAY_TOKEN,
                &callback(token, "confirmation", "CONFIRMED", Some("9")),
                None,
            ))
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{token}: stored, so acknowledged"
        );
        let st = state_item(&client, &table, "citypay", &order_record_key(token))
            .await
            .unwrap();
        assert!(
            !st.contains_key("status"),
            "{token}: an unconfirmed claim sets no status"
        );
        assert_eq!(
            s(&st, schema::OPEN_PK),
            Some("citypay#order"),
            "{token}: queued for the reconciler"
        );
        let items = all_items(&client, &table).await;
        let ev = of_type(&items, "event")
            .into_iter()
            .find(|e| s(e, "record_key") == Some(order_record_key(token).as_str()))
            .unwrap()
            .clone();
        assert!(flags(&ev).contains(&"unconfirmed".to_string()), "{token}");
        assert_eq!(
            ev["details"].as_m().unwrap()["confirm_error"]
                .as_s()
                .unwrap(),
            error
        );
    }
    assert_eq!(open_orders(&client, &table).await, 3);
    assert_eq!(total(&docs, "Stored"), 3.0);
}

#[tokio::test]
async fn a_repeated_callback_still_applies_the_newer_confirmed_status() {
    let (client, table, fake, rx, docs) = setup().await;
    let body = callback("tok-c", "receive_transaction", "IN_PROGRESS", Some("957"));
    fake.set_status("tok-c", "PAID_UNCONFIRMED");
    rx.handle(post("citypay", CITYPAY_TOKEN, &body, None)).await;
    let st = state_item(&client, &table, "citypay", &order_record_key("tok-c"))
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), Some("PAID_UNCONFIRMED"));

    fake.set_status("tok-c", "CONFIRMED");
    let resp = rx.handle(post("citypay", CITYPAY_TOKEN, &body, None)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(total(&docs, "Duplicate"), 1.0);
    let st = state_item(&client, &table, "citypay", &order_record_key("tok-c"))
        .await
        .unwrap();
    assert_eq!(
        s(&st, "status"),
        Some("CONFIRMED"),
        "the duplicate carried a newer confirmation"
    );
    assert_eq!(num(&st, "event_count"), Some(1));

    fake.set_status("tok-c", "IN_PROGRESS");
    rx.handle(post("citypay", CITYPAY_TOKEN, &body, None)).await;
    let st = state_item(&client, &table, "citypay", &order_record_key("tok-c"))
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), Some("CONFIRMED"), "final never regresses");
}

#[tokio::test]
async fn expired_and_canceled_are_final_and_cancelled_spelling_is_accepted() {
    let (client, table, fake, rx, _) = setup().await;
    fake.set_status("tok-d", "CANCELLED");
    rx.handle(post(
        "citypay",
        CITYPAY_TOKEN,
        &callback("tok-d", "status_changed", "CANCELLED", None),
        None,
    ))
    .await;
    let st = state_item(&client, &table, "citypay", &order_record_key("tok-d"))
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), Some("CANCELED"));
    fake.set_status("tok-d", "CONFIRMED");
    rx.handle(post(
        "citypay",
        CITYPAY_TOKEN,
        &callback("tok-d", "confirmation", "CONFIRMED", Some("5")),
        None,
    ))
    .await;
    let st = state_item(&client, &table, "citypay", &order_record_key("tok-d"))
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), Some("CANCELED"));
    assert!(
        flags(&st).contains(&"terminal_clash".to_string()),
        "a payment after cancel needs a human"
    );
}

#[tokio::test]
async fn deposits_follow_their_callbacks() {
    let (client, table, fake, rx, _) = setup().await;
    for name in ["deposit-pending", "deposit-confirmed", "deposit-pending"] {
        let resp = rx
            .handle(post(
                "citypay",
                CITYPAY_TOKEN,
                &fixture_of("citypay", name),
                None,
            ))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
    }
    let st = state_item(&client, &table, "citypay", &deposit_record_key("tx-5001"))
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), Some("Confirmed"));
    assert_eq!(s(&st, "deposit_token"), Some("customer-77"));
    let items = all_items(&client, &table).await;
    let events = of_type(&items, "event");
    assert_eq!(
        events.len(),
        2,
        "Pending and Confirmed, the repeat is a duplicate"
    );
    for ev in events {
        assert_eq!(
            ev["details"].as_m().unwrap()["created_at"].as_s().unwrap(),
            "2026-01-01 11:00",
            "crated_at read too"
        );
    }
    assert_eq!(
        fake.lookups("customer-77").await,
        0,
        "deposits have no query API"
    );
}

#[tokio::test]
async fn every_sample_body_is_accepted() {
    let (client, table, _fake, rx, _) = setup().await;
    for name in [
        "order-created",
        "order-transaction",
        "order-confirmed",
        "order-confirmed-paid",
        "order-strings",
        "deposit-pending",
        "deposit-confirmed",
    ] {
        let resp = rx
            .handle(post(
                "citypay",
                CITYPAY_TOKEN,
                &fixture_of("citypay", name),
                None,
            ))
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{name}: {}",
            body_text(&resp)
        );
    }
    let st = state_item(
        &client,
        &table,
        "citypay",
        &order_record_key("paid-order-2002"),
    )
    .await
    .unwrap();
    assert_eq!(s(&st, "status"), Some("CONFIRMED"));
    let st = state_item(
        &client,
        &table,
        "citypay",
        &order_record_key("underpaid-order-1002"),
    )
    .await
    .unwrap();
    assert_eq!(
        s(&st, "status"),
        Some("UNDERPAID"),
        "the claim said Paid/Unconfirmed; the API decides"
    );
    let st = state_item(
        &client,
        &table,
        "citypay",
        &order_record_key("local-order-1001"),
    )
    .await
    .unwrap();
    assert_eq!(
        s(&st, "status"),
        Some("IN_PROGRESS"),
        "a CONFIRMED claim the API does not back"
    );
    assert_eq!(num(&st, "event_count"), Some(3));
}

#[tokio::test]
async fn a_bad_token_stores_nothing_and_bad_bodies_are_kept_and_ask_nothing() {
    let (client, table, fake, rx, _) = setup().await;
    let good = callback("tok-e", "confirmation", "CONFIRMED", Some("1"));
    let cases: Vec<(lambda_http::Request, u16)> = vec![
        (
            post("citypay", "guessed-token-0123456789abc", &good, None),
            401,
        ),
        (post("citypay", "", &good, None), 401),
        (
            post(
                "citypay",
                CITYPAY_TOKEN,
                br#"{"type":"order callback","status":"CONFIRMED"}"#,
                None,
            ),
            200,
        ),
        (
            post(
                "citypay",
                CITYPAY_TOKEN,
                br#"{"type":"deposit callback","status":"Confirmed"}"#,
                None,
            ),
            200,
        ),
        (
            post("citypay", CITYPAY_TOKEN, br#"{"status":"CONFIRMED"}"#, None),
            200,
        ),
        (
            post(
                "citypay",
                CITYPAY_TOKEN,
                br#"{"type":"order callback","order_token":"x"}"#,
                None,
            ),
            200,
        ),
        (
            post(
                "citypay",
                CITYPAY_TOKEN,
                b"order_token=x&status=CONFIRMED",
                None,
            ),
            200,
        ),
    ];
    for (i, (req, status)) in cases.into_iter().enumerate() {
        let resp = rx.handle(req).await;
        assert_eq!(
            resp.status().as_u16(),
            status,
            "case {i}: {}",
            body_text(&resp)
        );
    }
    // Only the bodies sent with the right token are kept, in quarantine: no
    // event, state or payment.
    let items = all_items(&client, &table).await;
    assert_eq!(of_type(&items, "quarantine").len(), 5);
    assert_eq!(items.len(), 5);
    assert_eq!(
        fake.lookups("tok-e").await,
        0,
        "no order API call for a refused or unusable callback"
    );
    assert_eq!(fake.lookups("x").await, 0);
}

#[tokio::test]
async fn missing_type_is_inferred_from_the_token_field() {
    let (client, table, fake, rx, _) = setup().await;
    fake.set_status("tok-f", "IN_PROGRESS");
    let body = br#"{"action":"order_created","status":"IN_PROGRESS","order_token":"tok-f"}"#;
    assert_eq!(
        rx.handle(post("citypay", CITYPAY_TOKEN, body, None))
            .await
            .status(),
        StatusCode::OK
    );
    let items = all_items(&client, &table).await;
    let ev = of_type(&items, "event")[0];
    assert_eq!(s(ev, "sk"), Some("event#order_created#IN_PROGRESS#-"));
    assert!(flags(ev).contains(&"missing_type".to_string()));
}

fn callback_for(token: &str, client_order_id: &str, order_id: &str, tx: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"order callback","action":"confirmation","status":"CONFIRMED","order_id":{order_id},"client_order_id":"{client_order_id}","transaction_id":"{tx}","received_amount_in_coins":1,"received_amount_in_fiat":"5000.00","fiat_currency":"EUR","crypto_currency":"btc","created_at":"2026-01-01 09:15","order_token":"{token}","order_expiration":60,"exchange_rate":50795.91}}"#
    )
    .into_bytes()
}

/// No payment of any provider is keyed by `merchant_ref`.
async fn nothing_under(client: &aws_sdk_dynamodb::Client, table: &str, merchant_ref: &str) {
    let under: Vec<_> = payments(client, table)
        .await
        .into_iter()
        .filter(|p| p.merchant_ref.as_deref() == Some(merchant_ref))
        .collect();
    assert!(under.is_empty(), "payments under {merchant_ref}: {under:?}");
}

#[tokio::test]
async fn another_customers_confirmed_token_cannot_pay_a_merchant_order() {
    let (client, table, fake, rx, _) = setup().await;
    // The attacker's own cheap order, paid, at another shop on CityPay.
    fake.set_order(
        "foreign-tok",
        testkit::citypay::OrderFacts {
            customer_id: "512".into(),
            amount_fiat: "1".into(),
            ..Default::default()
        },
    );
    fake.set_status("foreign-tok", "CONFIRMED");
    let resp = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback_for("foreign-tok", "victim-order", "2876", "1"),
            None,
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "kept as evidence");
    nothing_under(&client, &table, "victim-order").await;
    let st = state_item(&client, &table, "citypay", &order_record_key("foreign-tok"))
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), None, "nothing confirmed");
    assert!(flags(&st).contains(&"not_our_order".to_string()));
    assert_eq!(
        s(&st, "client_order_id"),
        None,
        "the claimed reference keys nothing"
    );
    let p = payment_of_record(&client, &table, "citypay", &order_record_key("foreign-tok")).await;
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Unknown);
    assert_eq!(
        p.amount_paid, None,
        "the callback's amounts are not the payment's"
    );
}

#[tokio::test]
async fn a_paid_order_cannot_be_replayed_onto_another_merchant_order() {
    let (client, table, fake, rx, _) = setup().await;
    fake.set_order(
        "paid-cheap",
        testkit::citypay::OrderFacts {
            amount_fiat: "5".into(),
            paid_fiat: Some(vec!["5".into()]),
            ..Default::default()
        },
    );
    // The genuine callback of the attacker's own cheap order at this shop.
    let genuine = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback_for("paid-cheap", "cheap-order", "2876", "1"),
            None,
        ))
        .await;
    assert_eq!(genuine.status(), StatusCode::OK);
    // Replayed with a victim's reference (a new transaction id: a new notification).
    let (rx2, docs) = citypay_receiver(client.clone(), &table, &fake.base_url());
    let replayed = rx2
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback_for("paid-cheap", "victim-order", "2876", "2"),
            None,
        ))
        .await;
    assert_eq!(replayed.status(), StatusCode::OK, "authentic input is kept");
    assert_eq!(total(&docs, "Conflict"), 1.0, "counted as a conflict");
    nothing_under(&client, &table, "victim-order").await;
    let st = state_item(&client, &table, "citypay", &order_record_key("paid-cheap"))
        .await
        .unwrap();
    assert_eq!(
        s(&st, "merchant_ref"),
        Some("cheap-order"),
        "the first reference stays"
    );
    assert!(flags(&st).contains(&"reference_conflict".to_string()));
    let p = payment_of_record(&client, &table, "citypay", &order_record_key("paid-cheap")).await;
    assert_eq!(p.merchant_ref.as_deref(), Some("cheap-order"));
    assert_eq!(p.version, 1, "the replay changed no payment");

    // On the operator's list as a conflict, with both references, until acknowledged.
    let store = shared::store::Store::new(client.clone(), &table, 90);
    let now_ms = shared::clock::now_ms();
    let o = shared::unresolved::overview(&store, now_ms, 86_400, 100)
        .await
        .unwrap();
    let conflicts: Vec<_> = o
        .entries
        .iter()
        .filter(|e| e.category == shared::unresolved::Category::Conflict)
        .collect();
    assert_eq!(conflicts.len(), 1, "{:?}", o.entries);
    let detail = conflicts[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("victim-order") && detail.contains("cheap-order"),
        "{detail}"
    );
    assert!(
        conflicts[0].action.contains("replaying"),
        "{}",
        conflicts[0].action
    );
    let acknowledged = store
        .acknowledge("citypay", &order_record_key("paid-cheap"), now_ms)
        .await
        .unwrap();
    assert_eq!(acknowledged, 1);
    let o = shared::unresolved::overview(&store, now_ms, 86_400, 100)
        .await
        .unwrap();
    assert!(o
        .entries
        .iter()
        .all(|e| e.category != shared::unresolved::Category::Conflict));
    // A second copy of the replay is a duplicate, still nothing under the victim.
    let again = rx2
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback_for("paid-cheap", "victim-order", "2876", "2"),
            None,
        ))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    nothing_under(&client, &table, "victim-order").await;
}

#[tokio::test]
async fn amounts_and_currency_are_the_order_apis_never_the_callbacks() {
    let (client, table, fake, rx, _) = setup().await;
    fake.set_order(
        "paid-priced",
        testkit::citypay::OrderFacts {
            amount_fiat: "100".into(),
            currency: "USD".into(),
            paid_fiat: Some(vec!["60.10".into(), "39.90".into()]),
            ..Default::default()
        },
    );
    // The callback claims 5,000 EUR.
    let resp = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback_for("paid-priced", "shop-9", "2876", "1"),
            None,
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let p = payment_of_record(&client, &table, "citypay", &order_record_key("paid-priced")).await;
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid);
    assert_eq!(p.currency.as_deref(), Some("USD"));
    assert_eq!(p.amount_due.unwrap().to_string(), "100");
    assert_eq!(p.amount_paid.unwrap().to_string(), "100");
    assert_eq!(
        p.amounts_source,
        Some(shared::lifecycle::AmountsSource::ProviderApi)
    );
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["amounts_source"], "provider_api",
        "in the lookup and events"
    );
    let ev = all_items(&client, &table).await;
    let ev = of_type(&ev, "event")[0];
    assert!(flags(ev).contains(&"currency_contradicted".to_string()));
    assert_eq!(
        map(ev, "amounts", "received_amount_in_fiat"),
        Some("5000.00"),
        "the claim stays on its event"
    );
}

#[tokio::test]
async fn an_answer_about_another_order_id_confirms_nothing() {
    let (client, table, fake, rx, _) = setup().await;
    fake.set_status("paid-other-id", "CONFIRMED");
    let resp = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback_for("paid-other-id", "victim-order", "9999", "1"),
            None,
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    nothing_under(&client, &table, "victim-order").await;
    let st = state_item(
        &client,
        &table,
        "citypay",
        &order_record_key("paid-other-id"),
    )
    .await
    .unwrap();
    assert_eq!(s(&st, "status"), None);
    assert!(flags(&st).contains(&"order_id_mismatch".to_string()));
}

#[tokio::test]
async fn without_the_customer_id_nothing_is_confirmed_and_nothing_is_asked() {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    let config = shared::citypay::CitypayConfig {
        customer_id: None,
        ..citypay_config(&fake.base_url())
    };
    let (metrics, _) = shared::metrics::Metrics::memory();
    let rx = shared::citypay::CitypayReceiver::new(
        shared::citypay::Citypay::new(config).unwrap(),
        shared::store::Store::new(client.clone(), &table, 90),
        metrics,
    );
    fake.set_status("paid-unbound", "CONFIRMED");
    let resp = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &callback_for("paid-unbound", "shop-3", "2876", "1"),
            None,
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK, "stored, never lost");
    assert_eq!(fake.lookups("paid-unbound").await, 0);
    let st = state_item(
        &client,
        &table,
        "citypay",
        &order_record_key("paid-unbound"),
    )
    .await
    .unwrap();
    assert_eq!(s(&st, "status"), None);
    let ev = all_items(&client, &table).await;
    assert_eq!(
        map(of_type(&ev, "event")[0], "details", "confirm_error"),
        Some("owner_unconfigured")
    );
}
