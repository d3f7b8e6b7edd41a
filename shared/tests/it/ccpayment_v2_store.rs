//! The CCPayment v2 receiver end to end: DynamoDB Local, and a loopback CCPayment
//! whose record and order APIs answer as documented, slowly, wrongly or not at all.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

use std::time::Duration;

use lambda_http::http::StatusCode;
use shared::ccpayment::credentials::Accounts;
use shared::ccpayment::Credentials;
use shared::metrics::total;
use shared::secret::Secret;
use support::*;
use testkit::ccpayment_v2::{FakeCcpaymentV2, FakeOrder, FakeRecord, RecordAnswer};

const RECORD: &str = "20240313113108116087378078994432";

fn body(name: &str) -> Vec<u8> {
    fixture_of("ccpayment-v2", name)
}

async fn setup() -> (aws_sdk_dynamodb::Client, String, FakeCcpaymentV2) {
    let (client, table) = fresh_table().await;
    let fake = FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    (client, table, fake)
}

#[tokio::test]
async fn a_confirmed_deposit_is_stored_with_the_record_apis_facts() {
    let (client, table, fake) = setup().await;
    let (rx, docs) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let resp = rx
        .handle_at(signed_v2(&body("direct-deposit"), NOW), NOW)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(body_text(&resp), "Success");
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    let items = all_items(&client, &table).await;
    let event = of_type(&items, "event")[0];
    assert_eq!(
        s(event, "pk"),
        Some(format!("ccpayment-v2#{RECORD}").as_str())
    );
    assert_eq!(s(event, "sk"), Some("event#Success"));
    assert_eq!(s(event, "kind"), Some("DirectDeposit"));
    assert_eq!(map(event, "amounts", "amount"), Some("10"));
    assert_eq!(map(event, "amounts", "service_fee"), Some("0.05"));
    assert_eq!(map(event, "refs", "app_id"), Some(V2_APP_ID));
    assert_eq!(map(event, "refs", "reference_id"), Some("6322470490101234"));
    assert_eq!(map(event, "details", "confirmed_status"), Some("Success"));
    assert_eq!(map(event, "details", "paid"), Some("true"));
    let state = state_item(&client, &table, "ccpayment-v2", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("Success"));
    assert!(!state.contains_key("open_pk"), "final: not open");
    assert_eq!(fake.requests_to("/getAppDepositRecord").await, 1);
    assert_eq!(fake.refused_signatures(), 0, "our request was signed right");
    assert_eq!(total(&docs, "Stored"), 1.0);
}

#[tokio::test]
async fn an_order_deposit_knows_what_is_due_and_everything_paid_against_it() {
    let (client, table, fake) = setup().await;
    let (rx, _) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let record = "20240313121919114087378078994433";
    let earlier = "20240313121000114087378078994400";
    fake.set_record(record, RecordAnswer::Record(FakeRecord::success("0.2")));
    fake.set_record(earlier, RecordAnswer::Record(FakeRecord::success("0.1")));
    fake.set_order(
        "202403131218361001",
        FakeOrder {
            invoice: false,
            amount_due: "0.3".into(),
            payments: vec![earlier.into(), record.into()],
        },
    );
    let resp = rx
        .handle_at(signed_v2(&body("api-deposit"), NOW), NOW)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let items = all_items(&client, &table).await;
    let event = of_type(&items, "event")[0];
    assert_eq!(map(event, "amounts", "amount_due"), Some("0.3"));
    assert_eq!(
        map(event, "amounts", "paid_total"),
        Some("0.3"),
        "0.1 + 0.2 exactly"
    );
    assert_eq!(map(event, "details", "order_source"), Some("app_order"));
    assert_eq!(fake.requests_to("/getInvoiceOrderInfo").await, 0);
    // Our own sum counts the payments we hold: the earlier one is still to come.
    let p = payment_of_record(&client, &table, "ccpayment-v2", record).await;
    assert_eq!(p.key.0, "ref#202403131218361001");
    assert_eq!(p.amount_due.unwrap().to_string(), "0.3");
    assert_eq!(p.amount_paid.unwrap().to_string(), "0.2");
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Underpaid);

    // An invoice's id is unknown to the order API: the invoice API is asked next.
    fake.set_order(
        "1726717497",
        FakeOrder {
            invoice: true,
            amount_due: "25".into(),
            payments: vec!["20240919035020188328269786624000".into()],
        },
    );
    let resp = rx
        .handle_at(signed_v2(&body("invoice-deposit"), NOW), NOW)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let items = all_items(&client, &table).await;
    let invoice = of_type(&items, "event")
        .into_iter()
        .find(|e| s(e, "record_key") == Some("20240919035020188328269786624000"))
        .unwrap();
    assert_eq!(map(invoice, "details", "order_source"), Some("invoice"));
    assert_eq!(map(invoice, "amounts", "amount_due"), Some("25"));
    assert_eq!(map(invoice, "amounts", "paid_total"), Some("10"));
}

#[tokio::test]
async fn record_api_slow_failing_or_refusing_stores_unconfirmed_and_answers_success() {
    let (client, table, fake) = setup().await;
    let mut config = v2_config(&fake.base_url());
    config.confirm_timeout = Duration::from_millis(300);
    let (rx, _) = ccpayment_v2_receiver(client.clone(), &table, config);
    let cases = [
        (
            "r-slow",
            RecordAnswer::Slow(Duration::from_secs(3), FakeRecord::success("1")),
            "timeout",
        ),
        ("r-500", RecordAnswer::HttpError(500), "http_error"),
        (
            "r-missing",
            RecordAnswer::Code(11_003, "not found".into()),
            "not_found",
        ),
        (
            "r-limited",
            RecordAnswer::Code(11_004, "rate limit".into()),
            "rate_limited",
        ),
    ];
    for (id, answer, code) in cases {
        fake.set_record(id, answer);
        let b =
            format!(r#"{{"type":"DirectDeposit","msg":{{"recordId":"{id}","status":"Success"}}}}"#);
        let resp = rx.handle_at(signed_v2(b.as_bytes(), NOW), NOW).await;
        assert_eq!(resp.status(), StatusCode::OK, "{id}");
        assert_eq!(body_text(&resp), "Success");
        let items = all_items(&client, &table).await;
        let event = of_type(&items, "event")
            .into_iter()
            .find(|e| s(e, "record_key") == Some(id))
            .unwrap();
        assert!(flags(event).contains(&"unconfirmed".to_string()), "{id}");
        assert_eq!(map(event, "details", "confirm_error"), Some(code), "{id}");
        let state = state_item(&client, &table, "ccpayment-v2", id)
            .await
            .unwrap();
        assert!(
            !state.contains_key("status"),
            "{id}: a claim alone sets no status"
        );
        assert_eq!(
            s(&state, "open_pk"),
            Some("ccpayment-v2#DirectDeposit"),
            "{id}"
        );
    }

    // CCPayment retries; by then the record API answers: the duplicate applies it.
    fake.set_record("r-500", RecordAnswer::Record(FakeRecord::success("1")));
    let b = br#"{"type":"DirectDeposit","msg":{"recordId":"r-500","status":"Success"}}"#;
    assert_eq!(
        rx.handle_at(signed_v2(b, NOW + 60), NOW + 60)
            .await
            .status(),
        200
    );
    let state = state_item(&client, &table, "ccpayment-v2", "r-500")
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("Success"));
    assert!(!state.contains_key("open_pk"));
}

#[tokio::test]
async fn the_record_api_decides_not_the_webhook() {
    let (client, table, fake) = setup().await;
    let (rx, _) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    // Claimed Success, but the record is still processing.
    fake.set_record(
        RECORD,
        RecordAnswer::Record(FakeRecord {
            status: "Processing".into(),
            ..FakeRecord::success("10")
        }),
    );
    rx.handle_at(signed_v2(&body("direct-deposit"), NOW), NOW)
        .await;
    let state = state_item(&client, &table, "ccpayment-v2", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("Processing"));
    let items = all_items(&client, &table).await;
    assert!(flags(of_type(&items, "event")[0]).contains(&"status_contradicted".to_string()));

    // Risky: never paid for us, held open for a human.
    let risky = "20240313113108116087378078990001";
    fake.set_record(
        risky,
        RecordAnswer::Record(FakeRecord {
            risky: true,
            ..FakeRecord::success("500")
        }),
    );
    let b = format!(
        r#"{{"type":"DirectDeposit","msg":{{"recordId":"{risky}","status":"Success","isFlaggedAsRisky":false}}}}"#
    );
    rx.handle_at(signed_v2(b.as_bytes(), NOW), NOW).await;
    let state = state_item(&client, &table, "ccpayment-v2", risky)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("FlaggedAsRisky"));
    assert!(state.contains_key("open_pk"));
    let items = all_items(&client, &table).await;
    let event = of_type(&items, "event")
        .into_iter()
        .find(|e| s(e, "record_key") == Some(risky))
        .unwrap();
    assert!(flags(event).contains(&"risky".to_string()));
    assert_eq!(map(event, "details", "paid"), None);
}

#[tokio::test]
async fn duplicates_conflicts_and_late_statuses_keep_the_storage_contract() {
    let (client, table, fake) = setup().await;
    let (rx, docs) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let b = body("direct-deposit");
    for _ in 0..3 {
        assert_eq!(rx.handle_at(signed_v2(&b, NOW), NOW).await.status(), 200);
    }
    // Same key (record + status), other content: kept beside, nothing overwritten.
    let other = String::from_utf8(b.clone())
        .unwrap()
        .replace("\"MATIC\"", "\"POL\"");
    assert_eq!(
        rx.handle_at(signed_v2(other.as_bytes(), NOW), NOW)
            .await
            .status(),
        200
    );
    // A late Processing after Success: stored as its own event, state unchanged.
    let late = String::from_utf8(b.clone())
        .unwrap()
        .replace("\"Success\"", "\"Processing\"");
    assert_eq!(
        rx.handle_at(signed_v2(late.as_bytes(), NOW), NOW)
            .await
            .status(),
        200
    );
    let items = all_items(&client, &table).await;
    assert_eq!(of_type(&items, "event").len(), 2);
    assert_eq!(of_type(&items, "conflict").len(), 1);
    assert_eq!(total(&docs, "Duplicate"), 2.0);
    assert_eq!(total(&docs, "Conflict"), 1.0);
    let state = state_item(&client, &table, "ccpayment-v2", RECORD)
        .await
        .unwrap();
    assert_eq!(s(&state, "status"), Some("Success"));
    assert_eq!(num(&state, "event_count"), Some(2));
}

#[tokio::test]
async fn several_accounts_in_one_deployment_and_a_rotation() {
    let (client, table) = fresh_table().await;
    // CCPayment already signs with the new secret; webhooks signed before the
    // rotation are still arriving.
    let fake = FakeCcpaymentV2::start(V2_APP_ID, "rotated-secret").await;
    let mut config = v2_config(&fake.base_url());
    config.accounts = Accounts::new(vec![
        Credentials {
            app_id: V2_APP_ID.into(),
            secret: Secret::new("rotated-secret"),
            previous_secret: Some(Secret::new(V2_SECRET)),
            previous_until: Some(NOW + 86_400),
        },
        Credentials::new("shop-b", "secret-b"),
    ])
    .unwrap();
    // One API base serves both accounts here: the fake of shop A refuses shop B's
    // signature, so B's record API call fails and B's event is stored unconfirmed.
    let (rx, docs) = ccpayment_v2_receiver(client.clone(), &table, config);
    let b = body("direct-deposit");
    let by_a_old = rx.handle_at(signed_v2(&b, NOW), NOW).await;
    assert_eq!(by_a_old.status(), 200, "the previous secret still verifies");
    // Each match shows: the dashboard's FlaggedByReason says when it last matched.
    let from_a = all_items(&client, &table).await;
    assert!(of_type(&from_a, "event")
        .iter()
        .any(|e| flags(e).contains(&"previous_secret".to_string())));
    assert!(docs
        .lock()
        .unwrap()
        .iter()
        .any(|d| d["Flag"] == "previous_secret" && d["FlaggedByReason"] == 1.0));

    let user = body("user-deposit");
    let by_b = rx
        .handle_at(signed_v2_by("shop-b", "secret-b", &user, NOW), NOW)
        .await;
    assert_eq!(by_b.status(), 200);
    let items = all_items(&client, &table).await;
    let from_b = of_type(&items, "event")
        .into_iter()
        .find(|e| s(e, "kind") == Some("UserDeposit"))
        .unwrap();
    assert_eq!(map(from_b, "refs", "app_id"), Some("shop-b"));
    assert_eq!(
        fake.refused_signatures(),
        1,
        "A's call signed with A's new secret, B's with B's"
    );

    let wrong_key = rx
        .handle_at(signed_v2_by("shop-b", "rotated-secret", &user, NOW), NOW)
        .await;
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);
    let unknown = rx
        .handle_at(signed_v2_by("shop-c", "secret-c", &user, NOW), NOW)
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(body_text(&unknown).contains("does not match a configured account"));
    // The authentic-looking refusal marks its hour for shop B only.
    let items = all_items(&client, &table).await;
    let windows = of_type(&items, "resend_window");
    assert_eq!(windows.len(), 1);
    assert_eq!(s(windows[0], "pk"), Some("reconciler#ccpayment-v2#shop-b"));

    // After its end the previous secret is no secret of ours.
    let late = NOW + 86_400;
    let after_end = rx.handle_at(signed_v2(&b, late), late).await;
    assert_eq!(after_end.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_registration_ping_is_answered_and_stored_nowhere() {
    let (client, table, fake) = setup().await;
    let (rx, docs) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let resp = rx
        .handle_at(signed_v2(&body("activate-webhook-url"), NOW), NOW)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body_text(&resp), "Success");
    assert!(all_items(&client, &table).await.is_empty());
    assert_eq!(total(&docs, "Acknowledged"), 1.0);
    // Unsigned, it is refused like anything else.
    let mut forged = signed_v2(&body("activate-webhook-url"), NOW);
    forged
        .headers_mut()
        .insert("sign", "0".repeat(64).parse().unwrap());
    assert_eq!(rx.handle_at(forged, NOW).await.status(), 401);
}

#[tokio::test]
async fn stale_timestamps_are_stored_flagged_and_rsa_signatures_explained() {
    let (client, table, fake) = setup().await;
    let (rx, docs) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let resp = rx
        .handle_at(signed_v2(&body("direct-deposit"), NOW), NOW + 3600)
        .await;
    assert_eq!(resp.status(), 200);
    let items = all_items(&client, &table).await;
    assert!(flags(of_type(&items, "event")[0]).contains(&"stale_timestamp".to_string()));
    let counted = docs
        .lock()
        .unwrap()
        .iter()
        .filter(|d| d["Flag"] == "stale_timestamp")
        .count();
    assert_eq!(counted, 1);
    let too_old = rx
        .handle_at(signed_v2(&body("direct-deposit"), NOW), NOW + 91 * 86_400)
        .await;
    assert_eq!(too_old.status(), 401);

    let mut rsa = signed_v2(&body("direct-deposit"), NOW);
    rsa.headers_mut().insert(
        "sign",
        "R3l4bW9yZSBiYXNlNjQgUlNBIHNpZ25hdHVyZSBzYW1wbGU="
            .parse()
            .unwrap(),
    );
    let resp = rx.handle_at(rsa, NOW).await;
    assert_eq!(resp.status(), 401);
    assert!(body_text(&resp).contains("RSA"), "{}", body_text(&resp));
}

#[tokio::test]
async fn storage_failure_is_a_5xx_never_success() {
    let (_, _, fake) = setup().await;
    let (rx, docs) =
        ccpayment_v2_receiver(dead_client().await, "gone", v2_config(&fake.base_url()));
    let resp = rx
        .handle_at(signed_v2(&body("direct-deposit"), NOW), NOW)
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_ne!(body_text(&resp), "Success");
    assert_eq!(total(&docs, "StoreFailed"), 1.0);
}

/// An invoice priced in USD, paid in POL: our own sum is in POL, so only
/// CCPayment's `paidValue` in USD can say whether the price is covered.
#[tokio::test]
async fn a_fiat_priced_invoice_is_paid_only_when_ccpayments_own_figures_cover_its_price() {
    let (client, table, fake) = setup().await;
    let (rx, _) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let deliver = |record: &'static str, order: &'static str| {
        let rx = &rx;
        async move {
            let b = format!(
                r#"{{"type":"ApiDeposit","msg":{{"recordId":"{record}","orderId":"{order}","coinId":2541,"coinSymbol":"POL","status":"Success","isFlaggedAsRisky":false}}}}"#
            );
            let resp = rx.handle_at(signed_v2(b.as_bytes(), NOW), NOW).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
    };
    let paid = |amount: &str, usd: &str| {
        RecordAnswer::Record(FakeRecord {
            coin_symbol: "POL".into(),
            paid_value: Some(usd.into()),
            ..FakeRecord::success(amount)
        })
    };
    let invoice = |payments: Vec<&str>| FakeOrder {
        invoice: true,
        amount_due: "25".into(),
        payments: payments.into_iter().map(String::from).collect(),
    };
    let lifecycle = |record: &'static str| {
        let (client, table) = (client.clone(), table.clone());
        async move { payment_of_record(&client, &table, "ccpayment-v2", record).await }
    };

    // Short: 40 POL worth 10 USD against 25 USD.
    fake.set_record("inv-a-1", paid("40", "10"));
    fake.set_order("inv-a", invoice(vec!["inv-a-1"]));
    deliver("inv-a-1", "inv-a").await;
    let p = lifecycle("inv-a-1").await;
    assert_eq!(
        p.lifecycle,
        shared::lifecycle::Lifecycle::Underpaid,
        "{p:?}"
    );
    assert!(p.flags.contains(&"priced_in_other_currency".to_string()));
    let price = p.price.clone().unwrap();
    assert_eq!(price.currency.as_deref(), Some("USD"));
    assert_eq!(price.amount_due.unwrap().to_string(), "25");
    assert_eq!(price.amount_paid.unwrap().to_string(), "10");
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["price"]["amount_due"], "25",
        "in the lookup and events"
    );

    // Exactly: a second payment worth 15 USD covers it.
    fake.set_record("inv-a-2", paid("60", "15"));
    fake.set_order("inv-a", invoice(vec!["inv-a-1", "inv-a-2"]));
    deliver("inv-a-2", "inv-a").await;
    let p = lifecycle("inv-a-2").await;
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid, "{p:?}");
    assert!(!p.flags.contains(&"overpaid".to_string()));
    assert_eq!(p.price.unwrap().amount_paid.unwrap().to_string(), "25");

    // A write carrying an older answer (10 USD paid) does not undo it.
    fake.set_record(
        "inv-a-3",
        RecordAnswer::Record(FakeRecord {
            status: "Processing".into(),
            coin_symbol: "POL".into(),
            ..FakeRecord::success("1")
        }),
    );
    fake.set_order("inv-a", invoice(vec!["inv-a-1"]));
    deliver("inv-a-3", "inv-a").await;
    let p = lifecycle("inv-a-3").await;
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid);
    assert_eq!(p.price.unwrap().amount_paid.unwrap().to_string(), "25");

    // Over: one payment worth 30 USD.
    fake.set_record("inv-b-1", paid("120", "30"));
    fake.set_order("inv-b", invoice(vec!["inv-b-1"]));
    deliver("inv-b-1", "inv-b").await;
    let p = lifecycle("inv-b-1").await;
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid);
    assert!(p.flags.contains(&"overpaid".to_string()));

    // The order API down: money arrived, but nothing says what is due.
    fake.set_record("inv-c-1", paid("400", "100"));
    deliver("inv-c-1", "inv-c").await;
    let p = lifecycle("inv-c-1").await;
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Processing);
    assert!(p.flags.contains(&"amount_due_unknown".to_string()));
}
