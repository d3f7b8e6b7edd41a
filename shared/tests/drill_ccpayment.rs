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

mod support;

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
const NOTIFICATIONS: usize = 10_000;
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
    let (client, table) = fresh_table().await;
    let clock = Arc::new(AtomicI64::new(DAY0));
    let api = FakeCcpayment::start(APP_ID, SECRET, clock.clone()).await;

    let config = CcpaymentConfig {
        credentials: credentials(),
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
    let mut first_sent = Vec::with_capacity(NOTIFICATIONS);
    for id in 0..NOTIFICATIONS {
        let t = DAY0 + (id as i64 * 86_400) / NOTIFICATIONS as i64;
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
                if delivered.len() == NOTIFICATIONS
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
    assert_eq!(events.len(), NOTIFICATIONS, "one event per notification");
    assert_eq!(keys.len(), NOTIFICATIONS, "no notification twice");
    assert!(of_type(&items, "conflict").is_empty());
    for st in of_type(&items, "state") {
        assert_eq!(num(st, "event_count"), Some(1));
        assert_eq!(s(st, "status"), Some("success"));
    }
    assert_eq!(stored_at.len(), NOTIFICATIONS);

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
    let recovered_at = (0..NOTIFICATIONS)
        .filter(|id| first_sent[*id] < OUTAGE.1)
        .map(|id| stored_at[&id])
        .max()
        .unwrap();
    let needed_resend = resent
        .iter()
        .filter(|id| !stored_at.contains_key(id) || stored_at[id] >= OUTAGE.1)
        .count();
    println!("drill: {NOTIFICATIONS} notifications, {attempts} delivery attempts, {answered_5xx} answered 5xx in the outage, {lost_answers} answers lost after storing");
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
