//! `template.yaml` declares the same table the code writes to and the local stack
//! creates: same keys, same index, same TTL attribute, and it keeps its data.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use serde_yaml::Value;
use shared::store::schema;

fn template() -> Value {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn table(t: &Value) -> &Value {
    let resources = t["Resources"].as_mapping().unwrap();
    let tables: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::DynamoDB::Table")
        .collect();
    assert_eq!(tables.len(), 1, "one table");
    tables[0]
}

fn pairs(list: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[a].as_str().unwrap().to_string(),
                e[b].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn table_matches_the_code() {
    let t = template();
    let table = table(&t);
    let props = &table["Properties"];
    let mut expected: Vec<(String, String)> = schema::ATTRIBUTES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    expected.sort();
    assert_eq!(
        pairs(
            &props["AttributeDefinitions"],
            "AttributeName",
            "AttributeType"
        ),
        expected
    );
    assert_eq!(
        pairs(&props["KeySchema"], "AttributeName", "KeyType"),
        vec![
            (schema::PK.into(), "HASH".into()),
            (schema::SK.into(), "RANGE".into())
        ]
    );
    let gsis = props["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(gsis.len(), 1);
    assert_eq!(gsis[0]["IndexName"], schema::OPEN_INDEX);
    assert_eq!(
        pairs(&gsis[0]["KeySchema"], "AttributeName", "KeyType"),
        vec![
            (schema::OPEN_PK.into(), "HASH".into()),
            (schema::OPEN_SINCE.into(), "RANGE".into())
        ]
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"],
        schema::TTL_ATTRIBUTE
    );
    assert_eq!(props["TimeToLiveSpecification"]["Enabled"], true);
}

#[test]
fn table_keeps_payment_records() {
    let t = template();
    let table = table(&t);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);
    assert_eq!(
        table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

#[test]
fn every_receiver_is_routed_and_built_with_cargo_lambda() {
    let t = template();
    for (resource, package, path) in [
        (
            "CcpaymentWebhookFunction",
            "ccpayment-webhook",
            "/webhooks/ccpayment",
        ),
        (
            "AlchemypayWebhookFunction",
            "alchemypay-webhook",
            "/webhooks/alchemypay/{token}",
        ),
        (
            "CitypayWebhookFunction",
            "citypay-webhook",
            "/webhooks/citypay/{token}",
        ),
    ] {
        let f = &t["Resources"][resource];
        assert_eq!(
            f["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{resource}"
        );
        assert_eq!(
            f["Properties"]["CodeUri"],
            format!("functions/{package}").as_str()
        );
        assert!(
            std::path::Path::new(&format!(
                "{}/../functions/{package}/Cargo.toml",
                env!("CARGO_MANIFEST_DIR")
            ))
            .exists(),
            "{package} is a workspace package"
        );
        let event = &f["Properties"]["Events"]["Notification"]["Properties"];
        assert_eq!(event["Path"], path, "{resource}");
        assert_eq!(event["Method"], "POST");
    }
    assert_eq!(t["Globals"]["Function"]["Architectures"][0], "arm64");
    assert_eq!(t["Globals"]["Function"]["Runtime"], "provided.al2023");
    assert_eq!(t["Globals"]["Function"]["Handler"], "bootstrap");
}

#[test]
fn reconciler_runs_on_a_schedule_one_at_a_time() {
    let t = template();
    let f = &t["Resources"]["ReconcilerFunction"];
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(f["Properties"]["CodeUri"], "functions/reconciler");
    assert_eq!(f["Properties"]["ReservedConcurrentExecutions"], 1);
    let schedule = &f["Properties"]["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert_eq!(
        t["Parameters"]["ReconcilerSchedule"]["Default"],
        "rate(5 minutes)"
    );
    assert_eq!(t["Parameters"]["ResendDailyCap"]["MaxValue"], 25);
}
