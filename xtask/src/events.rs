//! Writes `events/<provider>/*.json`: API Gateway HTTP API (payload 2.0) events
//! around the sample bodies in `shared/tests/fixtures`, plus `expected.json` with
//! the status each must get and the local credentials they were made with.
//!
//! CCPayment events are signed with a fixed timestamp so the files never change
//! between runs; the local stack widens the dedupe horizon to match (README).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use shared::ccpayment::sign;

/// Any failure of a task, reported as its message.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub const LOCAL_APP_ID: &str = "local-ccpayment-app-id";
pub const LOCAL_APP_SECRET: &str = "local-ccpayment-app-secret";
pub const LOCAL_V2_APP_ID: &str = "local-ccpayment-v2-app-id";
pub const LOCAL_V2_APP_SECRET: &str = "local-ccpayment-v2-app-secret";
pub const LOCAL_ALCHEMYPAY_TOKEN: &str = "local-alchemypay-path-token-0123456789";
pub const LOCAL_CITYPAY_TOKEN: &str = "local-citypay-path-token-0123456789";
/// 2026-01-01T00:00:00Z.
pub const SIGNED_AT: &str = "1767225600";

enum Change {
    None,
    BadSignature,
    /// Signed with the v1 formula: what an account on the wrong version sends.
    V1Signature,
    /// A `Sign` header of this exact value.
    Sign(&'static str),
    Timestamp(&'static str),
    AppId(&'static str),
    DropSign,
    Token(&'static str),
    Body(String),
}

struct Case {
    name: &'static str,
    fixture: &'static str,
    change: Change,
    status: u16,
}

fn ok(name: &'static str, fixture: &'static str) -> Case {
    Case {
        name,
        fixture,
        change: Change::None,
        status: 200,
    }
}

fn bad(name: &'static str, fixture: &'static str, change: Change, status: u16) -> Case {
    Case {
        name,
        fixture,
        change,
        status,
    }
}

fn oversized(key: &str) -> Change {
    Change::Body(format!(
        r#"{{"{key}":"1","padding":"{}"}}"#,
        "x".repeat(70 * 1024)
    ))
}

fn ccpayment_cases() -> Vec<Case> {
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
        bad(
            "reject-bad-signature",
            "api-deposit",
            Change::BadSignature,
            401,
        ),
        // A resend that kept its first attempt's timestamp, an hour old: stored, flagged.
        Case {
            name: "stale-timestamp-resend",
            fixture: "direct-deposit",
            change: Change::Timestamp("1767222000"),
            status: 200,
        },
        bad(
            "reject-expired-timestamp",
            "api-deposit",
            Change::Timestamp("1000000000"),
            401,
        ),
        bad(
            "reject-future-timestamp",
            "api-deposit",
            Change::Timestamp("4102444800"),
            401,
        ),
        bad(
            "reject-wrong-appid",
            "api-deposit",
            Change::AppId("someone-else"),
            401,
        ),
        bad("reject-missing-sign", "api-deposit", Change::DropSign, 401),
        bad(
            "quarantine-malformed-json",
            "api-deposit",
            Change::Body(r#"{"pay_status":"success","record_id":"2023022012135316"#.into()),
            200,
        ),
        bad(
            "quarantine-missing-record-id",
            "api-deposit",
            Change::Body(
                r#"{"pay_status":"success","order_type":"API Deposit","paid_amount":"10"}"#.into(),
            ),
            200,
        ),
        bad(
            "reject-too-large",
            "api-deposit",
            oversized("record_id"),
            413,
        ),
    ]
}

fn ccpayment_v2_cases() -> Vec<Case> {
    vec![
        ok("direct-deposit", "direct-deposit"),
        ok("direct-deposit-duplicate", "direct-deposit"),
        ok("api-deposit", "api-deposit"),
        ok("invoice-deposit", "invoice-deposit"),
        ok("plugin-api-deposit", "plugin-api-deposit"),
        ok("api-deposit-processing", "api-deposit-processing"),
        ok("api-withdrawal", "api-withdrawal"),
        ok("api-withdrawal-waiting-approval", "api-withdrawal-waiting-approval"),
        ok("api-withdrawal-rejected", "api-withdrawal-rejected"),
        ok("user-deposit", "user-deposit"),
        ok("user-withdrawal", "user-withdrawal"),
        ok("direct-deposit-failed", "direct-deposit-failed"),
        ok("direct-deposit-risky", "direct-deposit-risky"),
        ok("record-api-failing", "api-deposit-record-api-failing"),
        ok("unknown-type", "unknown-type"),
        ok("unknown-status", "unknown-status"),
        ok("activate-webhook-url", "activate-webhook-url"),
        Case {
            name: "stale-timestamp-resend",
            fixture: "user-withdrawal",
            change: Change::Timestamp("1767222000"),
            status: 200,
        },
        bad(
            "reject-bad-signature",
            "direct-deposit",
            Change::BadSignature,
            401,
        ),
        bad(
            "reject-v1-signature",
            "direct-deposit",
            Change::V1Signature,
            401,
        ),
        bad(
            "reject-rsa-signature",
            "direct-deposit",
            Change::Sign("R3l4bW9yZSBiYXNlNjQgUlNBIHNpZ25hdHVyZSBzYW1wbGUgdGV4dCBmb3IgdGVzdHM="),
            401,
        ),
        bad(
            "reject-unknown-appid",
            "direct-deposit",
            Change::AppId("someone-else"),
            401,
        ),
        bad(
            "reject-expired-timestamp",
            "direct-deposit",
            Change::Timestamp("1000000000"),
            401,
        ),
        bad("reject-missing-sign", "direct-deposit", Change::DropSign, 401),
        bad(
            "quarantine-malformed-json",
            "direct-deposit",
            // The documented invoice sample as printed, with its trailing comma.
            Change::Body(
                r#"{"type":"ApiDeposit","msg":{"recordId":"20240919035020188328269786624000","orderId":"1726717497","coinId":2541,"coinSymbol":"POL","status":"Success","isFlaggedAsRisky":false,}}"#
                    .into(),
            ),
            200,
        ),
        bad(
            "quarantine-missing-record-id",
            "direct-deposit",
            Change::Body(r#"{"type":"DirectDeposit","msg":{"status":"Success"}}"#.into()),
            200,
        ),
        bad("reject-too-large", "direct-deposit", oversized("type"), 413),
    ]
}

fn alchemypay_cases() -> Vec<Case> {
    vec![
        ok("init", "init"),
        ok("refunding", "refunding"),
        ok("success", "success"),
        ok("success-resent", "success"),
        ok("fail", "fail"),
        ok("cancel", "cancel"),
        ok("shipping-info-object", "shipping-object"),
        ok("shipping-info-string", "shipping-string"),
        ok("numbers-as-numbers", "numbers"),
        ok("apply-fee-documentation-bug", "apply-fee-bug"),
        ok("unknown-status", "unknown-status"),
        bad(
            "reject-wrong-token",
            "success",
            Change::Token("guessed-token-0123456789abcdef"),
            401,
        ),
        bad(
            "quarantine-missing-order-no",
            "success",
            Change::Body(r#"{"status":"SUCCESS","cardNumber":""}"#.into()),
            200,
        ),
        bad(
            "quarantine-not-json",
            "success",
            Change::Body("orderNo=1&status=SUCCESS".into()),
            200,
        ),
        bad("reject-too-large", "success", oversized("orderNo"), 413),
    ]
}

fn citypay_cases() -> Vec<Case> {
    vec![
        ok("order-created", "order-created"),
        ok("order-transaction", "order-transaction"),
        ok("order-confirmed-claim-unbacked", "order-confirmed"),
        ok("order-confirmed", "order-confirmed-paid"),
        ok("order-string-values", "order-strings"),
        ok("deposit-pending", "deposit-pending"),
        ok("deposit-confirmed", "deposit-confirmed"),
        bad(
            "reject-wrong-token",
            "order-confirmed-paid",
            Change::Token("guessed-token-0123456789abcdef"),
            401,
        ),
        bad(
            "quarantine-missing-order-token",
            "order-confirmed-paid",
            Change::Body(r#"{"type":"order callback","status":"CONFIRMED"}"#.into()),
            200,
        ),
        bad(
            "quarantine-unknown-kind",
            "order-confirmed-paid",
            Change::Body(r#"{"status":"CONFIRMED"}"#.into()),
            200,
        ),
    ]
}

pub fn generate() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let providers = [
        ("ccpayment", ccpayment_cases()),
        ("ccpayment-v2", ccpayment_v2_cases()),
        ("alchemypay", alchemypay_cases()),
        ("citypay", citypay_cases()),
    ];
    for p in shared::registry::ALL {
        if !providers.iter().any(|(name, _)| *name == p.name) {
            return Err(format!(
                "no sample events for provider {}: add its cases here",
                p.name
            )
            .into());
        }
    }
    let mut total = 0;
    for (provider, cases) in providers {
        total += write_provider(&root, provider, cases)?;
    }
    println!(
        "wrote {total} events under {}",
        root.join("events").display()
    );
    Ok(())
}

fn write_provider(root: &Path, provider: &str, cases: Vec<Case>) -> Result<usize> {
    let fixtures = root.join("shared/tests/fixtures").join(provider);
    let out: PathBuf = root.join("events").join(provider);
    fs::create_dir_all(&out)?;
    let mut expected = BTreeMap::new();
    for case in &cases {
        let fixture = fs::read_to_string(fixtures.join(format!("{}.json", case.fixture)))?;
        let mut body = fixture.trim_end_matches('\n').to_string();
        if let Change::Body(b) = &case.change {
            body = b.clone();
        }
        let event = match provider {
            "ccpayment" => signed_event(&V1, case, &body),
            "ccpayment-v2" => signed_event(&V2, case, &body),
            _ => token_event(provider, case, &body),
        };
        let file = format!("{}.json", case.name);
        fs::write(
            out.join(&file),
            serde_json::to_string_pretty(&event)? + "\n",
        )?;
        expected.insert(file, case.status);
    }
    let mut manifest = json!({ "expected_status": expected });
    let extra = match provider {
        "ccpayment" => {
            json!({"app_id": LOCAL_APP_ID, "app_secret": LOCAL_APP_SECRET, "signed_at": SIGNED_AT})
        }
        "ccpayment-v2" => {
            json!({"app_id": LOCAL_V2_APP_ID, "app_secret": LOCAL_V2_APP_SECRET, "signed_at": SIGNED_AT})
        }
        "alchemypay" => json!({"path_token": LOCAL_ALCHEMYPAY_TOKEN}),
        _ => json!({"path_token": LOCAL_CITYPAY_TOKEN}),
    };
    if let (Some(m), Some(e)) = (manifest.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    Ok(cases.len())
}

/// CCPayment's API versions: the same headers, a different signature.
struct Signer {
    route: &'static str,
    app_id: &'static str,
    secret: &'static str,
    sign: fn(&str, &str, &str, &[u8]) -> String,
    content_type: &'static str,
    user_agent: &'static str,
}

const V1: Signer = Signer {
    route: "/webhooks/ccpayment",
    app_id: LOCAL_APP_ID,
    secret: LOCAL_APP_SECRET,
    sign,
    content_type: "application/json; charset=utf-8",
    user_agent: "Go-http-client/1.1",
};

const V2: Signer = Signer {
    route: "/webhooks/ccpayment-v2",
    app_id: LOCAL_V2_APP_ID,
    secret: LOCAL_V2_APP_SECRET,
    sign: shared::ccpayment_v2::signature::sign,
    content_type: "application/json",
    user_agent: "Go-http-client/2.0",
};

fn signed_event(signer: &Signer, case: &Case, body: &str) -> Value {
    let mut app_id = signer.app_id;
    let mut timestamp = SIGNED_AT;
    let mut secret = signer.secret;
    match &case.change {
        Change::BadSignature => secret = "not-the-secret",
        Change::Timestamp(ts) => timestamp = ts,
        Change::AppId(id) => app_id = id,
        _ => {}
    }
    let signature = match &case.change {
        Change::V1Signature => sign(app_id, secret, timestamp, body.as_bytes()),
        Change::Sign(s) => (*s).to_string(),
        _ => (signer.sign)(app_id, secret, timestamp, body.as_bytes()),
    };
    let mut headers = json!({
        "content-type": signer.content_type,
        "appid": app_id,
        "timestamp": timestamp,
        "sign": signature,
        "user-agent": signer.user_agent,
    });
    if matches!(case.change, Change::DropSign) {
        if let Some(h) = headers.as_object_mut() {
            h.remove("sign");
        }
    }
    envelope(
        signer.route,
        &format!("POST {}", signer.route),
        None,
        headers,
        body,
    )
}

fn token_event(provider: &str, case: &Case, body: &str) -> Value {
    let token = match (&case.change, provider) {
        (Change::Token(t), _) => *t,
        (_, "alchemypay") => LOCAL_ALCHEMYPAY_TOKEN,
        _ => LOCAL_CITYPAY_TOKEN,
    };
    let headers = json!({
        "content-type": "application/json",
        "user-agent": format!("{provider}-notifier/1.0"),
    });
    envelope(
        &format!("/webhooks/{provider}/{token}"),
        &format!("POST /webhooks/{provider}/{{token}}"),
        Some(token),
        headers,
        body,
    )
}

fn envelope(path: &str, route: &str, token: Option<&str>, mut headers: Value, body: &str) -> Value {
    if let Some(h) = headers.as_object_mut() {
        h.insert(
            "host".into(),
            "abc123.execute-api.us-east-1.amazonaws.com".into(),
        );
        h.insert("content-length".into(), body.len().to_string().into());
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "notifier"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route,
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000_i64
        },
        "body": body,
        "isBase64Encoded": false
    });
    if let (Some(t), Some(e)) = (token, event.as_object_mut()) {
        e.insert("pathParameters".into(), json!({ "token": t }));
    }
    event
}
