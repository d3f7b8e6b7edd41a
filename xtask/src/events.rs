//! Writes `events/ccpayment/*.json`: API Gateway HTTP API (payload 2.0) events
//! around the sample bodies in `shared/tests/fixtures`, signed with the local
//! credentials, plus `expected.json` with the status each one must get.
//!
//! Timestamps are fixed so the files never change between runs; the local stack
//! widens the timestamp window to match (see the README).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use shared::ccpayment::sign;

use crate::Result;

pub const LOCAL_APP_ID: &str = "local-ccpayment-app-id";
pub const LOCAL_APP_SECRET: &str = "local-ccpayment-app-secret";
/// 2026-01-01T00:00:00Z.
pub const SIGNED_AT: &str = "1767225600";

enum Mutation {
    None,
    BadSignature,
    Timestamp(&'static str),
    AppId(&'static str),
    DropSign,
    Body(String),
}

struct Case {
    name: &'static str,
    fixture: &'static str,
    mutation: Mutation,
    status: u16,
}

fn cases() -> Vec<Case> {
    let ok = |name, fixture| Case {
        name,
        fixture,
        mutation: Mutation::None,
        status: 200,
    };
    vec![
        ok("api-deposit", "api-deposit"),
        ok("api-deposit-pending", "api-deposit-pending"),
        ok("api-deposit-processing", "api-deposit-processing"),
        ok("api-deposit-duplicate", "api-deposit"),
        ok("api-deposit-pretty-printed", "api-deposit-pretty"),
        ok("api-deposit-conflicting", "api-deposit-conflicting"),
        ok("direct-deposit", "direct-deposit"),
        ok("invoice", "invoice"),
        ok("invoice-misspelt-type", "invoice-misspelt"),
        ok("legacy-api-type", "legacy-api"),
        ok("api-withdrawal", "api-withdrawal"),
        ok("api-withdrawal-failed", "api-withdrawal-failed"),
        ok("refund", "refund"),
        ok("unknown-type", "unknown-type"),
        ok("numbers-as-numbers", "numbers-as-numbers"),
        Case {
            name: "reject-bad-signature",
            fixture: "api-deposit",
            mutation: Mutation::BadSignature,
            status: 401,
        },
        Case {
            name: "reject-stale-timestamp",
            fixture: "api-deposit",
            mutation: Mutation::Timestamp("1000000000"),
            status: 401,
        },
        Case {
            name: "reject-future-timestamp",
            fixture: "api-deposit",
            mutation: Mutation::Timestamp("4102444800"),
            status: 401,
        },
        Case {
            name: "reject-wrong-appid",
            fixture: "api-deposit",
            mutation: Mutation::AppId("someone-else"),
            status: 401,
        },
        Case {
            name: "reject-missing-sign",
            fixture: "api-deposit",
            mutation: Mutation::DropSign,
            status: 401,
        },
        Case {
            name: "reject-malformed-json",
            fixture: "api-deposit",
            mutation: Mutation::Body(
                r#"{"pay_status":"success","record_id":"2023022012135316"#.to_string(),
            ),
            status: 400,
        },
        Case {
            name: "reject-missing-record-id",
            fixture: "api-deposit",
            mutation: Mutation::Body(
                r#"{"pay_status":"success","order_type":"API Deposit","paid_amount":"10"}"#
                    .to_string(),
            ),
            status: 400,
        },
        Case {
            name: "reject-too-large",
            fixture: "api-deposit",
            mutation: Mutation::Body(format!(
                r#"{{"pay_status":"success","order_type":"API Deposit","record_id":"1","padding":"{}"}}"#,
                "x".repeat(70 * 1024)
            )),
            status: 413,
        },
    ]
}

pub fn generate() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = root.join("shared/tests/fixtures/ccpayment");
    let out = root.join("events/ccpayment");
    fs::create_dir_all(&out)?;
    let mut expected = BTreeMap::new();
    for case in cases() {
        let fixture = fs::read_to_string(fixtures.join(format!("{}.json", case.fixture)))?;
        let mut body = fixture.trim_end_matches('\n').to_string();
        let mut app_id = LOCAL_APP_ID;
        let mut timestamp = SIGNED_AT;
        let mut signature = None;
        match &case.mutation {
            Mutation::None | Mutation::DropSign => {}
            Mutation::BadSignature => {
                signature = Some(sign(
                    LOCAL_APP_ID,
                    "not-the-secret",
                    SIGNED_AT,
                    body.as_bytes(),
                ))
            }
            Mutation::Timestamp(ts) => timestamp = ts,
            Mutation::AppId(id) => app_id = id,
            Mutation::Body(b) => body = b.clone(),
        }
        let signature =
            signature.unwrap_or_else(|| sign(app_id, LOCAL_APP_SECRET, timestamp, body.as_bytes()));
        let mut headers = json!({
            "content-type": "application/json; charset=utf-8",
            "appid": app_id,
            "timestamp": timestamp,
            "sign": signature,
            "user-agent": "Go-http-client/1.1",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "content-length": body.len().to_string(),
        });
        if matches!(case.mutation, Mutation::DropSign) {
            if let Some(h) = headers.as_object_mut() {
                h.remove("sign");
            }
        }
        let event = envelope(headers, &body);
        let file = format!("{}.json", case.name);
        fs::write(
            out.join(&file),
            serde_json::to_string_pretty(&event)? + "\n",
        )?;
        expected.insert(file, case.status);
    }
    let manifest = json!({
        "app_id": LOCAL_APP_ID,
        "app_secret": LOCAL_APP_SECRET,
        "signed_at": SIGNED_AT,
        "expected_status": expected,
    });
    fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    println!("wrote {} events to {}", expected.len(), out.display());
    Ok(())
}

fn envelope(headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/ccpayment",
        "rawPath": "/webhooks/ccpayment",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": "/webhooks/ccpayment",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Go-http-client/1.1"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "POST /webhooks/ccpayment",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000_i64
        },
        "body": body,
        "isBase64Encoded": false
    })
}
