//! What pages a human: the reconciler reads the operator's list each run and, for
//! each category with a limit, says whether its oldest entry is past it (the
//! `UnresolvedNeedsAHuman` metric its alarm watches, and a log line).

use crate::support;

use shared::metrics::total;
use support::*;

const RECORD: &str = "202302201213531627642695975706624";

/// `UnresolvedNeedsAHuman` per category in the documents of one run.
fn paging(docs: &Docs) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = docs
        .lock()
        .unwrap()
        .iter()
        .filter_map(|d| {
            Some((
                d.get("Category")?.as_str()?.to_string(),
                d.get("UnresolvedNeedsAHuman")?.as_f64()?,
            ))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    docs.lock().unwrap().clear();
    out
}

#[tokio::test]
async fn a_conflict_pages_once_older_than_its_limit_and_stops_when_acknowledged() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    // Ages count from when we received it: the clock's now.
    let now = shared::clock::now_unix();
    for body in ["api-deposit", "api-deposit-conflicting"] {
        let resp = rx.handle_at(signed(&fixture(body), now), now).await;
        assert_eq!(resp.status(), 200);
    }
    let mut rc = reconciler_config(None, "http://127.0.0.1:9");
    rc.page_after = shared::reconcile::paging::parse("conflict=1,held=4,not_final=0").unwrap();
    let (reconciler, docs) = reconciler(client.clone(), &table, rc);

    // Half an hour old: listed, not yet paging.
    let sum = reconciler.run_at(now + 1800).await;
    assert_eq!(sum.unresolved.get("conflict"), Some(&1));
    assert!(sum.needs_a_human.is_empty(), "{:?}", sum.needs_a_human);
    assert_eq!(
        paging(&docs),
        vec![("conflict".into(), 0.0), ("held".into(), 0.0)],
        "one value per paging category, nothing for a category at 0"
    );

    // Two hours old: it pages, with its age; the category without a limit never does.
    let sum = reconciler.run_at(now + 7200).await;
    let age = sum
        .needs_a_human
        .get("conflict")
        .copied()
        .unwrap_or_default();
    // Its age counts from when the conflicting body was stored, a moment after `now`
    // (longer on a loaded machine): two hours at most, far past the 1 h limit.
    assert!((7200 - 60..=7200).contains(&age), "{:?}", sum.needs_a_human);
    assert_eq!(sum.needs_a_human.len(), 1);
    assert_eq!(
        paging(&docs),
        vec![("conflict".into(), 1.0), ("held".into(), 0.0)]
    );

    // The table unreachable: the run fails, and says nothing about paging either way.
    let (blind, blind_docs) = support::reconciler(
        dead_client().await,
        &table,
        reconciler_config(None, "http://127.0.0.1:9"),
    );
    let sum = blind.run_at(now + 7300).await;
    assert!(!sum.errors.is_empty());
    assert!(paging(&blind_docs).is_empty(), "no 0 from a list not read");

    // Looked at and acknowledged: the page stops.
    let store = shared::store::Store::new(client.clone(), &table, 90);
    assert!(
        store
            .acknowledge("ccpayment", RECORD, NOW * 1000)
            .await
            .unwrap()
            > 0
    );
    let sum = reconciler.run_at(now + 9000).await;
    assert!(sum.needs_a_human.is_empty());
    assert_eq!(total(&docs, "UnresolvedNeedsAHuman"), 0.0);
}
