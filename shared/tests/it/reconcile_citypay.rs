//! The CityPay and Alchemy Pay halves of the reconciler against DynamoDB Local and
//! the fake CityPay order API.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

use shared::citypay::order_record_key;
use support::*;
use testkit::citypay::{Answer, FakeCityPay};

#[tokio::test]
async fn a_slow_provider_api_uses_only_its_own_time_budget() {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    let (rx, _) = citypay_receiver(client.clone(), &table, &fake.base_url());
    for i in 0..5 {
        rx.handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &order(&format!("late-{i}"), "IN_PROGRESS"),
            None,
        ))
        .await;
    }
    // CityPay's order API now answers each request after 5 s; the reconciler
    // waits 2 s for each (its API timeout) but CityPay may have 1 s in all.
    for i in 0..5 {
        fake.set(
            &format!("late-{i}"),
            Answer::Slow(std::time::Duration::from_secs(5), "CONFIRMED".into()),
        );
    }
    let mut config = reconciler_config(None, &fake.base_url());
    config.provider_budget = std::time::Duration::from_secs(1);
    let (reconciler, docs) = reconciler(client.clone(), &table, config);
    let sum = reconciler.run_at(shared::clock::now_unix()).await;
    assert_eq!(sum.out_of_time, vec!["citypay".to_string()]);
    assert!(
        sum.citypay_checked <= 1,
        "cut at its budget: {}",
        sum.citypay_checked
    );
    assert!(
        sum.errors
            .iter()
            .any(|e| e.contains("citypay: its 1 s budget")),
        "{:?}",
        sum.errors
    );
    // The steps after it still ran: the operator's list was counted.
    assert_eq!(sum.unresolved["unconfirmed"], 0);
    assert_eq!(sum.unresolved["not_final"], 5);
    assert!(docs
        .lock()
        .unwrap()
        .iter()
        .any(|d| d["ReconcilerErrors"] == 1.0));
}

fn order(token: &str, status: &str) -> Vec<u8> {
    format!(r#"{{"type":"order callback","action":"receive_transaction","status":"{status}","order_token":"{token}","transaction_id":"t-{token}"}}"#).into_bytes()
}

#[tokio::test]
async fn open_orders_are_confirmed_expired_or_left_open() {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    let (rx, _) = citypay_receiver(client.clone(), &table, &fake.base_url());
    let now = shared::clock::now_unix();
    // Callbacks while CityPay's API was down: all four stored unconfirmed.
    for t in ["o-paid", "o-expired", "o-underpaid", "o-pending"] {
        fake.set(t, Answer::HttpError(503));
        assert_eq!(
            rx.handle(post(
                "citypay",
                CITYPAY_TOKEN,
                &order(t, "IN_PROGRESS"),
                None
            ))
            .await
            .status(),
            200
        );
    }
    fake.set_status("o-paid", "CONFIRMED");
    fake.set_status("o-expired", "IN_PROGRESS");
    fake.set_expires_at_ms("o-expired", (now - 60) * 1000);
    fake.set_status("o-underpaid", "UNDERPAID");
    fake.set_expires_at_ms("o-underpaid", (now - 60) * 1000);
    fake.set_status("o-pending", "IN_PROGRESS");
    fake.set_expires_at_ms("o-pending", (now + 3600) * 1000);

    let (reconciler, docs) = reconciler(
        client.clone(),
        &table,
        reconciler_config(None, &fake.base_url()),
    );
    let sum = reconciler.run_at(now).await;
    assert!(sum.errors.is_empty(), "{:?}", sum.errors);
    assert_eq!(sum.citypay_checked, 4);
    assert_eq!(sum.citypay_expired, 1);
    let status = |t: &'static str| {
        let client = client.clone();
        let table = table.clone();
        async move {
            let st = state_item(&client, &table, "citypay", &order_record_key(t))
                .await
                .unwrap();
            (
                s(&st, "status").map(str::to_string),
                st.contains_key("open_pk"),
            )
        }
    };
    assert_eq!(status("o-paid").await, (Some("CONFIRMED".into()), false));
    assert_eq!(
        status("o-expired").await,
        (Some("EXPIRED".into()), true),
        "nothing paid, past expiry; still asked about in case a late payment comes"
    );
    assert_eq!(
        status("o-underpaid").await,
        (Some("UNDERPAID".into()), true),
        "something was paid: not expired"
    );
    assert_eq!(
        status("o-pending").await,
        (Some("IN_PROGRESS".into()), true)
    );
    assert_eq!(metrics_total(&docs, "CitypayExpired"), 1.0);
    // Stored unconfirmed (version 1), then what the order API said (version 2).
    let payment = |t: &'static str| {
        let client = client.clone();
        let table = table.clone();
        async move { payment_of_record(&client, &table, "citypay", &order_record_key(t)).await }
    };
    use shared::lifecycle::Lifecycle;
    let expired = payment("o-expired").await;
    assert_eq!(
        (expired.version, expired.lifecycle),
        (2, Lifecycle::Expired)
    );
    assert!(!expired.is_final, "a late payment can still come");
    assert_eq!(expired.flags, ["expired_locally"]);
    let paid = payment("o-paid").await;
    assert_eq!((paid.version, paid.lifecycle), (2, Lifecycle::Paid));
    assert!(
        paid.flags.is_empty(),
        "no longer unconfirmed: {:?}",
        paid.flags
    );
    let open = payment("o-pending").await;
    assert_eq!(
        (open.version, open.lifecycle),
        (2, Lifecycle::AwaitingPayment)
    );

    // The order API still down for one order: it stays unconfirmed and counted.
    fake.set("o-pending", Answer::HttpError(500));
    let sum = reconciler.run_at(now).await;
    assert_eq!(sum.citypay_checked, 3, "only the three still open");
    assert_eq!(
        sum.citypay_unconfirmed, 0,
        "o-pending has a confirmed status already"
    );

    // Paid late, after it expired: CityPay confirms it, and the callback makes it paid.
    fake.set_status("o-expired", "CONFIRMED");
    let late = rx
        .handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &order("o-expired", "CONFIRMED"),
            None,
        ))
        .await;
    assert_eq!(late.status(), 200);
    assert_eq!(status("o-expired").await, (Some("CONFIRMED".into()), false));
    let st = state_item(&client, &table, "citypay", &order_record_key("o-expired"))
        .await
        .unwrap();
    assert!(
        !flags(&st).contains(&"terminal_clash".to_string()),
        "a late payment is progress, not a clash"
    );
    let paid_late = payment("o-expired").await;
    assert_eq!(paid_late.lifecycle, Lifecycle::Paid);
    assert!(paid_late.is_final);

    // Expired with nothing paid: asked about until the grace has passed, then closed.
    fake.set("o-pending", Answer::Status("IN_PROGRESS".into()));
    fake.set_expires_at_ms("o-pending", (now - 60) * 1000);
    let sum = reconciler.run_at(now).await;
    assert_eq!((sum.citypay_expired, sum.citypay_closed), (1, 0));
    assert_eq!(status("o-pending").await, (Some("EXPIRED".into()), true));
    let sum = reconciler.run_at(now + 6 * 3600 - 120).await;
    assert_eq!(sum.citypay_closed, 0, "within the grace");
    let sum = reconciler.run_at(now + 6 * 3600).await;
    assert_eq!(sum.citypay_closed, 1);
    assert_eq!(status("o-pending").await, (Some("EXPIRED".into()), false));
    // A payment even later still counts: its callback moves the order on.
    fake.set_status("o-pending", "CONFIRMED");
    rx.handle(post(
        "citypay",
        CITYPAY_TOKEN,
        &order("o-pending", "CONFIRMED"),
        None,
    ))
    .await;
    assert_eq!(status("o-pending").await, (Some("CONFIRMED".into()), false));
}

fn metrics_total(docs: &Docs, name: &str) -> f64 {
    shared::metrics::total(docs, name)
}

#[tokio::test]
async fn rechecks_are_bounded_per_run_and_go_round_robin() {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    let (rx, _) = citypay_receiver(client.clone(), &table, &fake.base_url());
    for i in 0..7 {
        rx.handle(post(
            "citypay",
            CITYPAY_TOKEN,
            &order(&format!("rr-{i}"), "IN_PROGRESS"),
            None,
        ))
        .await;
    }
    let mut config = reconciler_config(None, &fake.base_url());
    config.citypay_recheck_per_run = 3;
    let (reconciler, _) = reconciler(client.clone(), &table, config);
    let now = shared::clock::now_unix();
    let mut checked = 0;
    for _ in 0..3 {
        let sum = reconciler.run_at(now).await;
        assert!(sum.citypay_checked <= 3);
        checked += sum.citypay_checked;
    }
    assert!(checked >= 7);
    for i in 0..7 {
        // One lookup by the receiver, at least one by the reconciler.
        assert!(
            fake.lookups(&format!("rr-{i}")).await >= 2,
            "rr-{i} was re-checked"
        );
    }
}

#[tokio::test]
async fn alchemypay_orders_not_final_after_a_day_are_reported() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    rx.handle(post(
        "alchemypay",
        ALCHEMY_TOKEN,
        &fixture_of("alchemypay", "init"),
        None,
    ))
    .await;
    rx.handle(post(
        "alchemypay",
        ALCHEMY_TOKEN,
        &fixture_of("alchemypay", "fail"),
        None,
    ))
    .await;
    let (reconciler, docs) = reconciler(
        client.clone(),
        &table,
        reconciler_config(None, "http://127.0.0.1:9"),
    );
    let now = shared::clock::now_unix();
    let sum = reconciler.run_at(now + 3600).await;
    assert_eq!(
        sum.unresolved["unconfirmable"], 1,
        "INIT is open; FAIL is final"
    );
    assert_eq!(
        sum.unresolved_overdue["unconfirmable"], 0,
        "not a day old yet"
    );
    let sum = reconciler.run_at(now + 86_401).await;
    assert_eq!(sum.unresolved_overdue["unconfirmable"], 1);
    let overdue = docs
        .lock()
        .unwrap()
        .iter()
        .filter(|d| d["Category"] == "unconfirmable")
        .map(|d| d["UnresolvedOverdue"].as_f64().unwrap())
        .sum::<f64>();
    assert_eq!(overdue, 1.0);
    assert_eq!(
        sum.unresolved.len(),
        shared::unresolved::Category::ALL.len(),
        "every category is counted, zero included"
    );
}

fn conflicting(
    provider: &'static str,
    key: &str,
    status: Option<(&str, u8, bool)>,
    queue: &str,
    body: &str,
    at_ms: i64,
) -> shared::store::Delivery {
    let status_text = status.map_or("unknown", |s| s.0).to_string();
    shared::store::Delivery {
        status: status.map(|(name, rank, terminal)| shared::store::StatusChange {
            name: name.into(),
            rank,
            terminal,
        }),
        open_queue: Some(queue.into()),
        needs_reconcile: status.is_none(),
        received_at_ms: at_ms,
        ..shared::store::Delivery::new(
            provider,
            key.into(),
            vec![status_text.clone()],
            status_text,
            body.into(),
        )
    }
}

#[tokio::test]
async fn everything_unresolved_is_listed_oldest_first_counted_and_acknowledged() {
    use shared::lifecycle::Lifecycle;
    use shared::store::{Recorded, Store};
    use shared::unresolved::{overview, render, Category};
    let (client, table) = fresh_table().await;
    let store = Store::new(client.clone(), &table, 90);
    let now_ms = shared::clock::now_ms();
    let hour = 3_600_000;
    let day = 24 * hour;
    // Two days ago: a CityPay order that never had a confirmed status.
    let d = conflicting(
        "citypay",
        "order:lost",
        None,
        "citypay#order",
        "{}",
        now_ms - 2 * day,
    );
    store.record(&d).await.unwrap();
    // 30 hours ago: a v2 deposit CCPayment holds as risky.
    let mut held = conflicting(
        "ccpayment-v2",
        "rec-risky",
        Some(("FlaggedAsRisky", 4, false)),
        "ccpayment-v2#ApiDeposit",
        r#"{"a":1}"#,
        now_ms - 30 * hour,
    );
    held.view.lifecycle = Lifecycle::Held;
    held.view.merchant_ref = Some("shop-17".into());
    store.record(&held).await.unwrap();
    // 20 hours ago: a CityPay order in progress whose expiry passed an hour ago.
    let mut expiring = conflicting(
        "citypay",
        "order:late",
        Some(("IN_PROGRESS", 0, false)),
        "citypay#order",
        r#"{"b":1}"#,
        now_ms - 20 * hour,
    );
    expiring
        .refs
        .insert("expires_at_ms".into(), (now_ms - hour).to_string());
    store.record(&expiring).await.unwrap();
    // 10 hours ago: a v1 deposit still processing, and a conflicting copy of it.
    let pending = conflicting(
        "ccpayment",
        "rec-pending",
        Some(("processing", 1, false)),
        "ccpayment#API Deposit",
        r#"{"c":1}"#,
        now_ms - 10 * hour,
    );
    store.record(&pending).await.unwrap();
    let other_body = conflicting(
        "ccpayment",
        "rec-pending",
        Some(("processing", 1, false)),
        "ccpayment#API Deposit",
        r#"{"c":2}"#,
        now_ms - 9 * hour,
    );
    assert!(matches!(
        store.record(&other_body).await.unwrap(),
        Recorded::Conflict
    ));
    // 5 hours ago paid, 4 hours ago canceled: two final answers.
    for (i, status) in ["CONFIRMED", "CANCELED"].into_iter().enumerate() {
        let d = conflicting(
            "citypay",
            "order:clash",
            Some((status, 3, true)),
            "citypay#order",
            status,
            now_ms - (5 - i as i64) * hour,
        );
        store.record(&d).await.unwrap();
    }
    // 3 hours ago: an Alchemy Pay order in progress.
    let alchemy = conflicting(
        "alchemypay",
        "ach-1",
        Some(("PROCESSING", 1, false)),
        "alchemypay#order",
        r#"{"d":1}"#,
        now_ms - 3 * hour,
    );
    store.record(&alchemy).await.unwrap();
    // A suspect hour 2 hours ago, with one resend call made.
    let scope = "reconciler#ccpayment";
    let suspect_at = now_ms / 1000 - 2 * 3600;
    store.windows(scope).mark_suspect(suspect_at).await.unwrap();
    let budget = shared::store::budget::Budget {
        daily_cap: 24,
        min_interval_secs: 61,
    };
    budget.take(&store, scope, now_ms / 1000).await.unwrap();
    // An hour ago: an authentic Alchemy Pay body nobody could read.
    let mut q = shared::store::Quarantined::new(
        "alchemypay",
        "<xml/>".into(),
        "malformed",
        "body is not a JSON object".into(),
    );
    q.received_at_ms = now_ms - hour;
    store.quarantine(&q).await.unwrap();

    let o = overview(&store, now_ms, 86_400, 100).await.unwrap();
    let got: Vec<(Category, &str)> = o
        .entries
        .iter()
        .map(|e| (e.category, e.subject.as_str()))
        .collect();
    let window = got.iter().find(|(c, _)| *c == Category::ResendWindow);
    assert!(
        window.is_some_and(|(_, s)| s.starts_with("reconciler#ccpayment ")),
        "{got:?}"
    );
    let records: Vec<(Category, &str)> = got
        .iter()
        .copied()
        .filter(|(c, _)| *c != Category::ResendWindow)
        .collect();
    assert_eq!(
        records,
        vec![
            (Category::Unconfirmed, "order:lost"),
            (Category::Held, "rec-risky"),
            (Category::PastExpiry, "order:late"),
            (Category::NotFinal, "rec-pending"),
            (Category::Conflict, "rec-pending"),
            (Category::TerminalClash, "order:clash"),
            (Category::Unconfirmable, "ach-1"),
            (Category::Quarantined, q.record_key().as_str()),
        ]
    );
    assert!(o.entries.windows(2).all(|w| w[0].since_ms <= w[1].since_ms));
    assert!(o.truncated.is_empty());
    for c in Category::ALL {
        assert_eq!(o.counts[c.as_str()].total, 1, "{c:?}");
    }
    assert_eq!(o.counts["unconfirmed"].overdue, 1);
    assert_eq!(o.counts["held"].overdue, 1);
    assert_eq!(o.counts["past_expiry"].overdue, 0);
    let by = |c: Category| o.entries.iter().find(|e| e.category == c).unwrap();
    assert_eq!(by(Category::Held).merchant_ref.as_deref(), Some("shop-17"));
    assert_eq!(by(Category::Held).age_secs, 30 * 3600);
    assert_eq!(
        by(Category::TerminalClash).status.as_deref(),
        Some("CONFIRMED")
    );
    assert_eq!(
        by(Category::TerminalClash).detail.as_deref(),
        Some("kept CONFIRMED; statuses seen: canceled, confirmed")
    );
    assert!(by(Category::PastExpiry)
        .detail
        .as_deref()
        .is_some_and(|d| d.starts_with("expired 20")));
    assert!(by(Category::ResendWindow)
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("suspect") && d.contains("1 of 24 calls used")));
    assert!(by(Category::Conflict)
        .action
        .contains("payments-ops acknowledge ccpayment rec-pending"));
    let text = render(&o);
    assert!(text.contains("9 unresolved"), "{text}");
    assert!(text.contains("!  2d00h  unconfirmed"), "{text}");

    // The reconciler counts the same for the dashboard.
    let (reconciler, docs) = reconciler(
        client.clone(),
        &table,
        reconciler_config(None, "http://127.0.0.1:9"),
    );
    let sum = reconciler.run_at(now_ms / 1000).await;
    for c in Category::ALL {
        assert_eq!(sum.unresolved[c.as_str()], 1, "{c:?}");
    }
    let metric = |name: &str, category: &str| {
        docs.lock()
            .unwrap()
            .iter()
            .filter(|d| d["Category"] == category)
            .filter_map(|d| d[name].as_f64())
            .sum::<f64>()
    };
    assert_eq!(metric("Unresolved", "terminal_clash"), 1.0);
    assert_eq!(metric("UnresolvedOverdue", "unconfirmed"), 1.0);
    assert!(sum.oldest_unresolved_age_secs >= 2 * 86_400 - 1);

    // Acknowledged conflicts and clashes leave the list; so does a window resent.
    assert_eq!(
        store
            .acknowledge("ccpayment", "rec-pending", now_ms)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .acknowledge("citypay", "order:clash", now_ms)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .acknowledge("citypay", "order:clash", now_ms)
            .await
            .unwrap(),
        0,
        "acknowledged once"
    );
    assert_eq!(
        store
            .acknowledge("alchemypay", &q.record_key(), now_ms)
            .await
            .unwrap(),
        1,
        "a quarantined body, read by a human"
    );
    let w = &store.windows(scope).open().await.unwrap()[0];
    store
        .windows(scope)
        .mark_done(w, now_ms / 1000, 0)
        .await
        .unwrap();
    let o = overview(&store, now_ms, 86_400, 100).await.unwrap();
    for c in [
        Category::Conflict,
        Category::TerminalClash,
        Category::ResendWindow,
        Category::Quarantined,
    ] {
        assert_eq!(o.counts[c.as_str()].total, 0, "{c:?}");
    }
    assert_eq!(o.entries.len(), 5);
    // The conflict keeps its body for the record, now ageing out like an event.
    let conflict = of_type(&all_items(&client, &table).await, "conflict")[0].clone();
    assert!(num(&conflict, "expires_at").is_some());
    assert!(num(&conflict, "acknowledged_at_ms").is_some());

    // Written before the list had queues of its own: found by one scan, once.
    for (i, body) in [r#"{"e":1}"#, r#"{"e":2}"#].into_iter().enumerate() {
        let d = conflicting(
            "ccpayment",
            "rec-legacy",
            Some(("processing", 1, false)),
            "ccpayment#API Deposit",
            body,
            now_ms - hour + i as i64,
        );
        store.record(&d).await.unwrap();
    }
    store
        .windows(scope)
        .mark_suspect(suspect_at - 3600)
        .await
        .unwrap();
    let legacy = all_items(&client, &table).await;
    let unlisted: Vec<&Item> = legacy
        .iter()
        .filter(|i| {
            s(i, "sk").is_some_and(|sk| sk.starts_with("conflict#") || sk.starts_with("window#"))
                && s(i, "open_pk").is_some()
        })
        .collect();
    assert_eq!(unlisted.len(), 2);
    for item in unlisted {
        client
            .update_item()
            .table_name(&table)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .update_expression("REMOVE open_pk, open_since")
            .send()
            .await
            .unwrap();
    }
    // A record of a type nobody documents, in the queue of its own it once had.
    let payout = conflicting(
        "ccpayment",
        "rec-payout",
        Some(("processing", 1, false)),
        "ccpayment#Payout",
        r#"{"f":1}"#,
        now_ms - hour,
    );
    store.record(&payout).await.unwrap();
    let before = overview(&store, now_ms, 86_400, 100).await.unwrap();
    assert_eq!(before.counts["conflict"].total, 0);
    assert_eq!(before.counts["resend_window"].total, 0);
    assert_eq!(
        before.counts["not_final"].total, 2,
        "rec-payout is not seen"
    );
    let found = shared::unresolved::list_unlisted(&store).await.unwrap();
    assert_eq!(
        (
            found.windows,
            found.conflicts,
            found.clashes,
            found.requeued
        ),
        (1, 1, 0, 1),
        "acknowledged ones stay off"
    );
    let after = overview(&store, now_ms, 86_400, 100).await.unwrap();
    assert_eq!(after.counts["conflict"].total, 1);
    assert_eq!(after.counts["resend_window"].total, 1);
    assert!(after
        .entries
        .iter()
        .any(|e| e.subject == "rec-payout" && e.category == Category::NotFinal));
    assert_eq!(
        shared::unresolved::list_unlisted(&store).await.unwrap(),
        shared::store::Unlisted::default()
    );

    // A final status after a held one clashes while the record stays in its queue:
    // acknowledged, it is listed as held again.
    let failed = conflicting(
        "ccpayment-v2",
        "rec-risky",
        Some(("Failed", 3, true)),
        "ccpayment-v2#ApiDeposit",
        r#"{"g":1}"#,
        now_ms,
    );
    store.record(&failed).await.unwrap();
    let category_of = |o: &shared::unresolved::Overview| {
        o.entries
            .iter()
            .find(|e| e.subject == "rec-risky")
            .map(|e| e.category)
    };
    let o = overview(&store, now_ms, 86_400, 100).await.unwrap();
    assert_eq!(category_of(&o), Some(Category::TerminalClash));
    assert_eq!(
        store
            .acknowledge("ccpayment-v2", "rec-risky", now_ms)
            .await
            .unwrap(),
        1
    );
    let o = overview(&store, now_ms, 86_400, 100).await.unwrap();
    assert_eq!(category_of(&o), Some(Category::Held));
}

fn history_api(fake: &FakeCityPay, access: &str) -> shared::citypay::HistoryApi {
    shared::citypay::HistoryApi::new(
        fake.base_url(),
        shared::secret::Secret::new(access),
        std::time::Duration::from_secs(2),
    )
    .unwrap()
}

#[tokio::test]
async fn the_order_history_works_with_either_header_spelling_and_pages_newest_first() {
    use shared::citypay::JwtHeader;
    for (fake_accepts, expected) in [
        (
            testkit::citypay::JwtHeader::BearerToken,
            JwtHeader::BearerToken,
        ),
        (
            testkit::citypay::JwtHeader::Authorization,
            JwtHeader::Authorization,
        ),
    ] {
        let fake = FakeCityPay::start().await;
        fake.set_access("access-1", fake_accepts);
        for i in 0..25 {
            fake.add_to_history(&format!("paid-{i:02}"), 1_796_000_000_000 + i * 1000);
        }
        let api = history_api(&fake, "access-1");
        let mut tokens = Vec::new();
        let mut page = Some(0);
        while let Some(p) = page {
            let got = api.page(p, 10).await.unwrap();
            tokens.extend(got.items.iter().map(|i| i.token.clone()));
            assert!(got
                .items
                .iter()
                .all(|i| i.status == shared::citypay::OrderStatus::Confirmed));
            page = got.next_page;
        }
        let expected_tokens: Vec<String> = (0..25).rev().map(|i| format!("paid-{i:02}")).collect();
        assert_eq!(tokens, expected_tokens, "every order once, newest first");
        assert_eq!(api.header_in_use(), Some(expected));
        assert_eq!(fake.logins(), 1, "one login for the whole walk");
        assert_eq!(fake.history_pages(), 3);
    }
}

#[tokio::test]
async fn an_expired_jwt_means_one_new_login_and_a_wrong_access_token_a_clear_error() {
    let fake = FakeCityPay::start().await;
    fake.set_access("access-1", testkit::citypay::JwtHeader::Authorization);
    fake.set_jwt_ttl(std::time::Duration::from_millis(200));
    fake.add_to_history("o-1", 1_796_000_000_000);
    let api = history_api(&fake, "access-1");
    assert_eq!(api.page(0, 10).await.unwrap().items.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(api.page(0, 10).await.unwrap().items.len(), 1);
    assert_eq!(fake.logins(), 2, "logged in again once the JWT expired");

    let wrong = history_api(&fake, "not-the-token");
    let e = wrong.page(0, 10).await.unwrap_err();
    assert_eq!(e, shared::citypay::HistoryError::LoginRefused(401));
    assert!(e.to_string().contains("access token"), "{e}");
}

#[tokio::test]
async fn the_fake_refuses_beyond_citypays_limits_and_the_client_reports_it() {
    let fake = FakeCityPay::start().await;
    fake.set_access("access-1", testkit::citypay::JwtHeader::BearerToken);
    let api = history_api(&fake, "access-1");
    let mut refused = None;
    for i in 0..210 {
        if let Err(e) = api.page(0, 10).await {
            refused = Some((i, e));
            break;
        }
    }
    let (at, e) = refused.unwrap();
    assert_eq!(e, shared::citypay::HistoryError::RateLimited);
    // The login and 199 pages make 200 requests in the minute.
    assert_eq!(at, 199);
    assert_eq!(fake.violations().len(), 1);
}

pub(crate) fn sweep_config(pages_per_run: u32) -> shared::reconcile::CitypaySweepConfig {
    shared::reconcile::CitypaySweepConfig {
        access_token: shared::secret::Secret::new("access-1"),
        pages_per_run,
        page_size: 50,
        min_interval: std::time::Duration::ZERO,
        overlap_secs: 600,
        backfill_secs: 7 * 86_400,
    }
}

#[tokio::test]
async fn the_sweep_stores_every_listed_order_we_never_heard_of_with_its_true_status() {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    fake.set_access("access-1", testkit::citypay::JwtHeader::Authorization);
    let (rx, _) = citypay_receiver(client.clone(), &table, &fake.base_url());
    let now = shared::clock::now_unix();
    // 120 orders over the last two hours; we heard of every sixth one only.
    let mut unknown = Vec::new();
    for i in 0..120i64 {
        let token = match i % 3 {
            0 => format!("paid-s{i}"),
            1 => format!("expired-s{i}"),
            _ => format!("canceled-s{i}"),
        };
        fake.add_to_history(&token, (now - 7200 + i * 60) * 1000);
        if i % 6 == 0 {
            let resp = rx
                .handle(post(
                    "citypay",
                    CITYPAY_TOKEN,
                    &order(&token, "CONFIRMED"),
                    None,
                ))
                .await;
            assert_eq!(resp.status(), 200);
        } else {
            unknown.push(token);
        }
    }
    let mut config = reconciler_config(None, &fake.base_url());
    config.citypay_sweep = Some(sweep_config(2));
    let (reconciler, docs) = reconciler(client.clone(), &table, config);

    // Three pages of 50: two this run, the walk resumes at the third.
    let first = reconciler.run_at(now).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(first.citypay_sweep_pages, 2);
    let second = reconciler.run_at(now + 600).await;
    assert_eq!(second.citypay_sweep_pages, 1, "the rest of the walk");
    assert_eq!(
        first.citypay_found_by_sweep + second.citypay_found_by_sweep,
        unknown.len() as u32
    );
    for token in &unknown {
        let st = state_item(&client, &table, "citypay", &order_record_key(token))
            .await
            .unwrap();
        let want = match token.split('-').next().unwrap() {
            "paid" => "CONFIRMED",
            "expired" => "EXPIRED",
            _ => "CANCELED",
        };
        assert_eq!(
            s(&st, "status"),
            Some(want),
            "{token}: the order API's status"
        );
    }
    let events = of_type(&all_items(&client, &table).await, "event")
        .into_iter()
        .filter(|e| flags(e).contains(&"found_by_sweep".to_string()))
        .count();
    assert_eq!(events, unknown.len());
    assert_eq!(
        metrics_total(&docs, "CitypayFoundBySweep"),
        unknown.len() as f64
    );

    // Nothing new: the next walk reads one page, finds the orders it saw, stops.
    let third = reconciler.run_at(now + 1200).await;
    assert_eq!(
        (third.citypay_sweep_pages, third.citypay_found_by_sweep),
        (1, 0)
    );
    // A new order whose callback was lost is found by the next run.
    fake.add_to_history("paid-late", (now + 1300) * 1000);
    let fourth = reconciler.run_at(now + 1800).await;
    assert_eq!(fourth.citypay_found_by_sweep, 1);
    assert_eq!(fake.logins(), 1, "one JWT for every run");
    assert!(fake.violations().is_empty());
}

#[tokio::test]
async fn a_rate_limited_sweep_pauses_and_without_an_access_token_there_is_none() {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    fake.set_access("access-1", testkit::citypay::JwtHeader::BearerToken);
    fake.set_rate_limits(0, 1000);
    let mut config = reconciler_config(None, &fake.base_url());
    config.citypay_sweep = Some(sweep_config(4));
    let (sweeping, _) = reconciler(client.clone(), &table, config);
    let now = shared::clock::now_unix();
    let first = sweeping.run_at(now).await;
    assert!(first.citypay_sweep_rate_limited);
    assert_eq!(first.citypay_sweep_pages, 1, "stops at the refusal");
    // Within the pause: no request at all.
    fake.set_rate_limits(200, 1000);
    let logins = fake.logins();
    let paused = sweeping.run_at(now + 30).await;
    assert!(paused.citypay_sweep_rate_limited);
    assert_eq!(paused.citypay_sweep_pages, 0);
    assert_eq!(fake.logins(), logins);
    let after = sweeping.run_at(now + 61).await;
    assert!(!after.citypay_sweep_rate_limited);
    assert!(after.errors.is_empty(), "{:?}", after.errors);

    let (no_token, _) = reconciler(
        client.clone(),
        &table,
        reconciler_config(None, &fake.base_url()),
    );
    assert_eq!(no_token.run_at(now).await.citypay_sweep_pages, 0);
}

#[tokio::test]
async fn the_reconcilers_count_keeps_only_the_oldest_entries_whatever_the_backlog() {
    let (client, table) = fresh_table().await;
    let (rx, _) = alchemy_receiver(client.clone(), &table, "");
    for i in 0..30 {
        let body = format!(r#"{{"orderNo":"backlog-{i:02}","status":"INIT"}}"#);
        let resp = rx
            .handle(post("alchemypay", ALCHEMY_TOKEN, body.as_bytes(), None))
            .await;
        assert_eq!(resp.status(), 200);
    }
    let store = shared::store::Store::new(client.clone(), &table, 90);
    let now_ms = shared::clock::now_ms();
    let all = shared::unresolved::overview(&store, now_ms, 86_400, 1000)
        .await
        .unwrap();
    let oldest = shared::unresolved::overview_oldest(&store, now_ms, 86_400, 1000, 5)
        .await
        .unwrap();
    assert_eq!(all.entries.len(), 30);
    assert_eq!(oldest.entries.len(), 5, "kept: only the oldest");
    assert_eq!(oldest.counts, all.counts, "counted: every one");
    let subjects = |o: &shared::unresolved::Overview| -> Vec<String> {
        o.entries.iter().map(|e| e.subject.clone()).collect()
    };
    assert_eq!(subjects(&oldest), subjects(&all)[..5].to_vec());
    assert_eq!(oldest.oldest_age_secs(), all.oldest_age_secs());
}
