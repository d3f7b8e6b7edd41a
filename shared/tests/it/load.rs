//! Load: 64 concurrent senders over the four receivers, each notification sent by
//! several senders at once. Exactly one event per key, no error answer, and every
//! record's state is its highest status.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout)]

use crate::support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use support::*;

const SENDERS: usize = 64;
const PER_SENDER: usize = 40;
const RECORDS: usize = 120;

fn ccpayment_body(i: usize, status: &str) -> Vec<u8> {
    format!(r#"{{"pay_status":"{status}","order_type":"API Deposit","record_id":"load-{i}","merchant_order_id":"m-{i}","paid_amount":"1.{i:02}"}}"#).into_bytes()
}

fn alchemy_body(i: usize, status: &str) -> Vec<u8> {
    format!(r#"{{"orderNo":"ach-{i}","status":"{status}","cardNumber":"5555555555554444","orderAmount":"10"}}"#).into_bytes()
}

fn v2_body(i: usize, status: &str) -> Vec<u8> {
    format!(r#"{{"type":"DirectDeposit","msg":{{"recordId":"v2load-{i}","referenceId":"u-{i}","status":"{status}"}}}}"#).into_bytes()
}

fn deposit_body(i: usize, status: &str) -> Vec<u8> {
    format!(r#"{{"type":"deposit callback","transaction_id":"dep-{i}","status":"{status}","received_amount":"0.5"}}"#).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_senders_with_duplicates() {
    let (client, table) = fresh_table().await;
    let cc = Arc::new(receiver(client.clone(), &table).0);
    let ach = Arc::new(alchemy_receiver(client.clone(), &table, "").0);
    let cp = Arc::new(citypay_receiver(client.clone(), &table, "http://127.0.0.1:9").0);
    // The v2 record API says Success for every record, whatever the webhook claims.
    let fake_v2 = testkit::ccpayment_v2::FakeCcpaymentV2::start(V2_APP_ID, V2_SECRET).await;
    let v2 =
        Arc::new(ccpayment_v2_receiver(client.clone(), &table, v2_config(&fake_v2.base_url())).0);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..SENDERS {
        let (cc, ach, cp, v2) = (cc.clone(), ach.clone(), cp.clone(), v2.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..PER_SENDER {
                // Senders walk the same records in different orders: the same
                // notification arrives from several senders at once.
                let k = (sender * 7 + n * 13) % (RECORDS * 2);
                let (i, late) = (k % RECORDS, k >= RECORDS);
                let resp = match i % 4 {
                    0 => {
                        cc.handle_at(
                            signed(
                                &ccpayment_body(i, if late { "success" } else { "pending" }),
                                NOW,
                            ),
                            NOW,
                        )
                        .await
                    }
                    1 => {
                        ach.handle(post(
                            "alchemypay",
                            ALCHEMY_TOKEN,
                            &alchemy_body(i, if late { "SUCCESS" } else { "INIT" }),
                            None,
                        ))
                        .await
                    }
                    3 => {
                        let b = v2_body(i, if late { "Success" } else { "Processing" });
                        v2.handle_at(signed_v2(&b, NOW), NOW).await
                    }
                    _ => {
                        cp.handle(post(
                            "citypay",
                            CITYPAY_TOKEN,
                            &deposit_body(i, if late { "Confirmed" } else { "Pending" }),
                            None,
                        ))
                        .await
                    }
                };
                statuses.push((resp.status().as_u16(), (i, late)));
            }
            statuses
        }));
    }
    let mut answers = 0;
    let mut sent: HashSet<(usize, bool)> = HashSet::new();
    for t in tasks {
        for (status, key) in t.await.unwrap() {
            assert_eq!(status, 200, "no error answers under load");
            answers += 1;
            sent.insert(key);
        }
    }
    let elapsed = started.elapsed();
    let items = all_items(&client, &table).await;
    let events = of_type(&items, "event");
    assert_eq!(
        events.len(),
        sent.len(),
        "exactly one event per distinct notification"
    );
    let keys: HashSet<(String, String)> = events
        .iter()
        .map(|e| (s(e, "pk").unwrap().into(), s(e, "sk").unwrap().into()))
        .collect();
    assert_eq!(keys.len(), events.len());
    for st in of_type(&items, "state") {
        let pk = s(st, "pk").unwrap();
        let i: usize = pk.rsplit('-').next().unwrap().parse().unwrap();
        let final_sent = sent.contains(&(i, true));
        let expected = match (i % 4, final_sent) {
            (0, true) => "success",
            (0, false) => "pending",
            (1, true) => "SUCCESS",
            (1, false) => "INIT",
            (3, _) => "Success",
            (_, true) => "Confirmed",
            (_, false) => "Pending",
        };
        assert_eq!(s(st, "status"), Some(expected), "{pk}");
    }
    println!(
        "load: {answers} deliveries from {SENDERS} concurrent senders, {} distinct, in {:.2} s ({:.0}/s)",
        sent.len(),
        elapsed.as_secs_f64(),
        answers as f64 / elapsed.as_secs_f64()
    );
}
