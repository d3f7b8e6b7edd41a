//! Every committed `events/<provider>` file, through its receiver as `cargo lambda
//! invoke` would deliver it, gets the status its `expected.json` names.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

use std::collections::BTreeMap;

use lambda_http::{Body, Request, Response};
use shared::alchemypay::{AlchemypayConfig, AlchemypayReceiver};
use shared::ccpayment::{CcpaymentConfig, CcpaymentReceiver, Credentials};
use shared::citypay::{Citypay, CitypayConfig, CitypayReceiver};
use shared::intake::IpAllowList;
use shared::metrics::Metrics;
use shared::secret::Secret;
use shared::store::Store;
use support::*;
use testkit::citypay::FakeCityPay;

struct Samples {
    manifest: serde_json::Value,
    files: Vec<(String, u16, Request)>,
}

fn samples(provider: &str) -> Samples {
    let dir = format!("{}/../events/{provider}", env!("CARGO_MANIFEST_DIR"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/expected.json")).unwrap())
            .unwrap();
    let expected: BTreeMap<String, u16> =
        serde_json::from_value(manifest["expected_status"].clone()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "expected.json")
        .collect();
    names.sort();
    assert_eq!(
        names,
        expected.keys().cloned().collect::<Vec<_>>(),
        "{provider}: manifest covers every file"
    );
    let files = names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            let req = lambda_http::request::from_str(&text).unwrap();
            assert_eq!(
                shared::request::source_ip(&req).as_deref(),
                Some("203.0.113.10")
            );
            let status = expected[&name];
            (name, status, req)
        })
        .collect();
    Samples { manifest, files }
}

/// Whether the sample was stored as a notification: answered 200 and not one
/// kept in quarantine (`quarantine-…`: authentic, but a body we cannot use).
fn check(provider: &str, name: &str, expected: u16, resp: &Response<Body>) -> bool {
    assert_eq!(
        resp.status().as_u16(),
        expected,
        "{provider}/{name}: {}",
        body_text(resp)
    );
    expected == 200 && !name.starts_with("quarantine-")
}

/// A provider without samples, or samples without a provider, fails here.
#[test]
fn every_provider_has_its_events_folder() {
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut folders: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "reconciler")
        .collect();
    folders.sort();
    let mut providers: Vec<String> = shared::registry::ALL
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    providers.sort();
    assert_eq!(folders, providers);
}

#[tokio::test]
async fn ccpayment_samples() {
    let Samples { manifest, files } = samples("ccpayment");
    let (client, table) = fresh_table().await;
    let config = CcpaymentConfig {
        accounts: shared::ccpayment::credentials::Accounts::one(Credentials::new(
            manifest["app_id"].as_str().unwrap(),
            manifest["app_secret"].as_str().unwrap(),
        )),
        freshness: shared::timestamp::Freshness {
            window_secs: 300,
            horizon_secs: 90 * 86_400,
        },
        max_body_bytes: 64 * 1024,
    };
    let signed_at: i64 = manifest["signed_at"].as_str().unwrap().parse().unwrap();
    let rx = CcpaymentReceiver::new(
        config,
        Store::new(client.clone(), &table, 90),
        Metrics::memory().0,
    );
    let mut accepted = 0;
    for (name, status, req) in files {
        accepted += usize::from(check(
            "ccpayment",
            &name,
            status,
            &rx.handle_at(req, signed_at).await,
        ));
    }
    let items = all_items(&client, &table).await;
    // Two accepted samples repeat api-deposit (exactly, and pretty-printed), one conflicts
    // with it, and one is a stale resend of direct-deposit.
    assert_eq!(of_type(&items, "event").len(), accepted - 4);
    assert_eq!(of_type(&items, "conflict").len(), 1);
}

#[tokio::test]
async fn ccpayment_v2_samples() {
    let Samples { manifest, files } = samples("ccpayment-v2");
    let (client, table) = fresh_table().await;
    let app_id = manifest["app_id"].as_str().unwrap();
    let secret = manifest["app_secret"].as_str().unwrap();
    let fake = testkit::ccpayment_v2::FakeCcpaymentV2::start(app_id, secret).await;
    let mut config = v2_config(&fake.base_url());
    config.accounts =
        shared::ccpayment::credentials::Accounts::one(Credentials::new(app_id, secret));
    let (rx, docs) = ccpayment_v2_receiver(client.clone(), &table, config);
    let signed_at: i64 = manifest["signed_at"].as_str().unwrap().parse().unwrap();
    let mut accepted = 0;
    for (name, status, req) in files {
        let resp = rx.handle_at(req, signed_at).await;
        if check("ccpayment-v2", &name, status, &resp) {
            assert_eq!(body_text(&resp), "Success", "{name}");
            accepted += 1;
        }
    }
    let items = all_items(&client, &table).await;
    // One duplicate of direct-deposit, one stale resend of user-withdrawal, and the
    // registration ping, which is counted and not stored.
    assert_eq!(of_type(&items, "event").len(), accepted - 3);
    assert_eq!(shared::metrics::total(&docs, "Acknowledged"), 1.0);
    let risky = state_item(
        &client,
        &table,
        "ccpayment-v2",
        "risky-20240313113108116087378078994437",
    )
    .await
    .unwrap();
    assert_eq!(s(&risky, "status"), Some("FlaggedAsRisky"));
    assert!(risky.contains_key("open_pk"), "held open for a human");
    assert_eq!(
        fake.refused_signatures(),
        0,
        "every record API call was signed"
    );
}

#[tokio::test]
async fn alchemypay_samples() {
    let Samples { manifest, files } = samples("alchemypay");
    let (client, table) = fresh_table().await;
    let config = AlchemypayConfig {
        path_token: Secret::new(manifest["path_token"].as_str().unwrap()),
        allowed_ips: IpAllowList::default(),
        max_body_bytes: 64 * 1024,
    };
    let rx = AlchemypayReceiver::new(
        config,
        Store::new(client.clone(), &table, 90),
        Metrics::memory().0,
    );
    let mut accepted = 0;
    for (name, status, req) in files {
        accepted += usize::from(check("alchemypay", &name, status, &rx.handle(req).await));
    }
    // `success-resent` repeats `success`.
    assert_eq!(
        of_type(&all_items(&client, &table).await, "event").len(),
        accepted - 1
    );
}

#[tokio::test]
async fn citypay_samples() {
    let Samples { manifest, files } = samples("citypay");
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    let config = CitypayConfig {
        path_token: Secret::new(manifest["path_token"].as_str().unwrap()),
        allowed_ips: IpAllowList::default(),
        max_body_bytes: 64 * 1024,
        api_base: fake.base_url(),
        confirm_timeout: std::time::Duration::from_secs(2),
        customer_id: Some(testkit::citypay::CUSTOMER_ID.to_string()),
    };
    let rx = CitypayReceiver::new(
        Citypay::new(config).unwrap(),
        Store::new(client.clone(), &table, 90),
        Metrics::memory().0,
    );
    let mut accepted = 0;
    for (name, status, req) in files {
        accepted += usize::from(check("citypay", &name, status, &rx.handle(req).await));
    }
    assert_eq!(
        of_type(&all_items(&client, &table).await, "event").len(),
        accepted
    );
    let paid = state_item(&client, &table, "citypay", "order:paid-order-2002")
        .await
        .unwrap();
    assert_eq!(s(&paid, "status"), Some("CONFIRMED"));
}
