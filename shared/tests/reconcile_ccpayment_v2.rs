//! The CCPayment v2 half of the reconciler against DynamoDB Local and a loopback
//! CCPayment whose record APIs can fail and whose resend API holds v1's limits.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use shared::ccpayment::credentials::Accounts;
use shared::ccpayment::Credentials;
use shared::secret::Secret;
use support::*;
use testkit::ccpayment_v2::{FakeCcpaymentV2, FakeRecord, RecordAnswer};

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
    let (client, table) = fresh_table().await;
    let fake = FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    let (rx, _) = ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake.base_url()));
    let mut config = reconciler_config(None, "http://127.0.0.1:9");
    config.ccpayment_v2 = Some((
        fake.base_url(),
        Accounts::one(Credentials {
            app_id: V2_APP_ID.into(),
            secret: Secret::new(V2_SECRET),
            previous_secret: None,
        }),
    ));
    config.resend_settle_secs = 0;
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
