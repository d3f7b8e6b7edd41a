//! Every documented body shape and variant parses; garbage does not.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
#![allow(clippy::panic)]

use crate::support;

use shared::ccpayment::{Notification, OrderType, PayStatus};
use support::fixture;

fn parse(name: &str) -> Notification {
    Notification::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn api_deposit() {
    let n = parse("api-deposit");
    assert_eq!(n.order_type, OrderType::ApiDeposit);
    assert_eq!(n.pay_status, PayStatus::Success);
    assert_eq!(n.record_id, "202302201213531627642695975706624");
    assert_eq!(n.refs["order_id"], "202302200951001627606736097771520");
    assert_eq!(n.refs["merchant_order_id"], "202211154785795");
    assert_eq!(n.amounts["paid_amount"].text, "10");
    assert_eq!(n.amounts["token_rate"].value.unwrap().to_string(), "0.08");
    assert_eq!(n.details["crypto"], "DOGE");
    assert!(n.flags.is_empty(), "{:?}", n.flags);
    assert_eq!(parse("api-deposit-pretty"), n, "whitespace changes nothing");
    assert_eq!(parse("api-deposit-pending").pay_status, PayStatus::Pending);
    assert_eq!(
        parse("api-deposit-processing").pay_status,
        PayStatus::Processing
    );
}

#[test]
fn direct_deposit() {
    let n = parse("direct-deposit");
    assert_eq!(n.order_type, OrderType::DirectDeposit);
    assert_eq!(
        n.refs.get("user_id").map(String::as_str),
        Some("10192128173")
    );
    assert!(!n.refs.contains_key("order_id"));
    assert_eq!(
        n.amounts["credit_amount"].value.unwrap().to_string(),
        "665.8002"
    );
    assert_eq!(n.details["txid"], "internal transfer");
    assert!(!n.details.contains_key("memo"), "empty string is absent");
}

#[test]
fn invoice_and_its_misspelling() {
    let n = parse("invoice");
    assert_eq!(n.order_type, OrderType::Invoice);
    assert_eq!(n.refs["invoice_id"], "202307310956071685945863857700592");
    assert!(
        !n.amounts.contains_key("credit_amount"),
        "empty string is absent"
    );
    assert_eq!(n.amounts["order_amount"].text, "0.009637573687282151");
    assert!(!n.details.contains_key("txid"));
    assert!(
        !format!("{n:?}").contains("buyer@example.com"),
        "the payer's e-mail stays in the body only"
    );
    let m = parse("invoice-misspelt");
    assert_eq!(m.order_type, OrderType::Invoice);
    assert!(m.flags.contains("misspelt_order_type"));
}

#[test]
fn legacy_api_shape() {
    let n = parse("legacy-api");
    assert_eq!(n.order_type, OrderType::ApiDeposit);
    assert!(n.flags.contains("legacy_order_type"));
    assert_eq!(n.amounts["origin_price"].text, "10");
    assert_eq!(n.amounts["origin_amount"].text, "10.000000");
    assert_eq!(n.refs["merchant_order_id"], "legacy-1001");
    assert_eq!(n.details["custom_value"], "cart-77");
}

#[test]
fn withdrawal_and_refund() {
    let w = parse("api-withdrawal");
    assert_eq!(w.order_type, OrderType::ApiWithdrawal);
    assert_eq!(w.refs["merchant_order_id"], "1690792347702");
    assert_eq!(w.details["merchant_pays_fee"], "false");
    assert_eq!(w.details["network_fee_crypto"], "USDT");
    assert_eq!(w.amounts["withdraw_amount"].text, "0.05");
    assert_eq!(parse("api-withdrawal-failed").pay_status, PayStatus::Failed);

    let r = parse("refund");
    assert_eq!(r.order_type, OrderType::Refund);
    assert_eq!(
        r.details["network_fee_crypto"], "USDT",
        "refunds say network_crypto"
    );
    assert_eq!(r.amounts["amount"].text, "1");
    assert_eq!(r.refs["merchant_order_id"], "test_xxxx1688370383377840");
}

#[test]
fn unknown_types_and_fields_are_kept_and_flagged() {
    let n = parse("unknown-type");
    assert_eq!(n.order_type, OrderType::Unknown("Swap".into()));
    assert!(n.flags.contains("unknown_order_type"));
}

#[test]
fn numbers_where_strings_are_documented() {
    let n = parse("numbers-as-numbers");
    assert_eq!(
        n.record_id, "202309010101011698000000000000001",
        "every digit kept"
    );
    assert_eq!(
        n.amounts["paid_amount"].text, "0.279173646007816863",
        "no float rounding"
    );
    assert_eq!(n.refs["merchant_order_id"], "42");
}

#[test]
fn case_and_spacing_of_enumerations() {
    let n = Notification::parse(
        br#"{"record_id":"1","pay_status":"SUCCESS","order_type":" api deposit "}"#,
    )
    .unwrap();
    assert_eq!(n.pay_status, PayStatus::Success);
    assert_eq!(n.order_type, OrderType::ApiDeposit);
    assert!(n.flags.contains("noncanonical_order_type"));
    let missing = Notification::parse(br#"{"record_id":"1","pay_status":"success"}"#).unwrap();
    assert!(missing.flags.contains("missing_order_type"));
}

#[test]
fn garbage_and_wrong_shapes_are_refused() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "truncated"),
        (b"not json", "invalid JSON"),
        (b"[1,2]", "expected a JSON object"),
        (br#"{"record_id":"1","pay_status":"success""#, "truncated"),
        (br#"{"pay_status":"success"}"#, "`record_id` is missing"),
        (
            br#"{"record_id":"","pay_status":"success"}"#,
            "`record_id` is missing",
        ),
        (br#"{"record_id":"1"}"#, "`pay_status` is missing"),
        (
            br#"{"record_id":{"a":1},"pay_status":"success"}"#,
            "`record_id` must be",
        ),
        (
            br#"{"record_id":1.5,"pay_status":"success"}"#,
            "`record_id` must be",
        ),
        (
            br#"{"record_id":"1","pay_status":true}"#,
            "`pay_status` must be",
        ),
        (
            br#"{"record_id":"1","pay_status":"success","paid_amount":"ten"}"#,
            "`paid_amount` is not a decimal",
        ),
        (
            br#"{"record_id":"1","pay_status":"success","paid_amount":[1]}"#,
            "`paid_amount` must be",
        ),
        (
            br#"{"record_id":"1","pay_status":"success","extend":"x"}"#,
            "`extend` must be an object",
        ),
        (
            br#"{"record_id":"1","record_id":"2","pay_status":"success"}"#,
            "duplicate key `record_id`",
        ),
    ];
    for (body, reason) in cases {
        let err = Notification::parse(body).unwrap_err().to_string();
        assert!(
            err.contains(reason),
            "{:?}: {err:?} should say {reason:?}",
            String::from_utf8_lossy(body)
        );
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let body = format!(r#"{{"record_id":"1","pay_status":"success","x":{deep}}}"#);
    assert!(
        Notification::parse(body.as_bytes()).is_err(),
        "nesting past the limit"
    );
}
