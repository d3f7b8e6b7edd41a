//! The Alchemy Pay card-order receiver against DynamoDB Local.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use lambda_http::http::StatusCode;
use shared::metrics::total;
use shared::store::schema;
use support::*;

const ORDER: &str = "100217231874691123456";

fn body(name: &str) -> Vec<u8> {
    fixture_of("alchemypay", name)
}

#[tokio::test]
async fn status_moves_forward_and_final_never_regresses() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    let state = || state_item(&client, &table, "alchemypay", ORDER);

    rx.handle(post("alchemypay", ALCHEMY_TOKEN, &body("init"), None))
        .await;
    let st = state().await.unwrap();
    assert_eq!(s(&st, "status"), Some("INIT"));
    assert_eq!(s(&st, schema::OPEN_PK), Some("alchemypay#order"));
    assert_eq!(s(&st, "kind"), Some("recharge"));
    assert_eq!(s(&st, "card_id"), Some("1232330814012345678"));

    rx.handle(post("alchemypay", ALCHEMY_TOKEN, &body("refunding"), None))
        .await;
    assert_eq!(s(&state().await.unwrap(), "status"), Some("REFUNDING"));

    rx.handle(post("alchemypay", ALCHEMY_TOKEN, &body("success"), None))
        .await;
    rx.handle(post("alchemypay", ALCHEMY_TOKEN, &body("init"), None))
        .await;
    rx.handle(post("alchemypay", ALCHEMY_TOKEN, &body("refunding"), None))
        .await;
    let st = state().await.unwrap();
    assert_eq!(s(&st, "status"), Some("SUCCESS"));
    assert!(!st.contains_key(schema::OPEN_PK));
    assert_eq!(num(&st, "event_count"), Some(3));
}

#[tokio::test]
async fn a_day_of_resends_is_one_event() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = alchemy_receiver(client.clone(), &table, "");
    // Every 10 minutes for an hour, then hourly for 24 hours: about 30 deliveries.
    for _ in 0..30 {
        let resp = rx
            .handle(post("alchemypay", ALCHEMY_TOKEN, &body("success"), None))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    assert_eq!(of_type(&all_items(&client, &table).await, "event").len(), 1);
    assert_eq!(total(&docs, "Stored"), 1.0);
    assert_eq!(total(&docs, "Duplicate"), 29.0);
}

#[tokio::test]
async fn every_documented_variant_is_accepted() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    for name in [
        "init",
        "refunding",
        "success",
        "fail",
        "cancel",
        "shipping-object",
        "shipping-string",
        "numbers",
        "apply-fee-bug",
        "unknown-status",
    ] {
        let resp = rx
            .handle(post("alchemypay", ALCHEMY_TOKEN, &body(name), None))
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{name}: {}",
            body_text(&resp)
        );
    }
    let items = all_items(&client, &table).await;
    let event = |order: &str| {
        of_type(&items, "event")
            .into_iter()
            .find(|e| s(e, "record_key") == Some(order))
            .unwrap()
            .clone()
    };
    let flags = |e: &Item| -> Vec<String> {
        e.get("flags")
            .map(|f| {
                f.as_l()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_s().unwrap().clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(flags(&event("100217300000000000002")).contains(&"shipping_info_encoded".to_string()));
    assert!(flags(&event("100217300000000000001")).is_empty());
    let numbers = event("100217231874691123499");
    assert_eq!(
        numbers["amounts"].as_m().unwrap()["rechargeFee"]
            .as_s()
            .unwrap(),
        "0.72122094"
    );
    assert!(s(&numbers, "body")
        .unwrap()
        .contains("\"cardNumber\":\"555555******4444\""));
    let bug = event("100217231874691120000");
    assert!(flags(&bug).contains(&"bad_amount_applyFee".to_string()));
    let unknown = event("100217231874691120001");
    assert!(flags(&unknown).contains(&"unknown_status".to_string()));
    let st = state_item(&client, &table, "alchemypay", "100217231874691120001")
        .await
        .unwrap();
    assert!(
        !st.contains_key("status"),
        "an unknown status sets no state"
    );
    let cancel = state_item(&client, &table, "alchemypay", "100216928821071960015")
        .await
        .unwrap();
    assert_eq!(s(&cancel, "status"), Some("CANCEL"));
    assert_eq!(s(&cancel, "kind"), Some("create_card"));
}

#[tokio::test]
async fn wrong_token_wrong_address_and_bad_bodies_store_nothing() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = alchemy_receiver(client.clone(), &table, "203.0.113.0/24");
    let raw = body("success");
    let near = &ALCHEMY_TOKEN[..ALCHEMY_TOKEN.len() - 1];
    let longer = format!("{ALCHEMY_TOKEN}x");
    let cases: Vec<(lambda_http::Request, u16)> = vec![
        (
            post(
                "alchemypay",
                "wrong-token-0123456789abcdef",
                &raw,
                Some("203.0.113.5"),
            ),
            401,
        ),
        (post("alchemypay", near, &raw, Some("203.0.113.5")), 401),
        (post("alchemypay", &longer, &raw, Some("203.0.113.5")), 401),
        (post("alchemypay", "", &raw, Some("203.0.113.5")), 401),
        (
            post("alchemypay", ALCHEMY_TOKEN, &raw, Some("198.51.100.1")),
            403,
        ),
        (post("alchemypay", ALCHEMY_TOKEN, &raw, None), 403),
        (
            post(
                "alchemypay",
                ALCHEMY_TOKEN,
                b"{\"status\":\"SUCCESS\"}",
                Some("203.0.113.5"),
            ),
            400,
        ),
        (
            post(
                "alchemypay",
                ALCHEMY_TOKEN,
                b"{\"orderNo\":\"1\"}",
                Some("203.0.113.5"),
            ),
            400,
        ),
        (
            post("alchemypay", ALCHEMY_TOKEN, b"<xml/>", Some("203.0.113.5")),
            400,
        ),
        (
            post(
                "alchemypay",
                ALCHEMY_TOKEN,
                &vec![b'x'; 70_000],
                Some("203.0.113.5"),
            ),
            413,
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
    assert!(all_items(&client, &table).await.is_empty());
    assert_eq!(total(&docs, "Rejected"), 10.0);

    let ok = rx
        .handle(post("alchemypay", ALCHEMY_TOKEN, &raw, Some("203.0.113.5")))
        .await;
    assert_eq!(
        ok.status(),
        StatusCode::OK,
        "right token from an allowed address"
    );
}

#[tokio::test]
async fn token_is_read_from_the_last_path_segment_under_cargo_lambda_watch() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    let req = |token: &str| {
        lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("/lambda-url/alchemypay-webhook/{token}"))
            .body(lambda_http::Body::from(body("success")))
            .unwrap()
    };
    assert_eq!(rx.handle(req(ALCHEMY_TOKEN)).await.status(), StatusCode::OK);
    assert_eq!(
        rx.handle(req("nope")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_lookup_shows_a_card_order_and_its_history_without_card_numbers_or_mail() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    for name in ["init", "success", "init"] {
        rx.handle(post("alchemypay", ALCHEMY_TOKEN, &body(name), None))
            .await;
    }
    let store = shared::store::Store::new(client.clone(), &table, 90);
    let resp = shared::lookup::handle(&store, &get(&format!("/payments/{ORDER}"))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let text = body_text(&resp);
    assert!(!text.contains("5554748800912345"), "{text}");
    assert!(!text.contains('@'), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let p = &v["payments"][0];
    assert_eq!(p["lifecycle"], "paid");
    assert_eq!(p["provider"], "alchemypay");
    assert_eq!(p["version"], 2);
    assert_eq!(p["amount_due"], "61.91");
    assert_eq!(p["currency"], "USDT");
    let events = p["history"][0]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "INIT and SUCCESS, the repeat is one event");
    assert!(events.iter().all(|e| e.get("body").is_none()));
    assert_eq!(
        events[0]["refs"]["card_id"], "1232330814012345678",
        "ids are not card numbers"
    );

    // The same by provider and record id.
    let resp = shared::lookup::handle(&store, &get(&format!("/payments/alchemypay/{ORDER}"))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let by_id: serde_json::Value = serde_json::from_str(&body_text(&resp)).unwrap();
    assert_eq!(by_id["payments"][0]["version"], 2);
}
