//! The outage drill: a whole day in virtual time (nothing sleeps). A fake CCPayment
//! sends 10,000 notifications to the real receiver code and retries failures on a
//! provider-like schedule; 1% of attempts fail in transit (half before reaching us,
//! half after we stored, so the answer is lost); our side is down for three hours
//! (the receiver's database unreachable, so it answers 503). The real reconciler
//! runs every five minutes in the same virtual time against a fake resend API that
//! refuses anything over the documented limits.
//!
//! At the end every notification is stored exactly once, no limit was exceeded,
//! every window was at most an hour, and the recovery time is printed.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout)]

use crate::support;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use shared::ccpayment::{CcpaymentConfig, CcpaymentReceiver};
use shared::metrics::Metrics;
use shared::store::Store;
use support::*;
use testkit::ccpayment::{DeliveryState, FakeCcpayment};

const DAY0: i64 = 1_767_225_600;

const OUTAGE: (i64, i64) = (DAY0 + 6 * 3600, DAY0 + 9 * 3600);
/// Seconds after the first send at which the provider tries again: 7 attempts over 2 h.
const RETRIES: [i64; 7] = [0, 60, 300, 900, 1800, 3600, 7200];
const TYPES: [&str; 5] = [
    "API Deposit",
    "Direct Deposit",
    "Invoice",
    "API Withdrawal",
    "Refund",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Notification id, attempt number.
    Attempt(usize, usize),
    Tick,
}

/// Deterministic xorshift, so a failing drill can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn body(id: usize) -> Vec<u8> {
    let kind = TYPES[id % TYPES.len()];
    format!(
        r#"{{"pay_status":"success","order_type":"{kind}","record_id":"drill-{id:06}","order_id":"o-{id}","merchant_order_id":"m-{id}","paid_amount":"{}.{:02}","crypto":"USDT","chain":"TRX"}}"#,
        id % 500,
        id % 100
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_with_a_three_hour_outage_loses_nothing_and_doubles_nothing() {
    let wall = Instant::now();
    // Half the day's notifications on every run; `DRILL_SCALE=full` sends 10,000.
    let notifications = support::drill_scale(10_000);
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = FakeCcpayment::start(APP_ID, SECRET, clock.clone()).await;

    let config = CcpaymentConfig {
        accounts: shared::ccpayment::credentials::Accounts::one(credentials()),
        freshness: shared::timestamp::Freshness {
            window_secs: 300,
            horizon_secs: 90 * 86_400,
        },
        max_body_bytes: 64 * 1024,
    };
    let up = CcpaymentReceiver::new(
        config.clone(),
        Store::new(client.clone(), &table, 90),
        Metrics::memory().0,
    );
    // The same code with its database unreachable: connection refused, no retries.
    let dead = dead_client().await;
    let down = CcpaymentReceiver::new(
        config,
        Store::new(dead.clone(), &table, 90),
        Metrics::memory().0,
    );
    let rc = reconciler_config(Some(&api.base_url()), "http://127.0.0.1:9");
    let (reconciler_up, _) = reconciler(client.clone(), &table, rc.clone());
    let (reconciler_down, _) = reconciler(dead, &table, rc);

    let mut queue: BinaryHeap<Reverse<(i64, Event)>> = BinaryHeap::new();
    let mut first_sent = Vec::with_capacity(notifications);
    for id in 0..notifications {
        let t = DAY0 + (id as i64 * 86_400) / notifications as i64;
        let logged = api.sent(t, TYPES[id % TYPES.len()]);
        assert_eq!(logged, id);
        first_sent.push(t);
        queue.push(Reverse((t, Event::Attempt(id, 0))));
    }
    let mut t = DAY0;
    while t <= DAY0 + 3 * 86_400 {
        queue.push(Reverse((t, Event::Tick)));
        t += 300;
    }

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut delivered: HashSet<usize> = HashSet::new();
    let mut stored_at: BTreeMap<usize, i64> = BTreeMap::new();
    let (mut attempts, mut lost_answers, mut answered_5xx, mut resend_deliveries) =
        (0u64, 0u64, 0u64, 0u64);
    let mut retry_base: Vec<i64> = first_sent.clone();
    let mut resent: HashSet<usize> = HashSet::new();
    while let Some(Reverse((now, event))) = queue.pop() {
        clock.store(now, Ordering::SeqCst);
        let in_outage = now >= OUTAGE.0 && now < OUTAGE.1;
        match event {
            Event::Tick => {
                let rec = if in_outage {
                    &reconciler_down
                } else {
                    &reconciler_up
                };
                rec.run_at(now).await;
                for id in api.take_redeliveries() {
                    // A resend is a new delivery, retried like the first one.
                    resend_deliveries += 1;
                    resent.insert(id);
                    retry_base[id] = now;
                    api.set_state(id, DeliveryState::Pending);
                    queue.push(Reverse((now, Event::Attempt(id, 0))));
                }
                if delivered.len() == notifications
                    && queue.iter().all(|Reverse((_, e))| *e == Event::Tick)
                {
                    break;
                }
            }
            Event::Attempt(id, n) => {
                attempts += 1;
                let roll = rng.next() % 200;
                let reached_us = roll != 0; // 0.5 %: lost before reaching us
                let answer_lost = roll == 1; // 0.5 %: stored, but the answer never arrives
                let mut ok = false;
                if reached_us {
                    let rx = if in_outage { &down } else { &up };
                    let resp = rx.handle_at(signed(&body(id), now), now).await;
                    if resp.status() == 200 && body_text(&resp) == "success" {
                        stored_at.entry(id).or_insert(now);
                        ok = !answer_lost;
                        lost_answers += u64::from(answer_lost);
                    } else {
                        assert!(
                            resp.status().is_server_error(),
                            "only the outage may refuse: {}",
                            resp.status()
                        );
                        answered_5xx += 1;
                    }
                }
                if ok {
                    delivered.insert(id);
                    api.set_state(id, DeliveryState::Delivered);
                } else if n + 1 < RETRIES.len() {
                    queue.push(Reverse((
                        retry_base[id] + RETRIES[n + 1],
                        Event::Attempt(id, n + 1),
                    )));
                } else {
                    api.set_state(id, DeliveryState::Failed);
                }
            }
        }
    }

    // Every notification stored exactly once.
    let items = all_items(&client, &table).await;
    let events = of_type(&items, "event");
    let keys: HashSet<&str> = events.iter().map(|e| s(e, "pk").unwrap()).collect();
    assert_eq!(events.len(), notifications, "one event per notification");
    assert_eq!(keys.len(), notifications, "no notification twice");
    assert!(of_type(&items, "conflict").is_empty());
    for st in of_type(&items, "state") {
        assert_eq!(num(st, "event_count"), Some(1));
        assert_eq!(s(st, "status"), Some("success"));
    }
    assert_eq!(stored_at.len(), notifications);

    // The resend limits were never exceeded, every window at most an hour.
    let calls = api.calls();
    assert!(api.violations().is_empty(), "{:?}", api.violations());
    let accepted: Vec<_> = calls.iter().filter(|c| c.accepted).collect();
    for w in accepted.windows(2) {
        assert!(w[1].at - w[0].at >= 60, "two calls within a minute");
    }
    for (i, c) in accepted.iter().enumerate() {
        assert!(c.end - c.start <= 3600 && c.end > c.start);
        let in_day = accepted[i..]
            .iter()
            .take_while(|d| d.at - c.at < 86_400)
            .count();
        assert!(in_day <= 24, "over 24 calls in a day from {}", c.at);
    }

    // Everything sent before the outage ended is stored by `recovered_at`.
    let recovered_at = (0..notifications)
        .filter(|id| first_sent[*id] < OUTAGE.1)
        .map(|id| stored_at[&id])
        .max()
        .unwrap();
    let needed_resend = resent
        .iter()
        .filter(|id| !stored_at.contains_key(id) || stored_at[id] >= OUTAGE.1)
        .count();
    println!("drill: {notifications} notifications, {attempts} delivery attempts, {answered_5xx} answered 5xx in the outage, {lost_answers} answers lost after storing");
    println!(
        "drill: {} resend calls ({} accepted, first {:.1} h, last {:.1} h after day start), {resend_deliveries} notifications resent",
        calls.len(),
        accepted.len(),
        (accepted.first().map_or(0, |c| c.at) - DAY0) as f64 / 3600.0,
        (accepted.last().map_or(0, |c| c.at) - DAY0) as f64 / 3600.0,
    );
    println!(
        "drill: {needed_resend} notifications exhausted the provider's retries in the outage; it ended at +9.0 h, everything sent before then was stored at +{:.2} h: recovery took {:.2} h",
        (recovered_at - DAY0) as f64 / 3600.0,
        (recovered_at - OUTAGE.1) as f64 / 3600.0
    );
    for c in accepted.iter().filter(|c| c.at <= recovered_at) {
        println!(
            "drill: call at +{:.2} h for window +{:.0} h",
            (c.at - DAY0) as f64 / 3600.0,
            (c.start - DAY0) as f64 / 3600.0
        );
    }
    println!("drill: wall time {:.1} s", wall.elapsed().as_secs_f64());
    assert!(
        needed_resend > 0,
        "the outage must have cost deliveries, or the drill proves nothing"
    );
    assert!(recovered_at > OUTAGE.1);
}

const V2_RECORDS: usize = 2_400;
/// CCPayment v2's documented retry gaps (30 s ... 31 m 30 s), as offsets from the
/// first attempt: seven attempts over an hour.
const V2_RETRIES: [i64; 7] = [0, 30, 120, 330, 780, 1710, 3600];
const V2_TYPES: [&str; 3] = ["DirectDeposit", "ApiDeposit", "ApiWithdrawal"];

fn v2_id(i: usize) -> String {
    format!("v2drill-{i:05}")
}

fn v2_body(i: usize) -> Vec<u8> {
    let id = v2_id(i);
    match V2_TYPES[i % V2_TYPES.len()] {
        "DirectDeposit" => format!(r#"{{"type":"DirectDeposit","msg":{{"recordId":"{id}","referenceId":"u-{i}","coinId":1280,"coinSymbol":"USDT","status":"Success","isFlaggedAsRisky":false}}}}"#),
        "ApiDeposit" => format!(r#"{{"type":"ApiDeposit","msg":{{"recordId":"{id}","orderId":"o-{i}","coinId":1280,"coinSymbol":"USDT","status":"Success","isFlaggedAsRisky":false}}}}"#),
        _ => format!(r#"{{"type":"ApiWithdrawal","msg":{{"recordId":"{id}","orderId":"w-{i}","coinId":1280,"coinSymbol":"USDT","status":"Success"}}}}"#),
    }
    .into_bytes()
}

/// The v2 drill: a day of v2 notifications in virtual time, 1% of attempts lost in
/// transit (half before reaching us, half after we stored), our database down for
/// three hours. CCPayment retries on its documented schedule, then gives up; the
/// real reconciler sweeps the list APIs every five minutes against a fake that
/// refuses requests closer than its pace. At the end every record is stored exactly
/// once (one state, one event), none is double-counted, no limit was exceeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccpayment_v2_a_day_with_a_three_hour_outage_is_recovered_by_sweeps() {
    use shared::ccpayment::credentials::Accounts;
    use shared::ccpayment::Credentials;
    use shared::ccpayment_v2::NotificationType;
    use shared::reconcile::V2SweepConfig;
    use testkit::ccpayment_v2::{FakeCcpaymentV2, FakeOrder, FakeRecord, RecordAnswer};

    let wall = Instant::now();
    let (client, table) = fresh_table().await;
    let api = FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    api.pace_lists(std::time::Duration::from_millis(4));
    let mut first_sent = Vec::with_capacity(V2_RECORDS);
    let mut queue: BinaryHeap<Reverse<(i64, Event)>> = BinaryHeap::new();
    for i in 0..V2_RECORDS {
        let t = DAY0 + (i as i64 * 86_400) / V2_RECORDS as i64;
        let id = v2_id(i);
        let list = match V2_TYPES[i % V2_TYPES.len()] {
            "ApiWithdrawal" => "getAppWithdrawRecordList",
            "ApiDeposit" => {
                api.set_record(
                    &id,
                    RecordAnswer::Record(FakeRecord {
                        order_id: Some(format!("o-{i}")),
                        ..FakeRecord::success("10")
                    }),
                );
                api.set_order(
                    &format!("o-{i}"),
                    FakeOrder {
                        invoice: false,
                        amount_due: "10".into(),
                        payments: vec![id.clone()],
                    },
                );
                "getAppDepositRecordList"
            }
            _ => "getAppDepositRecordList",
        };
        api.list_record(list, &id, t);
        first_sent.push(t);
        queue.push(Reverse((t, Event::Attempt(i, 0))));
    }
    let end = DAY0 + 86_400 + 3900 + 900;
    let mut t = DAY0;
    while t <= end {
        queue.push(Reverse((t, Event::Tick)));
        t += 300;
    }

    let config = v2_config(&api.base_url());
    let (up, _) = ccpayment_v2_receiver(client.clone(), &table, config.clone());
    let dead = dead_client().await;
    let (down, _) = ccpayment_v2_receiver(dead.clone(), &table, config);
    let mut rc = reconciler_config(None, "http://127.0.0.1:9");
    rc.ccpayment_v2 = Some((
        api.base_url(),
        Accounts::one(Credentials::new(V2_APP_ID, V2_SECRET)),
    ));
    rc.v2_sweep = Some(V2SweepConfig {
        lists: vec![
            NotificationType::ApiDeposit,
            NotificationType::ApiWithdrawal,
        ],
        min_interval: std::time::Duration::from_millis(5),
        requests_per_run: 30,
        lag_secs: 3900,
        backfill_secs: 3600,
        max_range_secs: 86_400,
    });
    let (reconciler_up, _) = reconciler(client.clone(), &table, rc.clone());
    let (reconciler_down, _) = reconciler(dead, &table, rc);

    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut stored_at: BTreeMap<usize, i64> = BTreeMap::new();
    let (mut attempts, mut lost_answers, mut answered_5xx, mut gave_up) = (0u64, 0u64, 0u64, 0u64);
    let mut runs_failed = 0;
    while let Some(Reverse((now, event))) = queue.pop() {
        let in_outage = now >= OUTAGE.0 && now < OUTAGE.1;
        match event {
            Event::Tick => {
                let rec = if in_outage {
                    &reconciler_down
                } else {
                    &reconciler_up
                };
                let sum = rec.run_at(now).await;
                if !sum.errors.is_empty() {
                    assert!(
                        in_outage,
                        "a run failed outside the outage: {:?}",
                        sum.errors
                    );
                    runs_failed += 1;
                }
            }
            Event::Attempt(i, n) => {
                attempts += 1;
                let roll = rng.next() % 200;
                let mut ok = false;
                if roll != 0 {
                    let rx = if in_outage { &down } else { &up };
                    let resp = rx.handle_at(signed_v2(&v2_body(i), now), now).await;
                    if resp.status() == 200 && body_text(&resp) == "Success" {
                        stored_at.entry(i).or_insert(now);
                        ok = roll != 1;
                        lost_answers += u64::from(roll == 1);
                    } else {
                        assert!(
                            resp.status().is_server_error(),
                            "only the outage may refuse: {}",
                            resp.status()
                        );
                        answered_5xx += 1;
                    }
                }
                if !ok {
                    if n + 1 < V2_RETRIES.len() {
                        queue.push(Reverse((
                            first_sent[i] + V2_RETRIES[n + 1],
                            Event::Attempt(i, n + 1),
                        )));
                    } else if !stored_at.contains_key(&i) {
                        gave_up += 1;
                    }
                }
            }
        }
    }

    // Every record stored exactly once: one state at Success, one event, no conflict.
    let items = all_items(&client, &table).await;
    let mut events_of: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for e in of_type(&items, "event") {
        events_of.entry(s(e, "pk").unwrap()).or_default().push(e);
    }
    assert_eq!(events_of.len(), V2_RECORDS, "every record stored");
    let doubled: Vec<_> = events_of.iter().filter(|(_, e)| e.len() != 1).collect();
    assert!(
        doubled.is_empty(),
        "{} records with two events",
        doubled.len()
    );
    assert!(of_type(&items, "conflict").is_empty());
    let states = of_type(&items, "state");
    assert_eq!(states.len(), V2_RECORDS);
    for st in &states {
        assert_eq!(s(st, "status"), Some("Success"), "{:?}", s(st, "pk"));
    }
    let mut found_by_sweep = 0;
    for (i, id) in (0..V2_RECORDS).map(|i| (i, v2_id(i))) {
        let pk = shared::store::schema::record_pk("ccpayment-v2", &id);
        let e = events_of[pk.as_str()][0];
        if s(e, "sk").is_some_and(|k| k.starts_with("event#sweep#")) {
            assert!(
                !stored_at.contains_key(&i),
                "{id}: a webhook stored it, the sweep too"
            );
            assert!(flags(e).contains(&"found_by_sweep".to_string()));
            stored_at.insert(i, num(e, "received_at_ms").unwrap() / 1000);
            found_by_sweep += 1;
        }
    }
    assert_eq!(stored_at.len(), V2_RECORDS);
    assert!(api.violations().is_empty(), "{:?}", api.violations());
    assert!(api.resends().iter().all(|c| c.accepted));

    let recovered_at = (0..V2_RECORDS)
        .filter(|i| first_sent[*i] < OUTAGE.1)
        .map(|i| stored_at[&i])
        .max()
        .unwrap();
    let lists = api.list_requests();
    println!("v2 drill: {V2_RECORDS} records, {attempts} delivery attempts, {answered_5xx} answered 5xx in the outage, {lost_answers} answers lost after storing, {runs_failed} reconciler runs failed in the outage");
    println!("v2 drill: {gave_up} records whose webhooks CCPayment gave up on; {found_by_sweep} found by sweep with {lists} list requests ({:.2} a run), {} resend calls", lists as f64 / ((end - DAY0) / 300 + 1) as f64, api.resends().len());
    println!(
        "v2 drill: the outage ended at +9.0 h; everything created before then was stored at +{:.2} h: recovery took {:.2} h",
        (recovered_at - DAY0) as f64 / 3600.0,
        (recovered_at - OUTAGE.1) as f64 / 3600.0
    );
    println!("v2 drill: wall time {:.1} s", wall.elapsed().as_secs_f64());
    assert_eq!(
        found_by_sweep as u64, gave_up,
        "the sweep found exactly what the retries gave up on"
    );
    assert!(
        gave_up > 0,
        "the outage must have cost deliveries, or the drill proves nothing"
    );
    assert!(recovered_at > OUTAGE.1);
}
