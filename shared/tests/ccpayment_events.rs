//! Every committed `events/ccpayment` file, through the handler as `cargo lambda
//! invoke` would deliver it, gets the status `expected.json` names.

mod support;

use std::collections::BTreeMap;

use shared::ccpayment::{CcpaymentConfig, CcpaymentReceiver, Credentials};
use shared::metrics::Metrics;
use shared::secret::Secret;
use shared::store::Store;
use support::*;

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let dir = format!("{}/../events/ccpayment", env!("CARGO_MANIFEST_DIR"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/expected.json")).unwrap())
            .unwrap();
    let expected: BTreeMap<String, u16> =
        serde_json::from_value(manifest["expected_status"].clone()).unwrap();
    let signed_at: i64 = manifest["signed_at"].as_str().unwrap().parse().unwrap();

    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "expected.json")
        .collect();
    files.sort();
    assert_eq!(
        files,
        expected.keys().cloned().collect::<Vec<_>>(),
        "manifest covers every event file"
    );

    let (client, table) = fresh_table().await;
    let (metrics, _) = Metrics::memory();
    let config = CcpaymentConfig {
        credentials: Credentials {
            app_id: manifest["app_id"].as_str().unwrap().into(),
            secret: Secret::new(manifest["app_secret"].as_str().unwrap()),
            previous_secret: None,
        },
        timestamp_window_secs: 300,
        max_body_bytes: 64 * 1024,
    };
    let rx = CcpaymentReceiver::new(config, Store::new(client.clone(), &table, 90), metrics);
    let mut ok = 0;
    for file in &files {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let req = lambda_http::request::from_str(&text).unwrap();
        assert_eq!(
            shared::request::source_ip(&req).as_deref(),
            Some("203.0.113.10")
        );
        let resp = rx.handle_at(req, signed_at).await;
        assert_eq!(
            resp.status().as_u16(),
            expected[file],
            "{file}: {}",
            body_text(&resp)
        );
        if expected[file] == 200 {
            assert_eq!(body_text(&resp), "success");
            ok += 1;
        }
    }
    let items = all_items(&client, &table).await;
    // Two of the accepted samples repeat api-deposit (exactly, and pretty-printed),
    // one conflicts with it.
    assert_eq!(of_type(&items, "event").len(), ok - 3);
    assert_eq!(of_type(&items, "conflict").len(), 1);
}
