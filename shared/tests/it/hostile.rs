//! A corpus of hostile and malformed deliveries for every provider. An
//! unauthenticated one gets the right 4xx with a clear reason; an authentic one
//! (signature or path token valid) whose body we cannot use is kept in quarantine
//! with that reason and answered success, since refusing it would lose it for
//! good. Either way nothing about records is stored: no event, state, conflict or
//! payment item (a refused CCPayment delivery that looked authentic may leave
//! only its hour's mark for the reconciler).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout)]

use crate::support;

use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request};
use support::*;
use testkit::citypay::FakeCityPay;

struct Case {
    name: &'static str,
    req: Request,
    status: u16,
    reason: &'static str,
}

fn case(name: &'static str, req: Request, status: u16, reason: &'static str) -> Case {
    Case {
        name,
        req,
        status,
        reason,
    }
}

fn with_header(mut req: Request, name: &'static str, value: HeaderValue) -> Request {
    req.headers_mut().insert(name, value);
    req
}

fn repeated(mut req: Request, name: &'static str) -> Request {
    let v = req.headers()[name].clone();
    req.headers_mut().append(name, v);
    req
}

fn without(mut req: Request, name: &'static str) -> Request {
    req.headers_mut().remove(name);
    req
}

fn ccpayment_cases() -> Vec<Case> {
    let ok = fixture("api-deposit");
    let deep = format!(
        r#"{{"record_id":"1","pay_status":"success","x":{}{}}}"#,
        "[".repeat(64),
        "]".repeat(64)
    );
    let huge_id = format!(
        r#"{{"record_id":"{}","pay_status":"success"}}"#,
        "9".repeat(300)
    );
    let mut form = signed(b"record_id=1&pay_status=success", NOW);
    form.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let mut get = signed(&ok, NOW);
    *get.method_mut() = Method::GET;
    vec![
        case(
            "truncated body",
            signed(&ok[..ok.len() / 2], NOW),
            KEPT,
            "truncated JSON",
        ),
        case(
            "non-UTF-8 body",
            signed(
                b"{\"record_id\":\"\xc3\x28\",\"pay_status\":\"success\"}",
                NOW,
            ),
            KEPT,
            "not UTF-8",
        ),
        case("form-encoded body", form, KEPT, "invalid JSON"),
        case(
            "JSON array",
            signed(b"[{\"record_id\":\"1\"}]", NOW),
            KEPT,
            "expected a JSON object",
        ),
        case(
            "JSON null",
            signed(b"null", NOW),
            KEPT,
            "expected a JSON object",
        ),
        case("empty body", signed(b"", NOW), KEPT, "truncated JSON"),
        case(
            "deep nesting",
            signed(deep.as_bytes(), NOW),
            KEPT,
            "nesting deeper than 32",
        ),
        case(
            "huge amount",
            signed(
                br#"{"record_id":"1","pay_status":"success","paid_amount":"1e400"}"#,
                NOW,
            ),
            KEPT,
            "`paid_amount` is not a decimal",
        ),
        case(
            "a flag as a number",
            signed(
                br#"{"record_id":"1","pay_status":"success","merchant_pays_fee":1}"#,
                NOW,
            ),
            KEPT,
            "`merchant_pays_fee` must be a boolean",
        ),
        case(
            "a rate as a dash",
            signed(
                br#"{"record_id":"1","pay_status":"success","fiat_rate":"-"}"#,
                NOW,
            ),
            KEPT,
            "`fiat_rate` is not a decimal",
        ),
        case(
            "huge numeric amount",
            signed(
                br#"{"record_id":"1","pay_status":"success","paid_amount":1e400}"#,
                NOW,
            ),
            KEPT,
            "`paid_amount` is not a decimal",
        ),
        case(
            "300-digit record id",
            signed(huge_id.as_bytes(), NOW),
            KEPT,
            "`record_id` is too long",
        ),
        case(
            "duplicated key",
            signed(
                br#"{"record_id":"1","pay_status":"pending","pay_status":"success"}"#,
                NOW,
            ),
            KEPT,
            "duplicate key `pay_status`",
        ),
        case(
            "record_id of the wrong type",
            signed(br#"{"record_id":["1"],"pay_status":"success"}"#, NOW),
            KEPT,
            "`record_id` must be",
        ),
        case(
            "pay_status of the wrong type",
            signed(br#"{"record_id":"1","pay_status":{"v":"success"}}"#, NOW),
            KEPT,
            "`pay_status` must be",
        ),
        case(
            "extend of the wrong type",
            signed(
                br#"{"record_id":"1","pay_status":"success","extend":[1]}"#,
                NOW,
            ),
            KEPT,
            "`extend` must be an object",
        ),
        case(
            "oversized body",
            signed(&vec![b'{'; 65 * 1024], NOW),
            413,
            "larger than 65536 bytes",
        ),
        case(
            "missing Sign",
            without(signed(&ok, NOW), "sign"),
            401,
            "header `sign` is missing",
        ),
        case(
            "missing Timestamp",
            without(signed(&ok, NOW), "timestamp"),
            401,
            "header `timestamp` is missing",
        ),
        case(
            "missing Appid",
            without(signed(&ok, NOW), "appid"),
            401,
            "header `appid` is missing",
        ),
        case(
            "repeated Sign",
            repeated(signed(&ok, NOW), "sign"),
            401,
            "header `sign` is repeated",
        ),
        case(
            "repeated Timestamp",
            repeated(signed(&ok, NOW), "timestamp"),
            401,
            "header `timestamp` is repeated",
        ),
        case(
            "non-ASCII header bytes",
            with_header(
                signed(&ok, NOW),
                "sign",
                HeaderValue::from_bytes(b"\xe2\x80\x8babc").unwrap(),
            ),
            401,
            "not visible ASCII",
        ),
        case(
            "Appid with a suffix",
            with_header(
                signed(&ok, NOW),
                "appid",
                HeaderValue::from_static("test-app-id ; x=1"),
            ),
            401,
            "Appid does not match",
        ),
        case(
            "signature of another body",
            with_header(
                signed(&ok, NOW),
                "sign",
                HeaderValue::from_str(&shared::ccpayment::sign(
                    APP_ID,
                    SECRET,
                    &NOW.to_string(),
                    b"{}",
                ))
                .unwrap(),
            ),
            401,
            "Sign does not match",
        ),
        case(
            "replayed signature older than the dedupe horizon",
            signed(&ok, NOW - 91 * 86_400),
            401,
            "older than the dedupe horizon",
        ),
        case(
            "timestamp in microseconds",
            with_header(
                signed(&ok, NOW),
                "timestamp",
                HeaderValue::from_str(&(NOW * 1_000_000).to_string()).unwrap(),
            ),
            401,
            "Timestamp is not Unix seconds",
        ),
        case(
            "empty Sign",
            with_header(signed(&ok, NOW), "sign", HeaderValue::from_static("")),
            401,
            "not 64 hex",
        ),
        case("GET instead of POST", get, 405, "use POST"),
    ]
}

fn token_cases(provider: &'static str, token: &'static str, good: Vec<u8>) -> Vec<Case> {
    let p = |t: &str, b: &[u8]| post(provider, t, b, None);
    let deep = format!(r#"{{"x":{}{}}}"#, "{\"a\":".repeat(40), "}".repeat(40));
    vec![
        case(
            "guessed token",
            p("0123456789abcdef0123456789abcdef", &good),
            401,
            "path token does not match",
        ),
        case(
            "token prefix",
            p(&token[..token.len() - 1], &good),
            401,
            "path token does not match",
        ),
        case(
            "token with a suffix",
            p(&format!("{token}0"), &good),
            401,
            "path token does not match",
        ),
        case(
            "upper-cased token",
            p(&token.to_uppercase(), &good),
            401,
            "path token does not match",
        ),
        case(
            "percent-encoded token",
            p(&token.replace('-', "%2D"), &good),
            401,
            "path token does not match",
        ),
        case("no token", p("", &good), 401, "path token missing"),
        case(
            "not JSON",
            p(token, b"orderNo=1&status=SUCCESS"),
            KEPT,
            "invalid JSON",
        ),
        case(
            "non-UTF-8",
            p(token, b"{\"status\":\"\xff\"}"),
            KEPT,
            "not UTF-8",
        ),
        case(
            "truncated",
            p(token, &good[..good.len() / 3]),
            KEPT,
            "truncated JSON",
        ),
        case(
            "deep nesting",
            p(token, deep.as_bytes()),
            KEPT,
            "nesting deeper than 32",
        ),
        case(
            "duplicated key",
            p(token, br#"{"status":"SUCCESS","status":"FAIL"}"#),
            KEPT,
            "duplicate key `status`",
        ),
        case(
            "oversized",
            p(token, &vec![b' '; 70_000]),
            413,
            "larger than 65536 bytes",
        ),
    ]
}

/// A body with a valid signature or path token that we cannot use: answered
/// success, kept in quarantine with this reason.
const KEPT: u16 = 200;

async fn run(
    cases: Vec<Case>,
    handle: impl AsyncFn(Request) -> lambda_http::Response<Body>,
    store: &(aws_sdk_dynamodb::Client, String),
) -> usize {
    let n = cases.len();
    for c in cases {
        let resp = handle(c.req).await;
        let text = body_text(&resp);
        assert_eq!(resp.status().as_u16(), c.status, "{}: {text}", c.name);
        if c.status == KEPT {
            assert!(
                ["success", "Success", "ok"].contains(&text.as_str()),
                "{}: {text:?}",
                c.name
            );
            let items = all_items(&store.0, &store.1).await;
            assert!(
                of_type(&items, "quarantine")
                    .iter()
                    .any(|q| s(q, "reason").is_some_and(|r| r.contains(c.reason))),
                "{}: no quarantined body says {:?}",
                c.name,
                c.reason
            );
            continue;
        }
        assert!(
            text.contains(c.reason),
            "{}: {text:?} should say {:?}",
            c.name,
            c.reason
        );
        assert!(text.len() < 200, "{}: reasons are short", c.name);
    }
    n
}

fn ccpayment_v2_cases() -> Vec<Case> {
    let ok = fixture_of("ccpayment-v2", "direct-deposit");
    let v2 = |b: &[u8]| signed_v2(b, NOW);
    vec![
        case(
            "v2: wrong secret",
            signed_v2_by(V2_APP_ID, "guessed", &ok, NOW),
            401,
            "Sign does not match",
        ),
        case(
            "v2: signed the v1 way",
            with_header(
                v2(&ok),
                "sign",
                HeaderValue::from_str(&shared::ccpayment::sign(
                    V2_APP_ID,
                    V2_SECRET,
                    &NOW.to_string(),
                    &ok,
                ))
                .unwrap(),
            ),
            401,
            "Sign does not match",
        ),
        case(
            "v2: RSA signature",
            with_header(
                v2(&ok),
                "sign",
                HeaderValue::from_static("R3l4bW9yZSBiYXNlNjQgUlNBIHNpZ25hdHVyZQ=="),
            ),
            401,
            "RSA signatures are not supported",
        ),
        case(
            "v2: unknown App ID",
            signed_v2_by("someone-else", V2_SECRET, &ok, NOW),
            401,
            "does not match a configured account",
        ),
        case(
            "v2: no Sign",
            without(v2(&ok), "sign"),
            401,
            "header `sign` is missing",
        ),
        case(
            "v2: Sign twice",
            repeated(v2(&ok), "sign"),
            401,
            "header `sign` is repeated",
        ),
        case(
            "v2: older than the dedupe horizon",
            signed_v2(&ok, NOW - 91 * 86_400),
            401,
            "older than the dedupe horizon",
        ),
        case(
            "v2: trailing comma, as the docs print one sample",
            v2(br#"{"type":"ApiDeposit","msg":{"recordId":"1","status":"Success",}}"#),
            KEPT,
            "invalid JSON",
        ),
        case(
            "v2: no type",
            v2(br#"{"msg":{"recordId":"1","status":"Success"}}"#),
            KEPT,
            "`type` is missing",
        ),
        case(
            "v2: no msg",
            v2(br#"{"type":"ApiDeposit"}"#),
            KEPT,
            "`msg` is missing",
        ),
        case(
            "v2: msg a string",
            v2(br#"{"type":"ApiDeposit","msg":"x"}"#),
            KEPT,
            "`msg` must be",
        ),
        case(
            "v2: no recordId",
            v2(br#"{"type":"ApiDeposit","msg":{"status":"Success"}}"#),
            KEPT,
            "`recordId` is missing",
        ),
        case(
            "v2: no status",
            v2(br#"{"type":"ApiDeposit","msg":{"recordId":"1"}}"#),
            KEPT,
            "`status` is missing",
        ),
        case(
            "v2: oversized",
            v2(&vec![b' '; 70_000]),
            413,
            "larger than 65536 bytes",
        ),
    ]
}

fn assert_no_records(items: &[Item]) {
    for kind in ["event", "state", "conflict", "payment"] {
        assert!(of_type(items, kind).is_empty(), "a {kind} item was stored");
    }
}

#[tokio::test]
async fn every_hostile_delivery_is_refused_or_kept_and_nothing_is_applied() {
    let (client, table) = fresh_table().await;
    let kept = (client.clone(), table.clone());
    let (ccpayment, _) = receiver(client.clone(), &table);
    let (alchemy, _) = alchemy_receiver(client.clone(), &table, "");
    let fake = FakeCityPay::start().await;
    let (citypay, _) = citypay_receiver(client.clone(), &table, &fake.base_url());

    let mut total = run(
        ccpayment_cases(),
        async |r| ccpayment.handle_at(r, NOW).await,
        &kept,
    )
    .await;

    let fake_v2 = testkit::ccpayment_v2::FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    let (ccpayment_v2, _) =
        ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake_v2.base_url()));
    total += run(
        ccpayment_v2_cases(),
        async |r| ccpayment_v2.handle_at(r, NOW).await,
        &kept,
    )
    .await;

    let mut alchemy_cases = token_cases(
        "alchemypay",
        ALCHEMY_TOKEN,
        fixture_of("alchemypay", "success"),
    );
    let a = |b: &[u8]| post("alchemypay", ALCHEMY_TOKEN, b, None);
    alchemy_cases.extend([
        case(
            "orderNo missing",
            a(br#"{"status":"SUCCESS","cardNumber":"5554748800912345"}"#),
            KEPT,
            "`orderNo` is missing",
        ),
        case(
            "orderNo an object",
            a(br#"{"orderNo":{"n":1},"status":"SUCCESS"}"#),
            KEPT,
            "`orderNo` must be",
        ),
        case(
            "status missing",
            a(br#"{"orderNo":"1"}"#),
            KEPT,
            "`status` is missing",
        ),
        case(
            "cardNumber an array",
            a(br#"{"orderNo":"1","status":"SUCCESS","cardNumber":[5554748800912345]}"#),
            KEPT,
            "`cardNumber` must be",
        ),
        case(
            "fractional orderNo",
            a(br#"{"orderNo":1.5,"status":"SUCCESS"}"#),
            KEPT,
            "`orderNo` must be",
        ),
    ]);
    let allow_listed = alchemy_receiver(client.clone(), &table, "198.51.100.0/24").0;
    total += run(alchemy_cases, async |r| alchemy.handle(r).await, &kept).await;
    total += run(
        vec![
            case(
                "address not allowed",
                post(
                    "alchemypay",
                    ALCHEMY_TOKEN,
                    &fixture_of("alchemypay", "success"),
                    Some("203.0.113.9"),
                ),
                403,
                "source address not allowed",
            ),
            case(
                "address unknown",
                post(
                    "alchemypay",
                    ALCHEMY_TOKEN,
                    &fixture_of("alchemypay", "success"),
                    None,
                ),
                403,
                "source address unknown",
            ),
        ],
        async |r| allow_listed.handle(r).await,
        &kept,
    )
    .await;

    let mut city_cases = token_cases(
        "citypay",
        CITYPAY_TOKEN,
        fixture_of("citypay", "order-confirmed-paid"),
    );
    let c = |b: &[u8]| post("citypay", CITYPAY_TOKEN, b, None);
    city_cases.extend([
        case("neither order nor deposit", c(br#"{"status":"CONFIRMED"}"#), KEPT, "cannot tell an order callback from a deposit callback"),
        case("order without token", c(br#"{"type":"order callback","status":"CONFIRMED"}"#), KEPT, "`order_token` is missing"),
        case("order without status", c(br#"{"type":"order callback","order_token":"t"}"#), KEPT, "`status` is missing"),
        case("deposit without transaction", c(br#"{"type":"deposit callback","status":"Confirmed"}"#), KEPT, "`transaction_id` is missing"),
        case("token an array", c(br#"{"type":"order callback","status":"CONFIRMED","order_token":["t"]}"#), KEPT, "`order_token` must be"),
        case("amount not a number", c(br#"{"type":"deposit callback","status":"Confirmed","transaction_id":"t","received_amount":"lots"}"#), KEPT, "`received_amount` is not a decimal"),
    ]);
    total += run(city_cases, async |r| citypay.handle(r).await, &kept).await;

    assert!(total >= 40, "{total} cases");
    println!("hostile: {total} cases, each refused with its 4xx or kept in quarantine");
    assert_no_records(&all_items(&client, &table).await);
    assert_eq!(
        fake.lookups("t").await,
        0,
        "nothing refused reached CityPay's API"
    );
    for path in ["/getAppDepositRecord", "/getAppOrderInfo"] {
        assert_eq!(
            fake_v2.requests_to(path).await,
            0,
            "nothing refused reached CCPayment's API"
        );
    }
}
