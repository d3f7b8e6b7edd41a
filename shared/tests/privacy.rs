//! Card numbers, e-mails and secrets never reach a log line or a stored attribute.
//! One test per binary: `tracing` caches per-callsite interest process-wide, so a
//! log capture is only reliable when no other test runs beside it.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use lambda_http::http::StatusCode;
use support::*;

const PAN: &str = "5554748800912345";
const EMAIL: &str = "cardholder.one@example.com";

fn body(name: &str) -> Vec<u8> {
    fixture_of("alchemypay", name)
}

#[tokio::test]
async fn full_card_numbers_and_emails_never_reach_items_or_logs() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    let raw = body("success");
    assert!(
        String::from_utf8_lossy(&raw).contains(PAN)
            && String::from_utf8_lossy(&raw).contains(EMAIL)
    );

    let (guard, logs) = capture_logs();
    for name in ["init", "success", "success"] {
        let resp = rx
            .handle(post("alchemypay", ALCHEMY_TOKEN, &body(name), None))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
    }
    let forged = rx
        .handle(post(
            "alchemypay",
            "guess-0123456789abcdefghijkl",
            &raw,
            None,
        ))
        .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    drop(guard);

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("\"outcome\":\"stored\""),
        "the capture saw the deliveries: {logs}"
    );
    assert!(!logs.contains(PAN), "card number in logs");
    assert!(!logs.contains(&PAN[6..]), "middle digits in logs");
    assert!(!logs.contains(EMAIL), "e-mail in logs");
    assert!(!logs.contains(ALCHEMY_TOKEN), "path token in logs");

    let items = all_items(&client, &table).await;
    assert_eq!(items.len(), 3, "two events and the state");
    for text in items_as_text(&items) {
        assert!(!text.contains(PAN), "full card number stored: {text}");
        assert!(
            !text.contains("748800912345"),
            "more than first 6 + last 4 stored"
        );
    }
    let events = of_type(&items, "event");
    let success = events
        .iter()
        .find(|e| s(e, "sk") == Some("event#SUCCESS"))
        .unwrap();
    let stored_body = s(success, "body").unwrap();
    assert!(
        stored_body.contains("\"cardNumber\":\"555474******2345\""),
        "{stored_body}"
    );
    assert!(
        stored_body.contains("\"rechargeFee\":\"0.72122094\""),
        "other values kept exactly"
    );
    assert_eq!(
        s(success, "body_sha256"),
        Some(shared::hashing::sha256_hex(&raw).as_str()),
        "hash of the raw bytes"
    );
    assert_eq!(
        success["details"].as_m().unwrap()["cardNumberMasked"]
            .as_s()
            .unwrap(),
        "555474******2345"
    );
}
