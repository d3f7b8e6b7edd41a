//! The Alchemy Pay card-order receiver against DynamoDB Local.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

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
                "wrong-token-0123456789abcdef",
                b"<xml/>",
                Some("203.0.113.5"),
            ),
            401,
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
    assert_eq!(total(&docs, "Rejected"), 8.0);

    // With the right token, a body we cannot read is Alchemy Pay's: kept, masked,
    // never applied.
    for body in [
        &b"{\"status\":\"SUCCESS\"}"[..],
        b"{\"orderNo\":\"1\"}",
        b"<xml/>",
        b"{\"orderNo\":\"9\",\"cardNumber\":\"4111111111111111\",\"status\":",
    ] {
        let resp = rx
            .handle(post("alchemypay", ALCHEMY_TOKEN, body, Some("203.0.113.5")))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", body_text(&resp));
    }
    let items = all_items(&client, &table).await;
    assert_eq!(of_type(&items, "quarantine").len(), 4);
    assert_eq!(items.len(), 4, "nothing else: no event, state or payment");
    assert!(items_as_text(&items)
        .iter()
        .all(|t| !t.contains("4111111111111111")));
    assert!(of_type(&items, "quarantine")
        .iter()
        .any(|q| s(q, "body").is_some_and(|b| b.contains("411111******1111"))));
    assert_eq!(total(&docs, "Quarantined"), 4.0);
    for q in of_type(&items, "quarantine") {
        client
            .delete_item()
            .table_name(&table)
            .key("pk", q["pk"].clone())
            .key("sk", q["sk"].clone())
            .send()
            .await
            .unwrap();
    }

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
    let store = shared::store::Store::new(as_function(&client, "PaymentsApiFunction"), &table, 90);
    let resp = lookup(&store, &get(&format!("/payments/{ORDER}"))).await;
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
    let resp = lookup(&store, &get(&format!("/payments/alchemypay/{ORDER}"))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let by_id: serde_json::Value = serde_json::from_str(&body_text(&resp)).unwrap();
    assert_eq!(by_id["payments"][0]["version"], 2);
}

/// Every 64-hex run in every string an item holds, at any depth.
fn hex_digests(items: &[shared::store::Item]) -> std::collections::HashSet<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    fn walk(v: &AttributeValue, out: &mut Vec<String>) {
        match v {
            AttributeValue::S(s) => out.push(s.clone()),
            AttributeValue::Ss(ss) => out.extend(ss.iter().cloned()),
            AttributeValue::M(m) => m.values().for_each(|v| walk(v, out)),
            AttributeValue::L(l) => l.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut texts = Vec::new();
    for item in items {
        for v in item.values() {
            walk(v, &mut texts);
        }
    }
    let mut found = std::collections::HashSet::new();
    for t in texts {
        let b = t.as_bytes();
        let mut run = 0;
        for (i, c) in b.iter().enumerate() {
            run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
            if run >= 64 {
                found.insert(t[i + 1 - 64..=i].to_ascii_lowercase());
            }
        }
    }
    found
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            match (i % 2 == 1, d * 2) {
                (true, x) if x > 9 => x - 9,
                (true, x) => x,
                (false, _) => d,
            }
        })
        .sum();
    sum % 10 == 0
}

/// The attacker's search: every card number with the stored first 6 and last 4
/// that passes Luhn's check (100,000), put into the raw body around it, hashed
/// both ways the code ever hashed a body. Returns the number whose hash is among
/// `digests`.
fn recover(raw: &str, pan: &str, digests: &std::collections::HashSet<String>) -> Option<String> {
    let (head, tail) = (&pan[..6], &pan[pan.len() - 4..]);
    for middle in 0..1_000_000u32 {
        let candidate = format!("{head}{middle:06}{tail}");
        if !luhn(candidate.as_bytes()) {
            continue;
        }
        let body = raw.replace(pan, &candidate);
        if digests.contains(&shared::hashing::sha256_hex(body.as_bytes()))
            || digests.contains(&shared::hashing::content_sha256_hex(body.as_bytes()))
        {
            return Some(candidate);
        }
    }
    None
}

#[tokio::test]
async fn a_card_number_cannot_be_recovered_from_anything_stored() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    // A card number that passes Luhn's check, as every real one does.
    let pan = "4111111111111111";
    assert!(luhn(pan.as_bytes()));
    let raw = String::from_utf8(body("success"))
        .unwrap()
        .replace("5554748800912345", pan);
    assert!(raw.contains(pan));
    // The body, a copy pretty-printed, and one with another amount (a conflict).
    let pretty = raw.replace(",\"", ",\n  \"");
    let other = raw.replace("\"rechargeFee\":\"0.72122094\"", "\"rechargeFee\":\"0.8\"");
    for b in [&raw, &pretty, &other] {
        let resp = rx
            .handle(post("alchemypay", ALCHEMY_TOKEN, b.as_bytes(), None))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let items = all_items(&client, &table).await;
    assert!(
        !of_type(&items, "conflict").is_empty(),
        "a conflict item too"
    );
    let digests = hex_digests(&items);
    assert!(digests.len() >= 2, "the stored fingerprints were read");
    // The search finds the number when a raw body's hash is stored: it can fail.
    let leaked: std::collections::HashSet<String> =
        [shared::hashing::sha256_hex(other.as_bytes())].into();
    assert_eq!(recover(&other, pan, &leaked).as_deref(), Some(pan));
    // The pretty copy's content fingerprint is the raw one's: two bodies cover all.
    for b in [&raw, &other] {
        assert_eq!(recover(b, pan, &digests), None, "card number recovered");
    }
}

#[tokio::test]
async fn rehash_replaces_fingerprints_of_raw_bodies_written_before() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    let pan = "4111111111111111";
    let raw = String::from_utf8(body("success"))
        .unwrap()
        .replace("5554748800912345", pan);
    let other = raw.replace("\"rechargeFee\":\"0.72122094\"", "\"rechargeFee\":\"0.8\"");
    for b in [&raw, &other] {
        rx.handle(post("alchemypay", ALCHEMY_TOKEN, b.as_bytes(), None))
            .await;
    }
    // As an earlier version wrote them: fingerprints of the raw bytes, and the
    // conflict keyed by its raw content fingerprint.
    let items = all_items(&client, &table).await;
    let event = of_type(&items, "event")[0].clone();
    let conflict = of_type(&items, "conflict")[0].clone();
    let legacy = |item: &shared::store::Item, raw: &str| {
        let mut item = item.clone();
        let content = shared::hashing::content_sha256_hex(raw.as_bytes());
        item.insert(
            "body_sha256".into(),
            AttributeValue::S(shared::hashing::sha256_hex(raw.as_bytes())),
        );
        item.insert("content_sha256".into(), AttributeValue::S(content.clone()));
        if s(&item, "item_type") == Some("conflict") {
            let sk = s(&item, "sk").unwrap();
            let prefix = &sk[..sk.len() - 64];
            item.insert("sk".into(), AttributeValue::S(format!("{prefix}{content}")));
        }
        item
    };
    let delete = |item: &shared::store::Item| {
        client
            .delete_item()
            .table_name(&table)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
    };
    delete(&conflict).send().await.unwrap();
    for item in [legacy(&event, &raw), legacy(&conflict, &other)] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let before = hex_digests(&all_items(&client, &table).await);
    assert_eq!(
        recover(&raw, pan, &before).as_deref(),
        Some(pan),
        "legacy items leak"
    );

    let store = shared::store::Store::new(client.clone(), &table, 90);
    let done = store.rehash_bodies().await.unwrap();
    assert_eq!((done.events, done.conflicts), (1, 1), "{done:?}");
    let items = all_items(&client, &table).await;
    assert_eq!(of_type(&items, "conflict").len(), 1, "moved, not copied");
    for item in of_type(&items, "event")
        .into_iter()
        .chain(of_type(&items, "conflict"))
    {
        let stored = s(item, "body").unwrap();
        assert!(!stored.contains(pan));
        assert_eq!(
            s(item, "body_sha256"),
            Some(shared::hashing::sha256_hex(stored.as_bytes()).as_str())
        );
    }
    let after = hex_digests(&items);
    for b in [&raw, &other] {
        assert_eq!(recover(b, pan, &after), None, "card number recovered");
    }
    // Safe to repeat: nothing left to change. A duplicate still is a duplicate.
    let again = store.rehash_bodies().await.unwrap();
    assert_eq!((again.events, again.conflicts), (0, 0));
    let (rx, docs) = alchemy_receiver(client.clone(), &table, "");
    rx.handle(post("alchemypay", ALCHEMY_TOKEN, raw.as_bytes(), None))
        .await;
    assert_eq!(total(&docs, "Duplicate"), 1.0);
}

#[tokio::test]
async fn a_flood_of_varied_bodies_for_one_order_keeps_a_bounded_number_of_conflicts() {
    let (client, table) = fresh_table().await;
    let (rx, docs) = alchemy_receiver(client.clone(), &table, "");
    let raw = String::from_utf8(body("success")).unwrap();
    for i in 0..26 {
        let varied = raw.replace(
            "\"rechargeFee\":\"0.72122094\"",
            &format!("\"rechargeFee\":\"0.{i:08}\""),
        );
        let resp = rx
            .handle(post("alchemypay", ALCHEMY_TOKEN, varied.as_bytes(), None))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    assert_eq!(total(&docs, "Conflict"), 25.0, "every one counted");
    let items = all_items(&client, &table).await;
    assert_eq!(
        of_type(&items, "conflict").len(),
        shared::store::MAX_OPEN_CONFLICTS,
        "kept up to the cap"
    );
    let st = state_item(&client, &table, "alchemypay", ORDER)
        .await
        .unwrap();
    assert_eq!(num(&st, "conflicts_unkept"), Some(5));
}
