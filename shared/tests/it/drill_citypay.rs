//! The CityPay drill, in virtual time: 600 orders over a day, 70% paid ten minutes
//! after creation, the rest left to expire after an hour (CityPay never calls back
//! for expiry). Our side is down for three hours; callbacks sent then are lost
//! (CityPay's retries are undocumented, so the drill assumes none). The reconciler
//! runs every five minutes against the fake order API.
//!
//! The reconciler also sweeps CityPay's order history, so orders whose every
//! callback fell in the outage are found too.
//!
//! At the end every order has CityPay's true final status locally (CONFIRMED or
//! EXPIRED), every callback we received is stored exactly once, the sweep stayed
//! within CityPay's limits, and the time from the end of the outage to full
//! recovery is printed.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout)]

use crate::support;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::time::{Duration, Instant};

use shared::citypay::order_record_key;
use shared::citypay::{Citypay, CitypayConfig, CitypayReceiver};
use shared::intake::IpAllowList;
use shared::metrics::Metrics;
use shared::secret::Secret;
use shared::store::Store;
use support::*;
use testkit::citypay::FakeCityPay;

const DAY0: i64 = 1_767_225_600;

const OUTAGE: (i64, i64) = (DAY0 + 6 * 3600, DAY0 + 9 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Created(usize),
    Paid(usize),
    Tick,
}

fn token(i: usize) -> String {
    format!("drill-order-{i:04}")
}

fn callback(i: usize, action: &str, status: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"order callback","action":"{action}","status":"{status}","order_id":{i},"client_order_id":"shop-{i}","transaction_id":"tx-{i}","order_token":"{}","order_expiration":60,"fiat_currency":"USD","crypto_currency":"btc"}}"#,
        token(i)
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_orders_and_a_three_hour_outage_end_in_the_true_state() {
    let wall = Instant::now();
    // Half the day's orders on every run; `DRILL_SCALE=full` creates all 600.
    let orders = support::drill_scale(600);
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    let config = |client: aws_sdk_dynamodb::Client| {
        CitypayReceiver::new(
            Citypay::new(CitypayConfig {
                path_token: Secret::new(CITYPAY_TOKEN),
                allowed_ips: IpAllowList::default(),
                max_body_bytes: 64 * 1024,
                api_base: fake.base_url(),
                confirm_timeout: Duration::from_secs(2),
                customer_id: Some(testkit::citypay::CUSTOMER_ID.to_string()),
            })
            .unwrap(),
            Store::new(client, &table, 90),
            Metrics::memory().0,
        )
    };
    let up = config(client.clone());
    let dead = dead_client().await;
    let down = config(dead.clone());
    let mut rc = reconciler_config(None, &fake.base_url());
    // Expired orders leave the open index within the drill's last hours.
    rc.citypay_late_payment_grace_secs = 2 * 3600;
    rc.citypay_sweep = Some(shared::reconcile::CitypaySweepConfig {
        access_token: Secret::new("drill-access-token"),
        pages_per_run: 4,
        page_size: 50,
        // Virtual time: the drill counts requests per virtual hour itself.
        min_interval: Duration::ZERO,
        overlap_secs: 3600,
        backfill_secs: 86_400,
    });
    fake.set_access(
        "drill-access-token",
        testkit::citypay::JwtHeader::Authorization,
    );
    fake.set_rate_limits(usize::MAX, usize::MAX);
    let mut history_requests: BTreeMap<i64, usize> = BTreeMap::new();
    let mut busiest_run = 0usize;
    let mut found_by_sweep = 0u32;
    let (reconciler_up, _) = reconciler(client.clone(), &table, rc.clone());
    let (reconciler_down, _) = reconciler(dead, &table, rc);

    let mut queue: BinaryHeap<Reverse<(i64, Event)>> = BinaryHeap::new();
    let mut created_at = Vec::new();
    for i in 0..orders {
        let t = DAY0 + (i as i64 * 86_400) / orders as i64;
        created_at.push(t);
        fake.set_status(&token(i), "IN_PROGRESS");
        fake.set_expires_at_ms(&token(i), (t + 3600) * 1000);
        queue.push(Reverse((t, Event::Created(i))));
        if i % 10 < 7 {
            queue.push(Reverse((t + 600, Event::Paid(i))));
        }
    }
    let mut t = DAY0;
    while t <= DAY0 + 86_400 + 4 * 3600 {
        queue.push(Reverse((t, Event::Tick)));
        t += 300;
    }

    let paid: HashSet<usize> = (0..orders).filter(|i| i % 10 < 7).collect();
    let mut heard_of: HashSet<usize> = HashSet::new();
    let mut stored_callbacks = 0usize;
    let mut lost_callbacks = 0usize;
    let mut correct_at: BTreeMap<usize, i64> = BTreeMap::new();
    while let Some(Reverse((now, event))) = queue.pop() {
        let in_outage = now >= OUTAGE.0 && now < OUTAGE.1;
        let rx = if in_outage { &down } else { &up };
        let deliver = |i: usize, action: &'static str, status: &'static str| {
            let body = callback(i, action, status);
            async move {
                rx.handle(post("citypay", CITYPAY_TOKEN, &body, None))
                    .await
                    .status()
                    .as_u16()
            }
        };
        match event {
            Event::Created(i) => {
                fake.add_to_history(&token(i), now * 1000);
                let status = deliver(i, "order_created", "IN_PROGRESS").await;
                if status == 200 {
                    heard_of.insert(i);
                    stored_callbacks += 1;
                } else {
                    lost_callbacks += 1;
                }
            }
            Event::Paid(i) => {
                // CityPay's side changes first; the callback follows.
                fake.set_status(&token(i), "CONFIRMED");
                let status = deliver(i, "confirmation", "CONFIRMED").await;
                if status == 200 {
                    heard_of.insert(i);
                    stored_callbacks += 1;
                } else {
                    lost_callbacks += 1;
                }
            }
            Event::Tick => {
                let rec = if in_outage {
                    &reconciler_down
                } else {
                    &reconciler_up
                };
                let before = fake.logins() + fake.history_pages();
                let sum = rec.run_at(now).await;
                found_by_sweep += sum.citypay_found_by_sweep;
                let asked = fake.logins() + fake.history_pages() - before;
                *history_requests.entry(now / 3600).or_default() += asked;
                busiest_run = busiest_run.max(asked);
                if !in_outage {
                    for (i, created) in created_at.iter().enumerate() {
                        if *created > now || correct_at.contains_key(&i) {
                            continue;
                        }
                        let st =
                            state_item(&client, &table, "citypay", &order_record_key(&token(i)))
                                .await;
                        let want = if paid.contains(&i) {
                            "CONFIRMED"
                        } else {
                            "EXPIRED"
                        };
                        if st.as_ref().and_then(|st| s(st, "status")) == Some(want) {
                            correct_at.insert(i, now);
                        }
                    }
                }
            }
        }
    }

    // Every order, heard of or found by the sweep, ends in CityPay's true final state.
    for i in 0..orders {
        let st = state_item(&client, &table, "citypay", &order_record_key(&token(i)))
            .await
            .unwrap();
        let want = if paid.contains(&i) {
            "CONFIRMED"
        } else {
            "EXPIRED"
        };
        assert_eq!(s(&st, "status"), Some(want), "order {i}");
        assert!(
            !st.contains_key("open_pk"),
            "order {i} is final, so not open"
        );
    }
    // Every callback received stored exactly once, and one event per order the
    // sweep found.
    let items = all_items(&client, &table).await;
    assert_eq!(
        of_type(&items, "event").len(),
        stored_callbacks + found_by_sweep as usize
    );
    let swept = of_type(&items, "event")
        .iter()
        .filter(|e| flags(e).contains(&"found_by_sweep".to_string()))
        .count();
    assert_eq!(swept, found_by_sweep as usize);
    let never_heard = orders - heard_of.len();
    // Orders whose every callback fell in the outage: only the sweep finds them.
    let expected_unknown = (0..orders)
        .filter(|i| {
            let c = created_at[*i];
            let in_out = |t: i64| t >= OUTAGE.0 && t < OUTAGE.1;
            in_out(c) && (!paid.contains(i) || in_out(c + 600))
        })
        .count();
    assert_eq!(never_heard, expected_unknown);
    assert!(found_by_sweep as usize >= expected_unknown);
    // Within CityPay's limits in virtual time: 1,000 an hour; a run is one instant,
    // so its requests are at most one minute's 200.
    let busiest_hour = history_requests.values().copied().max().unwrap_or(0);
    assert!(
        busiest_hour <= 1000,
        "{busiest_hour} history requests in an hour"
    );
    assert!(
        busiest_run <= 200,
        "{busiest_run} history requests in one run"
    );
    let total_requests: usize = history_requests.values().sum();

    let affected: Vec<usize> = heard_of
        .iter()
        .copied()
        .chain((0..orders).filter(|i| !heard_of.contains(i)))
        .filter(|i| created_at[*i] + 3600 >= OUTAGE.0 && created_at[*i] < OUTAGE.1)
        .collect();
    let recovered_at = affected.iter().map(|i| correct_at[i]).max().unwrap();
    let expired_locally = of_type(&items, "state")
        .iter()
        .filter(|st| s(st, "status") == Some("EXPIRED"))
        .count();
    println!("drill citypay: {orders} orders, {stored_callbacks} callbacks stored, {lost_callbacks} lost in the outage, {expired_locally} expired locally");
    println!("drill citypay: {never_heard} orders had every callback in the outage; the order-history sweep stored {found_by_sweep} orders we had not heard of, 0 unknown at the end; {total_requests} history requests (logins and pages), at most {busiest_hour} in an hour and {busiest_run} in a run");
    println!(
        "drill citypay: {} orders touched the outage; all correct at +{:.2} h, {:.2} h after it ended",
        affected.len(),
        (recovered_at - DAY0) as f64 / 3600.0,
        (recovered_at - OUTAGE.1) as f64 / 3600.0
    );
    println!(
        "drill citypay: wall time {:.1} s",
        wall.elapsed().as_secs_f64()
    );
    assert!(lost_callbacks > 0);
}
