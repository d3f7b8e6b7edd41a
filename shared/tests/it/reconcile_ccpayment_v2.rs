//! The CCPayment v2 half of the reconciler against DynamoDB Local and a loopback
//! CCPayment whose record APIs can fail and whose resend API holds v1's limits.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

use shared::ccpayment::credentials::Accounts;
use shared::ccpayment::Credentials;
use shared::metrics::total;
use std::time::Duration;
use support::*;

use shared::ccpayment_v2::NotificationType;
use shared::reconcile::V2SweepConfig;
use testkit::ccpayment_v2::{FakeCcpaymentV2, FakeRecord, RecordAnswer};

const DEPOSITS: &str = "getAppDepositRecordList";
const WITHDRAWALS: &str = "getAppWithdrawRecordList";

fn deposit(id: &str) -> Vec<u8> {
    format!(r#"{{"type":"DirectDeposit","msg":{{"recordId":"{id}","referenceId":"u-1","status":"Success"}}}}"#)
        .into_bytes()
}

struct Rig {
    client: aws_sdk_dynamodb::Client,
    table: String,
    fake: FakeCcpaymentV2,
    rx: shared::ccpayment_v2::CcpaymentV2Receiver,
    reconciler: shared::reconcile::Reconciler,
}

async fn rig() -> Rig {
    rig_with(None).await
}

/// Sweeps paced at 50 ms (the fake refuses closer than 40 ms: transit jitter).
fn sweep(requests_per_run: u32) -> V2SweepConfig {
    V2SweepConfig {
        lists: vec![
            NotificationType::ApiDeposit,
            NotificationType::ApiWithdrawal,
        ],
        min_interval: Duration::from_millis(50),
        requests_per_run,
        lag_secs: 900,
        backfill_secs: 86_400,
        max_range_secs: 86_400,
    }
}

async fn rig_with(sweep: Option<V2SweepConfig>) -> Rig {
    let (client, table) = fresh_table().await;
    let fake = FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    let (rx, _) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let mut config = reconciler_config(None, "http://127.0.0.1:9");
    config.ccpayment_v2 = Some((
        fake.base_url(),
        Accounts::one(Credentials::new(V2_APP_ID, V2_SECRET)),
    ));
    config.resend_settle_secs = 0;
    config.v2_sweep = sweep;
    let (reconciler, _) = reconciler(client.clone(), &table, config);
    Rig {
        client,
        table,
        fake,
        rx,
        reconciler,
    }
}

#[tokio::test]
async fn unconfirmed_records_are_confirmed_by_the_record_api_later() {
    let r = rig().await;
    r.fake.set_record("a-1", RecordAnswer::HttpError(500));
    r.fake.set_record(
        "a-2",
        RecordAnswer::Record(FakeRecord {
            status: "Processing".into(),
            ..FakeRecord::success("5")
        }),
    );
    for id in ["a-1", "a-2"] {
        assert_eq!(
            r.rx.handle_at(signed_v2(&deposit(id), NOW), NOW)
                .await
                .status(),
            200
        );
    }
    let st = state_item(&r.client, &r.table, "ccpayment-v2", "a-1")
        .await
        .unwrap();
    assert!(!st.contains_key("status"));

    // The record API is back; the processing deposit has landed meanwhile.
    r.fake
        .set_record("a-1", RecordAnswer::Record(FakeRecord::success("7")));
    r.fake
        .set_record("a-2", RecordAnswer::Record(FakeRecord::success("5")));
    let sum = r.reconciler.run_at(NOW + 600).await;
    assert!(sum.errors.is_empty(), "{:?}", sum.errors);
    assert_eq!(
        (sum.v2_checked, sum.v2_updated, sum.v2_unconfirmed),
        (2, 2, 0)
    );
    for id in ["a-1", "a-2"] {
        let st = state_item(&r.client, &r.table, "ccpayment-v2", id)
            .await
            .unwrap();
        assert_eq!(s(&st, "status"), Some("Success"), "{id}");
        assert!(
            !st.contains_key("open_pk"),
            "{id}: final, out of the open index"
        );
    }
    assert!(r.fake.resends().is_empty(), "nothing to resend");
}

#[tokio::test]
async fn records_that_stay_unconfirmable_are_asked_to_be_resent_by_id_within_the_budget() {
    let r = rig().await;
    let ids: Vec<String> = (0..60).map(|i| format!("b-{i:02}")).collect();
    for id in &ids {
        r.fake.set_record(id, RecordAnswer::HttpError(503));
        r.rx.handle_at(signed_v2(&deposit(id), NOW), NOW).await;
    }
    let first = r.reconciler.run_at(NOW + 600).await;
    assert_eq!(first.v2_resend_calls, 1);
    assert_eq!(first.v2_unconfirmed, 60);
    // A second run within the minute makes no call.
    let second = r.reconciler.run_at(NOW + 630).await;
    assert_eq!(second.v2_resend_calls, 0);
    let third = r.reconciler.run_at(NOW + 700).await;
    assert_eq!(third.v2_resend_calls, 1);
    let calls = r.fake.resends();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.accepted && c.record_ids.len() <= 50));
    assert_eq!(calls[0].record_ids.len(), 50, "a full call first");
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());
}

#[tokio::test]
async fn a_rate_limit_stops_the_run_and_the_next_run_carries_on() {
    let r = rig().await;
    for id in ["c-1", "c-2", "c-3"] {
        r.fake.set_record(id, RecordAnswer::HttpError(500));
        r.rx.handle_at(signed_v2(&deposit(id), NOW), NOW).await;
    }
    for id in ["c-1", "c-2", "c-3"] {
        r.fake
            .set_record(id, RecordAnswer::Code(11_004, "rate limit".into()));
    }
    let limited = r.reconciler.run_at(NOW + 600).await;
    assert!(limited.v2_rate_limited);
    assert_eq!(limited.v2_checked, 1, "stopped at the first 11004");
    assert_eq!(
        limited.v2_resend_calls, 0,
        "a rate limit is not a failure to resend for"
    );
    for id in ["c-1", "c-2", "c-3"] {
        r.fake
            .set_record(id, RecordAnswer::Record(FakeRecord::success("1")));
    }
    let next = r.reconciler.run_at(NOW + 900).await;
    assert!(!next.v2_rate_limited);
    assert_eq!(next.v2_updated, 3);
}

#[tokio::test]
async fn an_hour_with_evidence_of_loss_is_asked_to_be_resent_for_its_account() {
    let r = rig().await;
    let forged = signed_v2_by(V2_APP_ID, "an-old-secret", &deposit("d-1"), NOW);
    assert_eq!(r.rx.handle_at(forged, NOW).await.status(), 401);
    let sum = r.reconciler.run_at(NOW + 7200).await;
    assert_eq!(sum.v2_resend_calls, 1);
    let calls = r.fake.resends();
    assert_eq!(calls.len(), 1);
    let hour = NOW - NOW % 3600;
    assert_eq!(calls[0].window, Some((hour, hour + 3600)));
    // Done: not asked again.
    let again = r.reconciler.run_at(NOW + 7400).await;
    assert_eq!(again.v2_resend_calls, 0);
}

#[tokio::test]
async fn forged_signatures_cannot_spend_the_calls_kept_for_resends_by_id() {
    let r = rig().await;
    let (rx, docs) =
        ccpayment_v2_receiver(r.client.clone(), &r.table, v2_config(&r.fake.base_url()));
    let base = NOW - NOW % 3600;
    // A day of forged requests with our App ID (not a secret): ten an hour.
    for h in 0..24 {
        for k in 0..10 {
            let at = base + h * 3600 + 60 + k * 10;
            let forged = signed_v2_by(V2_APP_ID, "not-the-secret", &deposit("f-1"), at);
            assert_eq!(rx.handle_at(forged, at).await.status(), 401);
        }
        let sum = r.reconciler.run_at(base + (h + 1) * 3600 + 30).await;
        assert!(sum.v2_resend_calls <= 1);
    }
    assert_eq!(
        total(&docs, "UnverifiedLossEvidence"),
        240.0,
        "every one counted"
    );
    let calls = r.fake.resends();
    assert_eq!(
        calls.len(),
        12,
        "one window an hour, and only the unreserved half"
    );
    assert!(calls.iter().all(|c| c.window.is_some()));
    // A record the record API cannot confirm is still asked for by id.
    let at = base + 24 * 3600 + 100;
    r.fake.set_record("e-1", RecordAnswer::HttpError(503));
    assert_eq!(
        r.rx.handle_at(signed_v2(&deposit("e-1"), at), at)
            .await
            .status(),
        200
    );
    let sum = r.reconciler.run_at(at + 100).await;
    assert_eq!(sum.v2_resend_calls, 1);
    let last = r.fake.resends().pop().unwrap();
    assert_eq!(last.record_ids, vec!["e-1".to_string()]);
    assert!(last.accepted);
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());
}

/// The events of one record, by sort key.
async fn events_of(r: &Rig, id: &str) -> Vec<Item> {
    let pk = shared::store::schema::record_pk("ccpayment-v2", id);
    all_items(&r.client, &r.table)
        .await
        .into_iter()
        .filter(|i| s(i, "pk") == Some(pk.as_str()) && s(i, "item_type") == Some("event"))
        .collect()
}

#[tokio::test]
async fn a_sweep_stores_every_record_we_never_received_and_nothing_twice() {
    let r = rig_with(Some(sweep(30))).await;
    r.fake.pace_lists(Duration::from_millis(40));
    // 45 deposits over the last day (three pages), two withdrawals, one deposit
    // to a risky address (CCPayment sends no webhook for it), one too young to sweep.
    let start = NOW - 86_000;
    for i in 0..45 {
        r.fake
            .list_record(DEPOSITS, &format!("s-{i:02}"), start + i * 1800);
    }
    r.fake.list_record(WITHDRAWALS, "w-1", NOW - 7200);
    r.fake.list_record(WITHDRAWALS, "w-2", NOW - 3600);
    r.fake.list_record(DEPOSITS, "risky-1", NOW - 5000);
    r.fake.list_record(DEPOSITS, "s-young", NOW - 60);
    // We did receive five of them; one of those was still processing then.
    for i in 0..5 {
        let id = format!("s-{i:02}");
        if i == 0 {
            r.fake.set_record(
                &id,
                RecordAnswer::Record(FakeRecord {
                    status: "Processing".into(),
                    ..FakeRecord::success("10")
                }),
            );
        }
        let resp = r.rx.handle_at(signed_v2(&deposit(&id), NOW), NOW).await;
        assert_eq!(resp.status(), 200);
    }
    r.fake
        .set_record("s-00", RecordAnswer::Record(FakeRecord::success("10")));

    let sum = r.reconciler.run_at(NOW).await;
    assert!(sum.errors.is_empty(), "{:?}", sum.errors);
    assert_eq!(
        sum.v2_found_by_sweep,
        40 + 2 + 1,
        "all but the five received"
    );
    assert_eq!(
        sum.v2_swept_records, 48,
        "the young one is left to its webhook"
    );
    assert_eq!(
        sum.v2_sweep_requests,
        3 + 1,
        "three deposit pages, one withdrawal page"
    );
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());

    for i in 5..45 {
        let id = format!("s-{i:02}");
        let st = state_item(&r.client, &r.table, "ccpayment-v2", &id)
            .await
            .unwrap_or_else(|| panic!("{id} not stored"));
        assert_eq!(s(&st, "status"), Some("Success"), "{id}");
        let ev = events_of(&r, &id).await;
        assert_eq!(ev.len(), 1, "{id}");
        assert_eq!(s(&ev[0], "sk"), Some("event#sweep#Success"));
        assert!(flags(&ev[0]).contains(&"found_by_sweep".to_string()));
        assert_eq!(map(&ev[0], "amounts", "amount"), Some("10"));
    }
    // Received ones are not stored again; the one processing then has moved on.
    for i in 0..5 {
        let id = format!("s-{i:02}");
        assert_eq!(events_of(&r, &id).await.len(), 1, "{id}");
    }
    let st = state_item(&r.client, &r.table, "ccpayment-v2", "s-00")
        .await
        .unwrap();
    assert_eq!(s(&st, "status"), Some("Success"));
    let risky = state_item(&r.client, &r.table, "ccpayment-v2", "risky-1")
        .await
        .unwrap();
    assert_eq!(s(&risky, "status"), Some("FlaggedAsRisky"), "never paid");
    assert!(flags(&risky).contains(&"risky".to_string()));
    let w = events_of(&r, "w-1").await;
    assert_eq!(s(&w[0], "kind"), Some("ApiWithdrawal"));
    assert!(state_item(&r.client, &r.table, "ccpayment-v2", "s-young")
        .await
        .is_none());

    // The next run starts where this one ended: only the young record is new.
    let before = r.fake.list_requests();
    let next = r.reconciler.run_at(NOW + 1200).await;
    assert!(next.errors.is_empty(), "{:?}", next.errors);
    assert_eq!(next.v2_found_by_sweep, 1);
    assert_eq!(r.fake.list_requests() - before, 2, "one page per list");
    assert!(state_item(&r.client, &r.table, "ccpayment-v2", "s-young")
        .await
        .is_some());

    // A webhook arriving after the sweep is a new event beside it, not a conflict.
    let late =
        r.rx.handle_at(signed_v2(&deposit("s-30"), NOW + 1300), NOW + 1300)
            .await;
    assert_eq!(late.status(), 200);
    assert_eq!(events_of(&r, "s-30").await.len(), 2);
    let items = all_items(&r.client, &r.table).await;
    assert!(of_type(&items, "conflict").is_empty());
}

#[tokio::test]
async fn a_sweep_cut_short_resumes_at_its_page_and_backs_off_on_a_rate_limit() {
    let r = rig_with(Some(sweep(1))).await;
    r.fake.pace_lists(Duration::from_millis(40));
    for i in 0..45 {
        r.fake
            .list_record(DEPOSITS, &format!("p-{i:02}"), NOW - 80_000 + i * 60);
    }
    let first = r.reconciler.run_at(NOW).await;
    assert_eq!((first.v2_sweep_requests, first.v2_found_by_sweep), (1, 20));
    assert!(first.v2_sweep_behind_secs > 0, "a range is still open");

    r.fake.rate_limit_lists(1);
    let limited = r.reconciler.run_at(NOW + 300).await;
    assert!(limited.v2_sweep_rate_limited);
    assert_eq!(limited.v2_found_by_sweep, 0);
    let asked = r.fake.list_requests();
    // Within the pause nothing is asked; after it, the walk goes on from page two.
    let paused = r.reconciler.run_at(NOW + 330).await;
    assert!(paused.v2_sweep_rate_limited);
    assert_eq!(r.fake.list_requests(), asked, "no request while paused");
    let mut found = first.v2_found_by_sweep;
    for k in 0..6 {
        found += r
            .reconciler
            .run_at(NOW + 400 + k * 300)
            .await
            .v2_found_by_sweep;
    }
    assert_eq!(found, 45);
    let items = all_items(&r.client, &r.table).await;
    assert_eq!(of_type(&items, "event").len(), 45, "each record once");
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());
}

#[tokio::test]
async fn a_manual_resend_for_a_v2_account_is_asked_within_its_budget() {
    let r = rig().await;
    let bad = serde_json::json!({"resend": {"from": NOW - 7200, "to": NOW - 3600, "provider": "ccpayment-v2", "app_id": "no-such-shop"}});
    let refused = r.reconciler.handle(&bad, NOW).await;
    assert!(
        matches!(&refused, Err(shared::reconcile::RunError::BadRequest(m)) if m.contains("no-such-shop")),
        "{refused:?}"
    );
    let v1 = serde_json::json!({"resend": {"from": NOW - 7200, "to": NOW - 3600}});
    assert!(
        matches!(
            r.reconciler.handle(&v1, NOW).await,
            Err(shared::reconcile::RunError::BadRequest(_))
        ),
        "v1 is not configured in this rig"
    );
    assert!(
        r.fake.resends().is_empty(),
        "a refused request queues nothing"
    );

    let ok = serde_json::json!({"resend": {"from": NOW - 7200, "to": NOW - 3600, "provider": "ccpayment-v2", "transaction_type": "ApiDeposit", "webhook_result": "All Result"}});
    let sum = r.reconciler.handle(&ok, NOW).await.unwrap();
    assert_eq!(sum.manual_windows_queued, 1);
    assert_eq!(sum.v2_resend_calls, 1, "asked at once, no settle delay");
    let calls = r.fake.resends();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].window, Some((NOW - 7200, NOW - 3600)));
    assert!(r.fake.violations().is_empty());
}

#[tokio::test]
async fn each_account_gets_its_own_share_of_a_runs_sweep_requests() {
    let (client, table) = fresh_table().await;
    let fake = FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    for i in 0..45 {
        fake.list_record(DEPOSITS, &format!("q-{i:02}"), NOW - 80_000 + i * 60);
    }
    let mut config = reconciler_config(None, "http://127.0.0.1:9");
    // A second shop, whose requests this fake refuses (it knows one account only).
    config.ccpayment_v2 = Some((
        fake.base_url(),
        Accounts::new(vec![
            Credentials::new(V2_APP_ID, V2_SECRET),
            Credentials::new("shop-2", "shop-2-secret"),
        ])
        .unwrap(),
    ));
    config.v2_sweep = Some(V2SweepConfig {
        lists: vec![NotificationType::ApiDeposit],
        ..sweep(2)
    });
    let (reconciler, _) = reconciler(client, &table, config);
    let sum = reconciler.run_at(NOW).await;
    assert_eq!(
        sum.v2_found_by_sweep, 20,
        "the first shop's backlog takes one request, not both"
    );
    assert_eq!(sum.v2_sweep_requests, 2);
    assert_eq!(
        fake.refused_signatures(),
        1,
        "the second shop was asked for too"
    );
    assert!(
        sum.errors.iter().any(|e| e.contains("shop-2")),
        "{:?}",
        sum.errors
    );
}
