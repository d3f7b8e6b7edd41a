//! Card numbers, e-mails and secrets never reach a log line or a stored attribute.
//! One test per binary: `tracing` caches per-callsite interest process-wide, so a
//! log capture is only reliable when no other test runs beside it.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

#[path = "it/support/mod.rs"]
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
    let replayed = every_sample_event(&client, &table).await;
    assert!(replayed >= 76, "{replayed} sample events");
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
    for secret in [
        "local-ccpayment-app-secret",
        "local-ccpayment-v2-app-secret",
        "local-alchemypay-path-token-0123456789",
        "local-citypay-path-token-0123456789",
    ] {
        assert!(!logs.contains(secret), "secret {secret} in logs");
    }
    assert!(!logs.contains("@example.com"), "an e-mail in logs");
    for pan in fixture_pans() {
        assert!(!logs.contains(&pan), "card number {pan} in logs");
    }
    assert!(
        logs.matches("\"message\":\"delivery\"").count() >= 50,
        "every sample delivery was logged"
    );

    let items = all_items(&client, &table).await;
    assert!(items.len() > 50, "the sample events were stored too");
    let pans = fixture_pans();
    for text in items_as_text(&items) {
        assert!(!text.contains(PAN), "full card number stored: {text}");
        assert!(
            !text.contains("748800912345"),
            "more than first 6 + last 4 stored"
        );
        for pan in &pans {
            assert!(!text.contains(pan.as_str()), "card number {pan} stored");
        }
    }
    let events = of_type(&items, "event");
    let success = events
        .iter()
        .find(|e| {
            s(e, "sk") == Some("event#SUCCESS")
                && s(e, "pk") == Some("alchemypay#100217231874691123456")
        })
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
        Some(shared::hashing::sha256_hex(stored_body.as_bytes()).as_str()),
        "hash of the stored (masked) body, never of the raw bytes"
    );
    assert_eq!(
        success["details"].as_m().unwrap()["cardNumberMasked"]
            .as_s()
            .unwrap(),
        "555474******2345"
    );
}

/// Every full card number in the Alchemy Pay fixtures.
fn fixture_pans() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/alchemypay", env!("CARGO_MANIFEST_DIR"));
    let mut pans = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let pan = match &v["cardNumber"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if pan.len() >= 13 {
            pans.push(pan);
        }
    }
    assert!(pans.len() >= 8);
    pans
}

/// Runs every committed `events/<provider>` file through its receiver, configured
/// with the local credentials the files were made with.
async fn every_sample_event(client: &aws_sdk_dynamodb::Client, table: &str) -> usize {
    use shared::alchemypay::{AlchemypayConfig, AlchemypayReceiver};
    use shared::ccpayment::{CcpaymentConfig, CcpaymentReceiver, Credentials};
    use shared::citypay::{Citypay, CitypayConfig, CitypayReceiver};
    use shared::intake::IpAllowList;
    use shared::metrics::Metrics;
    use shared::secret::Secret;
    use shared::store::Store;

    let fake = testkit::citypay::FakeCityPay::start().await;
    let fake_v2 = testkit::ccpayment_v2::FakeCcpaymentV2::start(
        "local-ccpayment-v2-app-id",
        "local-ccpayment-v2-app-secret",
    )
    .await;
    let store = || Store::new(client.clone(), table, 90);
    let mut v2 = v2_config(&fake_v2.base_url());
    v2.accounts = shared::ccpayment::credentials::Accounts::one(Credentials::new(
        "local-ccpayment-v2-app-id",
        "local-ccpayment-v2-app-secret",
    ));
    let (cc2, _) = ccpayment_v2_receiver(client.clone(), table, v2);
    let cc = CcpaymentReceiver::new(
        CcpaymentConfig {
            accounts: shared::ccpayment::credentials::Accounts::one(Credentials::new(
                "local-ccpayment-app-id",
                "local-ccpayment-app-secret",
            )),
            freshness: shared::timestamp::Freshness {
                window_secs: 300,
                horizon_secs: 90 * 86_400,
            },
            max_body_bytes: 64 * 1024,
        },
        store(),
        Metrics::memory().0,
    );
    let ach = AlchemypayReceiver::new(
        AlchemypayConfig {
            path_token: Secret::new("local-alchemypay-path-token-0123456789"),
            allowed_ips: IpAllowList::default(),
            max_body_bytes: 64 * 1024,
        },
        store(),
        Metrics::memory().0,
    );
    let cp = CitypayReceiver::new(
        Citypay::new(CitypayConfig {
            path_token: Secret::new("local-citypay-path-token-0123456789"),
            allowed_ips: IpAllowList::default(),
            max_body_bytes: 64 * 1024,
            api_base: fake.base_url(),
            confirm_timeout: std::time::Duration::from_secs(2),
            customer_id: Some(testkit::citypay::CUSTOMER_ID.to_string()),
        })
        .unwrap(),
        store(),
        Metrics::memory().0,
    );
    let mut n = 0;
    for provider in shared::registry::ALL.iter().map(|p| p.name) {
        let dir = format!("{}/../events/{provider}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            if path.file_name().unwrap() == "expected.json" {
                continue;
            }
            let req =
                lambda_http::request::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            match provider {
                "ccpayment" => cc.handle_at(req, 1_767_225_600).await,
                "ccpayment-v2" => cc2.handle_at(req, 1_767_225_600).await,
                "alchemypay" => ach.handle(req).await,
                "citypay" => cp.handle(req).await,
                other => panic!("privacy scan: no receiver for provider {other}; add one here"),
            };
            n += 1;
        }
    }
    n
}
