//! The CCPayment half of the reconciler against DynamoDB Local and a fake of
//! CCPayment's resend and bill/info APIs that enforces the documented limits.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::json;
use shared::ccpayment::RESEND_SCOPE;
use shared::store::budget::{Budget, Slot};
use shared::store::windows::HOUR;
use shared::store::Store;
use support::*;
use testkit::ccpayment::FakeCcpayment;

/// 2026-01-01T00:00:00Z.
const DAY0: i64 = 1_767_225_600;

async fn fake(clock: &Arc<AtomicI64>) -> FakeCcpayment {
    FakeCcpayment::start(APP_ID, SECRET, clock.clone()).await
}

#[tokio::test]
async fn concurrent_runs_never_share_a_budget_slot() {
    let (client, table) = fresh_table().await;
    let store = Store::new(client, &table, 90);
    let budget = Budget {
        daily_cap: 3,
        min_interval_secs: 61,
    };
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, budget) = (store.clone(), budget.clone());
        tasks.push(tokio::spawn(async move {
            budget.take(&store, RESEND_SCOPE, DAY0).await.unwrap()
        }));
    }
    let mut taken = 0;
    for t in tasks {
        if t.await.unwrap().0 == Slot::Taken {
            taken += 1;
        }
    }
    assert_eq!(taken, 1, "one slot per minute, whatever the concurrency");
    assert_eq!(
        budget
            .take(&store, RESEND_SCOPE, DAY0 + 30)
            .await
            .unwrap()
            .0,
        Slot::TooSoon
    );
    assert_eq!(
        budget
            .take(&store, RESEND_SCOPE, DAY0 + 61)
            .await
            .unwrap()
            .0,
        Slot::Taken
    );
    assert_eq!(
        budget
            .take(&store, RESEND_SCOPE, DAY0 + 200)
            .await
            .unwrap()
            .0,
        Slot::Taken
    );
    assert_eq!(
        budget
            .take(&store, RESEND_SCOPE, DAY0 + 400)
            .await
            .unwrap()
            .0,
        Slot::Exhausted
    );
    assert_eq!(
        budget.left(&store, RESEND_SCOPE, DAY0 + 400).await.unwrap(),
        0
    );
    // The cap is over any 24 hours: the first slot comes back a day after it was used.
    assert_eq!(
        budget
            .take(&store, RESEND_SCOPE, DAY0 + 86_399)
            .await
            .unwrap()
            .0,
        Slot::Exhausted
    );
    assert_eq!(
        budget
            .take(&store, RESEND_SCOPE, DAY0 + 86_400)
            .await
            .unwrap()
            .0,
        Slot::Taken
    );
}

#[tokio::test]
async fn routine_windows_are_asked_once_each_after_settling_and_never_skipped() {
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = fake(&clock).await;
    let (rx, docs) = reconciler(
        client.clone(),
        &table,
        reconciler_config(Some(&api.base_url()), "http://127.0.0.1:9"),
    );

    // First run creates the cursor at the current hour; nothing is due yet.
    let s = rx.run_at(DAY0).await;
    assert_eq!((s.resend_calls, s.windows_opened), (0, 0));
    // Ten hours later: windows 00:00..06:00 have settled (end + 4 h <= 10:00).
    let mut now = DAY0 + 10 * HOUR;
    let mut asked = Vec::new();
    for _ in 0..12 {
        clock.store(now, Ordering::SeqCst);
        let s = rx.run_at(now).await;
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert!(s.resend_calls <= 1, "at most one call a run");
        now += 5 * 60;
    }
    for c in api.calls() {
        assert!(c.accepted, "{c:?}");
        assert_eq!(c.end - c.start, HOUR);
        assert_eq!(c.result, "Failed");
        asked.push(c.start);
    }
    assert_eq!(
        asked,
        (0..6).map(|h| DAY0 + h * HOUR).collect::<Vec<_>>(),
        "each settled hour once, in order"
    );
    assert!(api.violations().is_empty());
    let docs = docs.lock().unwrap();
    let last = docs
        .iter()
        .rev()
        .find(|d| d.get("ResendBudgetLeft").is_some())
        .unwrap();
    assert_eq!(last["ResendBudgetLeft"], 18.0);
}

#[tokio::test]
async fn a_failed_call_keeps_its_window_open_and_it_is_retried_with_backoff() {
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = fake(&clock).await;
    let (rx, _) = reconciler(
        client.clone(),
        &table,
        reconciler_config(Some(&api.base_url()), "http://127.0.0.1:9"),
    );
    rx.run_at(DAY0).await;
    api.fail_next_resends(1);
    let t1 = DAY0 + 5 * HOUR;
    clock.store(t1, Ordering::SeqCst);
    let s = rx.run_at(t1).await;
    assert!(s.resend_outcome.unwrap().contains("failed"));
    assert_eq!(s.windows_open, 1, "still open after the failure");
    // During the back-off (5 min) the window is not asked again.
    clock.store(t1 + 120, Ordering::SeqCst);
    assert_eq!(rx.run_at(t1 + 120).await.resend_calls, 0);
    clock.store(t1 + 301, Ordering::SeqCst);
    let s = rx.run_at(t1 + 301).await;
    assert_eq!(s.resend_calls, 1);
    assert_eq!(s.windows_open, 0);
    let calls = api.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].start, calls[1].start,
        "the same window, not the next one"
    );
    assert!(api.violations().is_empty());
}

#[tokio::test]
async fn suspect_and_manual_windows_jump_the_queue() {
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = fake(&clock).await;
    let (rx, _) = reconciler(
        client.clone(),
        &table,
        reconciler_config(Some(&api.base_url()), "http://127.0.0.1:9"),
    );
    let (receiver, _) = receiver(client.clone(), &table);
    rx.run_at(DAY0).await;

    // A delivery signed with a secret we no longer have, at 02:30.
    let body = fixture("api-deposit");
    let at = DAY0 + 2 * HOUR + 1800;
    let mut req = signed(&body, at);
    req.headers_mut().insert(
        "sign",
        shared::ccpayment::sign(APP_ID, "old-secret", &at.to_string(), &body)
            .parse()
            .unwrap(),
    );
    assert_eq!(receiver.handle_at(req, at).await.status(), 401);

    let t = DAY0 + 8 * HOUR;
    clock.store(t, Ordering::SeqCst);
    rx.run_at(t).await;
    assert_eq!(
        api.calls()[0].start,
        DAY0 + 2 * HOUR,
        "the suspect hour before older routine ones"
    );

    // An operator asks for 05:00-07:00 in full; it goes next, settle or not.
    let manual = json!({"resend": {"from": DAY0 + 5 * HOUR, "to": DAY0 + 7 * HOUR, "webhook_result": "All Result"}});
    clock.store(t + 120, Ordering::SeqCst);
    let s = rx.handle(&manual, t + 120).await.unwrap();
    assert_eq!(s.manual_windows_queued, 2);
    let calls = api.calls();
    assert_eq!(calls[1].start, DAY0 + 5 * HOUR);
    assert_eq!(calls[1].result, "All Result");
    assert!(
        rx.handle(&json!({"resend": {"from": 5, "to": 1}}), t)
            .await
            .is_err(),
        "a bad range is refused"
    );
    assert!(api.violations().is_empty());
}

#[tokio::test]
async fn answers_with_a_bad_signature_are_not_trusted() {
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = fake(&clock).await;
    let (rx, _) = reconciler(
        client.clone(),
        &table,
        reconciler_config(Some(&api.base_url()), "http://127.0.0.1:9"),
    );
    rx.run_at(DAY0).await;
    api.tamper_answers(true);
    let t = DAY0 + 6 * HOUR;
    clock.store(t, Ordering::SeqCst);
    let s = rx.run_at(t).await;
    assert!(
        s.resend_outcome
            .as_deref()
            .unwrap()
            .contains("bad signature"),
        "{:?}",
        s.resend_outcome
    );
    assert_eq!(s.windows_open, 2, "the window asked stays open");
}

#[tokio::test]
async fn bill_info_settles_open_api_orders_in_batches_of_100() {
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = fake(&clock).await;
    let (rx, _) = reconciler(
        client.clone(),
        &table,
        reconciler_config(Some(&api.base_url()), "http://127.0.0.1:9"),
    );
    let (receiver, _) = receiver(client.clone(), &table);
    let now = shared::clock::now_unix();
    for i in 0..150 {
        let kind = if i % 3 == 0 {
            "API Withdrawal"
        } else {
            "API Deposit"
        };
        let body = format!(
            r#"{{"pay_status":"processing","order_type":"{kind}","record_id":"r{i}","merchant_order_id":"m{i}","order_amount":"1","paid_amount":"1"}}"#
        );
        assert_eq!(
            receiver
                .handle_at(signed(body.as_bytes(), now), now)
                .await
                .status(),
            200
        );
        api.set_order(
            &format!("m{i}"),
            if i % 2 == 0 {
                "Successful"
            } else {
                "Processing"
            },
        );
    }
    clock.store(now + 3600, Ordering::SeqCst);
    let s = rx.run_at(now + 3600).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        s.bill_info_calls, 2,
        "100 deposits, then 50 withdrawals, never mixed"
    );
    assert_eq!(s.records_reconciled, 75);
    let done = state_item(&client, &table, "ccpayment", "r0")
        .await
        .unwrap();
    assert_eq!(s_(&done, "status"), Some("success"));
    assert!(!done.contains_key("open_pk"));
    let still = state_item(&client, &table, "ccpayment", "r1")
        .await
        .unwrap();
    assert_eq!(s_(&still, "status"), Some("processing"));
    assert_eq!(api.requests_to("/bill/info").await, 2);
    // A deposit's order is paid with the amount its record carried.
    let p = payment_of_record(&client, &table, "ccpayment", "r2").await;
    assert_eq!(p.key.0, "ref#m2");
    assert_eq!(p.version, 2);
    assert_eq!(p.lifecycle, shared::lifecycle::Lifecycle::Paid);
    assert_eq!(p.amount_paid.unwrap().to_string(), "1");
    let p = payment_of_record(&client, &table, "ccpayment", "r1").await;
    assert_eq!(
        (p.version, p.lifecycle),
        (1, shared::lifecycle::Lifecycle::Processing)
    );
}

fn s_<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    s(item, name)
}

#[tokio::test]
async fn cursor_survives_concurrent_runs_without_skipping() {
    let (client, table) = fresh_table().await;
    let store = Store::new(client, &table, 90);
    store
        .windows(RESEND_SCOPE)
        .advance_cursor(DAY0, 0, DAY0, 48)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .windows(RESEND_SCOPE)
                .advance_cursor(DAY0 + 10 * HOUR, 0, DAY0, 48)
                .await
                .unwrap()
        }));
    }
    let mut opened = 0;
    for t in tasks {
        opened += t.await.unwrap();
    }
    let open = store.windows(RESEND_SCOPE).open().await.unwrap();
    let starts: Vec<i64> = open.iter().map(|w| w.start).collect();
    assert_eq!(
        starts,
        (0..10).map(|h| DAY0 + h * HOUR).collect::<Vec<_>>(),
        "every hour exactly once"
    );
    assert_eq!(opened, 10);
}

#[test]
fn sample_reconciler_events_parse() {
    use shared::reconcile::request::ManualResend;
    let dir = format!("{}/../events/reconciler", env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| {
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(format!("{dir}/{f}")).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(ManualResend::from_event(&read("scheduled.json")), Ok(None));
    let m = ManualResend::from_event(&read("manual-resend.json"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.from, m.to, m.all_results),
        (DAY0 + 6 * HOUR, DAY0 + 9 * HOUR, false)
    );
    let a = ManualResend::from_event(&read("manual-resend-all-results.json"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.to - a.from, a.all_results, a.transaction_type.as_deref()),
        (HOUR, true, Some("API Deposit"))
    );
}

/// Two shops in one deployment: each delivery is checked with its own account's
/// secret and carries its App ID; each account has its own windows, budget and
/// `bill/info` calls, and CCPayment's limits hold per account.
#[tokio::test]
async fn several_shops_each_get_their_own_windows_budget_and_bill_info() {
    use shared::ccpayment::credentials::Accounts;
    use shared::ccpayment::Credentials;

    const SHOP2: &str = "shop-2-app-id";
    const SHOP2_SECRET: &str = "shop-2-app-secret";
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = fake(&clock).await;
    api.add_account(SHOP2, SHOP2_SECRET);
    let accounts =
        Accounts::new(vec![credentials(), Credentials::new(SHOP2, SHOP2_SECRET)]).unwrap();
    let mut config = reconciler_config(Some(&api.base_url()), "http://127.0.0.1:9");
    config.ccpayment = Some((api.base_url(), accounts.clone()));
    let (rx, _) = reconciler(client.clone(), &table, config);
    let (receiver, _) = receiver_for(client.clone(), &table, accounts.clone());

    let now = shared::clock::now_unix();
    let order = |id: &str| {
        format!(r#"{{"pay_status":"processing","order_type":"API Deposit","record_id":"{id}","merchant_order_id":"m-{id}","paid_amount":"1"}}"#)
            .into_bytes()
    };
    for (app, secret, id) in [(APP_ID, SECRET, "a1"), (SHOP2, SHOP2_SECRET, "b1")] {
        let resp = receiver
            .handle_at(signed_by(app, secret, &order(id), now), now)
            .await;
        assert_eq!(resp.status(), 200, "{id}");
        let st = state_item(&client, &table, "ccpayment", id).await.unwrap();
        assert_eq!(s_(&st, "app_id"), Some(app));
        api.set_order(&format!("m-{id}"), "Successful");
    }
    // Shop 2's App ID with shop 1's secret is a forgery, and marks shop 2's hour only.
    let forged = receiver
        .handle_at(signed_by(SHOP2, SECRET, &order("b2"), now), now)
        .await;
    assert_eq!(forged.status(), 401);
    assert!(state_item(&client, &table, "ccpayment", "b2")
        .await
        .is_none());
    let store = Store::new(client.clone(), &table, 90);
    let shop2_scope = shared::ccpayment::resend_scope(&accounts, SHOP2);
    assert_ne!(shop2_scope, RESEND_SCOPE);
    assert_eq!(
        shared::ccpayment::resend_scope(&accounts, APP_ID),
        RESEND_SCOPE
    );
    assert_eq!(store.windows(&shop2_scope).open().await.unwrap().len(), 1);
    assert!(store.windows(RESEND_SCOPE).open().await.unwrap().is_empty());

    // Runs an hour apart after the suspect hour settled: each shop gets its own calls.
    let mut t = now + 5 * HOUR;
    for _ in 0..3 {
        clock.store(t, Ordering::SeqCst);
        let s = rx.run_at(t).await;
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        t += 300;
    }
    let calls = api.calls();
    assert!(api.violations().is_empty(), "{:?}", api.violations());
    let hour = now - now % HOUR;
    let shop2_calls: Vec<_> = calls.iter().filter(|c| c.app_id == SHOP2).collect();
    assert_eq!(shop2_calls.len(), 1, "shop 2's suspect hour, once");
    assert_eq!(
        (shop2_calls[0].start, shop2_calls[0].end),
        (hour, hour + HOUR)
    );
    let budget = Budget {
        daily_cap: 24,
        min_interval_secs: 61,
    };
    assert_eq!(budget.used(&store, &shop2_scope, t).await.unwrap(), 1);
    assert_eq!(
        budget.used(&store, RESEND_SCOPE, t).await.unwrap() as usize,
        calls.iter().filter(|c| c.app_id == APP_ID).count()
    );
    // bill/info asked per account, each about its own order: both settled.
    for id in ["a1", "b1"] {
        let st = state_item(&client, &table, "ccpayment", id).await.unwrap();
        assert_eq!(s_(&st, "status"), Some("success"), "{id}");
    }
    assert_eq!(api.requests_to("/bill/info").await, 2);
}
