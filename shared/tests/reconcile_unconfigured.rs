//! A provider deployed but left unconfigured stops nothing else: the reconciler
//! loads its configuration from the environment and Secrets Manager (a loopback
//! fake), with each provider's secret left at the template's placeholder in turn,
//! and every other provider's steps still run against their fake APIs.
//!
//! This binary holds one test only: it sets process environment variables.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "it/support/mod.rs"]
mod support;

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use serde_json::json;
use shared::reconcile::{Reconciler, ReconcilerConfig};
use shared::store::Store;
use support::*;
use testkit::ccpayment::FakeCcpayment;
use testkit::ccpayment_v2::FakeCcpaymentV2;
use testkit::citypay::{Answer, FakeCityPay, JwtHeader};
use testkit::secretsmanager::FakeSecretsManager;

// Named after the template's secrets: the recorded reads are checked against the
// reconciler's policy (`template_schema.rs`).
const V1_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:CcpaymentSecret-AbCdEf";
const V2_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:CcpaymentV2Secret-AbCdEf";
const CITYPAY_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:CitypayAccessToken-AbCdEf";
/// What `template.yaml` puts in each secret until the merchant fills it.
const PLACEHOLDER_ACCOUNT: &str =
    r#"{"app_id":"REPLACE_ME","app_secret":"REPLACE_ME","app_secret_previous":""}"#;
const V2_APP_ID: &str = "v2-app";
const V2_SECRET: &str = "v2-secret";

fn order(token: &str) -> Vec<u8> {
    format!(r#"{{"type":"order callback","action":"receive_transaction","status":"IN_PROGRESS","order_token":"{token}","transaction_id":"t-{token}"}}"#).into_bytes()
}

fn resend(provider: &str, now: i64) -> serde_json::Value {
    let from = (now - 6 * 3600) / 3600 * 3600;
    json!({"resend": {"provider": provider, "from": from, "to": from + 3600}})
}

#[tokio::test]
async fn each_provider_left_at_its_placeholder_skips_only_its_own_steps() {
    let sm = FakeSecretsManager::start().await;
    let clock = Arc::new(AtomicI64::new(shared::clock::now_unix()));
    let creds = credentials();
    let v1 = FakeCcpayment::start(&creds.app_id, creds.secret.expose(), clock).await;
    let v2 = FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    let citypay = FakeCityPay::start().await;
    citypay.set_access("citypay-access-token", JwtHeader::BearerToken);
    let v1_filled = format!(
        r#"{{"app_id":"{}","app_secret":"{}","app_secret_previous":""}}"#,
        creds.app_id,
        creds.secret.expose()
    );
    let v2_filled = format!(
        r#"{{"app_id":"{V2_APP_ID}","app_secret":"{V2_SECRET}","app_secret_previous":""}}"#
    );
    for (name, value) in [
        // Signed as the reconciler: the fake records its reads as the function's.
        (
            "AWS_ACCESS_KEY_ID",
            format!("{}ReconcilerFunction", testkit::calls::ACCESS_KEY_PREFIX),
        ),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.endpoint()),
        ("CCPAYMENT_SECRET_ARN", V1_ARN.to_string()),
        ("CCPAYMENT_V2_SECRET_ARN", V2_ARN.to_string()),
        ("CITYPAY_ACCESS_TOKEN_SECRET_ARN", CITYPAY_ARN.to_string()),
        (
            "CITYPAY_CUSTOMER_ID",
            testkit::citypay::CUSTOMER_ID.to_string(),
        ),
        ("CCPAYMENT_API_BASE", v1.base_url()),
        ("CCPAYMENT_V2_API_BASE", v2.base_url()),
        ("CITYPAY_API_BASE", citypay.base_url()),
        ("CCPAYMENT_V2_SWEEP_LISTS", "off".to_string()),
        ("CCPAYMENT_RESEND_SETTLE_SECS", "0".to_string()),
    ] {
        std::env::set_var(name, value);
    }

    let cases: [(&str, Option<&str>); 4] = [
        ("nothing left unfilled", None),
        ("CCPayment v1.0 at its placeholder", Some("ccpayment")),
        ("CCPayment v2 at its placeholder", Some("ccpayment-v2")),
        ("CityPay's access token at its placeholder", Some("citypay")),
    ];
    for (i, (case, unfilled)) in cases.into_iter().enumerate() {
        sm.put(
            V1_ARN,
            if unfilled == Some("ccpayment") {
                PLACEHOLDER_ACCOUNT
            } else {
                &v1_filled
            },
        );
        sm.put(
            V2_ARN,
            if unfilled == Some("ccpayment-v2") {
                PLACEHOLDER_ACCOUNT
            } else {
                &v2_filled
            },
        );
        sm.put(
            CITYPAY_ARN,
            if unfilled == Some("citypay") {
                "REPLACE_ME"
            } else {
                "citypay-access-token"
            },
        );
        let config = ReconcilerConfig::load()
            .await
            .unwrap_or_else(|e| panic!("{case}: the reconciler must start: {e}"));
        let skipped: Vec<&str> = config.unconfigured.iter().map(|u| u.provider).collect();
        assert_eq!(skipped, unfilled.into_iter().collect::<Vec<_>>(), "{case}");
        for u in &config.unconfigured {
            assert!(
                u.reason.contains("not filled in yet") || u.reason.contains("placeholder"),
                "{case}: {}",
                u.reason
            );
            assert!(!u.reason.contains(V2_SECRET) && !u.reason.contains(creds.secret.expose()));
        }

        let (client, table) = fresh_table().await;
        // A CityPay order stored while CityPay's API was down: the re-check confirms it.
        let token = format!("unconfigured-{i}");
        let (rx, _) = citypay_receiver(client.clone(), &table, &citypay.base_url());
        citypay.set(&token, Answer::HttpError(503));
        rx.handle(post("citypay", CITYPAY_TOKEN, &order(&token), None))
            .await;
        citypay.set(&token, Answer::Status("CONFIRMED".into()));

        let config_unconfigured = config.unconfigured.clone();
        let (metrics, docs) = shared::metrics::Metrics::memory();
        let reconciler = Reconciler::new(config, Store::new(client, &table, 90), metrics).unwrap();
        let now = shared::clock::now_unix();
        // A manual resend for each CCPayment API; each invocation also runs the
        // scheduled steps, like the function does.
        let mut runs = Vec::new();
        for provider in ["ccpayment", "ccpayment-v2"] {
            match reconciler.handle(&resend(provider, now), now).await {
                Err(e) if unfilled == Some(provider) => {
                    assert!(e.to_string().contains("not configured"), "{case}: {e}")
                }
                Ok(sum) if unfilled != Some(provider) => {
                    assert_eq!(sum.manual_windows_queued, 1, "{case}: {provider}");
                    runs.push(sum);
                }
                other => panic!("{case}: {provider}: {other:?}"),
            }
        }
        runs.push(reconciler.run_at(now).await);
        for sum in &runs {
            assert!(sum.errors.is_empty(), "{case}: {:?}", sum.errors);
            assert_eq!(sum.unconfigured, config_unconfigured, "{case}");
        }
        let total = |f: fn(&shared::reconcile::Summary) -> u32| runs.iter().map(f).sum::<u32>();
        assert_eq!(
            total(|s| s.citypay_updated),
            1,
            "{case}: CityPay's re-check ran"
        );
        assert_eq!(
            total(|s| s.citypay_sweep_pages) > 0,
            unfilled != Some("citypay"),
            "{case}: the order-history sweep"
        );
        // The resend windows queued above: asked of each configured provider.
        assert_eq!(
            total(|s| s.resend_calls) > 0,
            unfilled != Some("ccpayment"),
            "{case}"
        );
        assert_eq!(
            total(|s| s.v2_resend_calls) > 0,
            unfilled != Some("ccpayment-v2"),
            "{case}"
        );
        let docs = docs.lock().unwrap();
        let flagged: Vec<&str> = docs
            .iter()
            .filter(|d| d["ProviderUnconfigured"] == 1.0)
            .filter_map(|d| d["Provider"].as_str())
            .collect();
        // Once per run.
        let expected: Vec<&str> = unfilled.into_iter().cycle().take(runs.len()).collect();
        assert_eq!(flagged, expected, "{case}");
    }
    assert_eq!(
        v1.calls().len(),
        3,
        "one resend in each case with v1 configured"
    );
    assert_eq!(
        v2.resends().len(),
        3,
        "one resend in each case with v2 configured"
    );
}
