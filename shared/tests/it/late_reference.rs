//! One payment per merchant order when the order's reference arrives after its
//! payment exists under the provider's record id: the receivers and the reconciler
//! against DynamoDB Local and its stream, the real publisher onto moto's bus, the
//! fake CityPay APIs.

use std::collections::BTreeMap;

use crate::events_out::{bus, drain, order_deposit, payment_of, poller, run};
use crate::reconcile_citypay::sweep_config;
use crate::support::*;

use shared::citypay::order_record_key;
use shared::lifecycle::Lifecycle;
use shared::lookup::{find, Lookup};
use shared::metrics::Metrics;
use shared::publish::replay::{replay, Scope};
use shared::publish::Publisher;
use shared::store::payment::Payment;
use shared::store::Store;
use testkit::citypay::{FakeCityPay, JwtHeader};

/// A CityPay order callback; `client_order_id` is the merchant's reference.
fn callback(token: &str, action: &str, status: &str, client_order_id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "order callback", "action": action, "status": status,
        "order_token": token, "client_order_id": client_order_id,
        "transaction_id": format!("t-{token}"),
        "received_amount_in_fiat": "100.00", "fiat_currency": "USD",
    }))
    .unwrap()
}

fn by_key(payments: &[Payment]) -> BTreeMap<String, Payment> {
    payments
        .iter()
        .map(|p| (p.key.0.clone(), p.clone()))
        .collect()
}

/// What reached the bus, per payment, in the order sent.
fn per_payment(events: &[serde_json::Value]) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for e in events {
        let id = e["detail"]["event_id"].as_str().unwrap();
        out.entry(payment_of(id).to_string())
            .or_default()
            .push(e.clone());
    }
    out
}

/// The reconciler with CityPay's order-history sweep on, one page a run.
fn sweeping_reconciler(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    fake: &FakeCityPay,
) -> shared::reconcile::Reconciler {
    let mut config = reconciler_config(None, &fake.base_url());
    config.citypay_sweep = Some(sweep_config(1));
    reconciler(client.clone(), table, config).0
}

#[tokio::test]
async fn a_swept_citypay_order_joins_its_reference_when_the_callback_names_it() {
    let (client, table) = fresh_table_with_stream().await;
    let fake = FakeCityPay::start().await;
    fake.set_access("access-1", JwtHeader::Authorization);
    let (rx, _) = citypay_receiver(client.clone(), &table, &fake.base_url());
    let store = Store::new(client.clone(), &table, 90);
    let now = shared::clock::now_unix();
    let started_ms = shared::clock::now_ms();
    // Three orders whose callbacks were lost: one paid, two still open.
    fake.add_to_history("paid-late1", (now - 900) * 1000);
    fake.add_to_history("open-late2", (now - 600) * 1000);
    fake.add_to_history("open-late3", (now - 300) * 1000);
    let reconciler = sweeping_reconciler(&client, &table, &fake);
    let sum = reconciler.run_at(now).await;
    assert!(sum.errors.is_empty(), "{:?}", sum.errors);
    assert_eq!(sum.citypay_found_by_sweep, 3);
    let swept = payments(&client, &table).await;
    assert_eq!(swept.len(), 3);
    assert!(
        swept.iter().all(|p| p.key.0.starts_with("id#citypay#")),
        "no reference yet: each under its own id"
    );

    // The callbacks arrive, naming the orders: the paid one with the status the
    // sweep stored, the second paid since, the third still open.
    fake.set_status("open-late2", "CONFIRMED");
    let post_all = || async {
        for (token, status, reference) in [
            ("paid-late1", "CONFIRMED", "shop-1"),
            ("open-late2", "CONFIRMED", "shop-2"),
            ("open-late3", "IN_PROGRESS", "shop-3"),
        ] {
            let body = callback(token, "confirmation", status, reference);
            let resp = rx.handle(post("citypay", CITYPAY_TOKEN, &body, None)).await;
            assert_eq!(resp.status(), 200, "{token}");
        }
    };
    post_all().await;
    let moved = by_key(&payments(&client, &table).await);
    // A provider's retry of each: nothing more.
    post_all().await;
    assert_eq!(
        by_key(&payments(&client, &table).await),
        moved,
        "a duplicate changes nothing"
    );
    assert_eq!(moved.len(), 6, "three closed, three under the references");

    // The sweep's flag stays with a view the callback did not change; a status
    // the callback advances is the callback's view, as without a move.
    for (token, reference, lifecycle, swept_view) in [
        ("paid-late1", "shop-1", Lifecycle::Paid, true),
        ("open-late2", "shop-2", Lifecycle::Paid, false),
        ("open-late3", "shop-3", Lifecycle::AwaitingPayment, true),
    ] {
        let record = order_record_key(token);
        let by_ref = find(&store, &Lookup::MerchantRef(reference.into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_ref.payments.len(), 1, "{token}: one payment");
        let p = &by_ref.payments[0];
        assert_eq!(p.payment.lifecycle, lifecycle, "{token}");
        assert_eq!(
            p.payment.version, 1,
            "{token}: the reference's first version"
        );
        assert_eq!(p.payment.records, vec![record.clone()]);
        assert_eq!(p.payment.merchant_ref.as_deref(), Some(reference));
        assert!(p.payment.merged_into.is_none());
        assert_eq!(
            p.payment.flags.contains(&"found_by_sweep".to_string()),
            swept_view,
            "{token}: {:?}",
            p.payment.flags
        );
        // The whole history: the sweep's event and the callback's.
        assert_eq!(p.history.len(), 1);
        assert_eq!(p.history[0].events.len(), 2, "{token}");
        // The lookup by record finds the same payment.
        let by_record = find(
            &store,
            &Lookup::Record {
                provider: "citypay".into(),
                record_id: record.clone(),
            },
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(by_record.payments.len(), 1);
        assert_eq!(by_record.payments[0].payment.key, p.payment.key);
        // The id-keyed payment: closed, naming where its record went.
        let closed = &moved[&format!("id#citypay#{record}")];
        let into = closed.merged_into.as_ref().unwrap();
        assert_eq!(into.merchant_ref.as_deref(), Some(reference));
        assert_eq!(closed.version, 2, "{token}: one more version, the last");
        let state = state_item(&client, &table, "citypay", &record)
            .await
            .unwrap();
        assert_eq!(
            s(&state, "payment_pk"),
            Some(format!("ref#{reference}").as_str())
        );
    }

    // A record that holds a reference keeps it: another one is a conflict.
    let other = callback("paid-late1", "confirmation-again", "CONFIRMED", "shop-9");
    let resp = rx
        .handle(post("citypay", CITYPAY_TOKEN, &other, None))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(find(&store, &Lookup::MerchantRef("shop-9".into()))
        .await
        .unwrap()
        .is_none());
    assert_eq!(by_key(&payments(&client, &table).await), moved);

    // The reconciler's view of the open order, read before it moved, lacks the
    // reference: its status goes to the reference's payment all the same.
    fake.set_status("open-late3", "CONFIRMED");
    let record = order_record_key("open-late3");
    let stale = shared::store::StatusUpdate {
        provider: "citypay",
        record_key: record.clone(),
        status: shared::store::StatusChange {
            name: "CONFIRMED".into(),
            rank: 4,
            terminal: true,
        },
        flags: ["reconciled".to_string()].into(),
        at_ms: shared::clock::now_ms(),
        view: shared::lifecycle::PaymentView {
            lifecycle: Lifecycle::Paid,
            ..Default::default()
        },
    };
    assert!(store.advance_status(&stale).await.unwrap());
    let after = by_key(&payments(&client, &table).await);
    assert_eq!(after.len(), 6, "no payment under the record's id again");
    assert_eq!(after["ref#shop-3"].lifecycle, Lifecycle::Paid);
    assert_eq!(after["ref#shop-3"].version, 2);
    assert_eq!(
        after
            .values()
            .find(|p| p.key.0.contains("open-late3"))
            .unwrap()
            .version,
        2,
        "the closed payment stays closed"
    );

    // Events: every version of each payment once, in order; the id-keyed
    // payment's last says where its record went.
    let b = bus("late-ref").await;
    let publisher = Publisher::new(
        b.eventbridge.clone(),
        &b.bus,
        "payment-webhooks",
        Metrics::memory().0,
    );
    let mut stream = poller(&client, &table).await;
    run(&mut stream, &publisher).await;
    let events = per_payment(&drain(&b).await);
    assert_eq!(events.len(), 6);
    for (payment, sent) in &events {
        let versions: Vec<u64> = sent
            .iter()
            .map(|e| e["detail"]["version"].as_u64().unwrap())
            .collect();
        assert_eq!(
            versions,
            (1..=sent.len() as u64).collect::<Vec<_>>(),
            "{payment}"
        );
        let last = sent.last().unwrap();
        let merged = sent
            .iter()
            .filter(|e| e["detail-type"] == "payment.merged")
            .count();
        if last["detail"]["merchant_ref"].is_null() {
            assert_eq!(last["detail-type"], "payment.merged", "{payment}");
            assert!(last["detail"]["merged_into"]["merchant_ref"]
                .as_str()
                .unwrap()
                .starts_with("shop-"));
            assert_eq!(merged, 1);
        } else {
            assert_eq!(merged, 0, "{payment}");
            assert_eq!(sent[0]["detail"]["version"], 1);
        }
    }
    let paid: usize = events
        .values()
        .flatten()
        .filter(|e| e["detail-type"] == "payment.paid" && !e["detail"]["merchant_ref"].is_null())
        .count();
    assert_eq!(
        paid, 3,
        "each order's payment.paid under its reference, once"
    );

    // A replay after the move: by reference, the order's payment; by time, both
    // sides, the closed one as it ended.
    let one = Scope::Of(Lookup::MerchantRef("shop-1".into()));
    assert_eq!(replay(&store, &publisher, &one).await.unwrap().payments, 1);
    let again = drain(&b).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["detail-type"], "payment.paid");
    assert_eq!(again[0]["detail"]["redelivery"], true);
    let all = Scope::Changed {
        from_ms: started_ms,
        to_ms: shared::clock::now_ms(),
    };
    assert_eq!(replay(&store, &publisher, &all).await.unwrap().payments, 6);
    let again = drain(&b).await;
    let merged: Vec<_> = again
        .iter()
        .filter(|e| e["detail-type"] == "payment.merged")
        .collect();
    assert_eq!(merged.len(), 3);
    for e in merged {
        let live = &events[payment_of(e["detail"]["event_id"].as_str().unwrap())];
        assert_eq!(
            e["detail"]["event_id"],
            live.last().unwrap()["detail"]["event_id"],
            "the same event as went out live"
        );
    }
}

#[tokio::test]
async fn a_ccpayment_payment_seen_before_its_order_joins_the_orders_sums_once() {
    let (client, table) = fresh_table().await;
    let (rx, _) = receiver(client.clone(), &table);
    let store = Store::new(client.clone(), &table, 90);
    let post = |body: Vec<u8>| {
        let rx = &rx;
        async move {
            let resp = rx.handle_at(signed(&body, NOW), NOW).await;
            assert_eq!(resp.status(), 200);
        }
    };
    let without_reference = |record: &str, status: &str| {
        let mut v: serde_json::Value =
            serde_json::from_str(&order_deposit("ord-77", record, status, "0.2")).unwrap();
        v["extend"]
            .as_object_mut()
            .unwrap()
            .remove("merchant_order_id");
        serde_json::to_vec(&v).unwrap()
    };
    // r1's first notification names no order; r2 pays a third of the order.
    post(without_reference("r1", "pending")).await;
    post(order_deposit("ord-77", "r2", "success", "0.1").into_bytes()).await;
    let before = payments(&client, &table).await;
    assert_eq!(before.len(), 2);
    assert!(before.iter().any(|p| p.key.0 == "id#ccpayment#r1"));
    // r1 is paid, and now names the order: it joins the order's sum.
    let paid = order_deposit("ord-77", "r1", "success", "0.2").into_bytes();
    post(paid.clone()).await;
    post(paid).await;
    let order = find(&store, &Lookup::MerchantRef("ord-77".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.payments.len(), 1);
    let p = &order.payments[0].payment;
    assert_eq!(p.records, ["r1", "r2"]);
    assert_eq!(p.amount_paid, Some("0.3".parse().unwrap()), "summed once");
    assert_eq!(p.lifecycle, Lifecycle::Paid);
    assert_eq!(p.version, 2);
    let item = get_item(&client, &table, &p.key.0, &p.key.1).await.unwrap();
    assert_eq!(num(&item, "paid_count"), Some(2));
    let closed = by_key(&payments(&client, &table).await)["id#ccpayment#r1"].clone();
    assert_eq!(
        closed.merged_into.unwrap().merchant_ref.as_deref(),
        Some("ord-77")
    );
    assert_eq!(closed.version, 2);
    assert_eq!(closed.lifecycle, Lifecycle::Processing, "as it ended");
    // A late notification of r1 without the order still counts toward it.
    post(without_reference("r1", "processing")).await;
    let again = find(&store, &Lookup::MerchantRef("ord-77".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.payments[0].payment.version, 2, "a late status");
    assert_eq!(
        by_key(&payments(&client, &table).await)["id#ccpayment#r1"].version,
        2
    );
}

#[tokio::test]
async fn a_swept_order_whose_callback_gives_another_final_status_moves_with_the_clash() {
    let (client, table) = fresh_table().await;
    let fake = FakeCityPay::start().await;
    fake.set_access("access-1", JwtHeader::Authorization);
    let (rx, _) = citypay_receiver(client.clone(), &table, &fake.base_url());
    let store = Store::new(client.clone(), &table, 90);
    let now = shared::clock::now_unix();
    fake.add_to_history("canceled-late4", (now - 600) * 1000);
    let reconciler = sweeping_reconciler(&client, &table, &fake);
    assert_eq!(reconciler.run_at(now).await.citypay_found_by_sweep, 1);
    // CityPay's order API now says the order was paid: two final answers.
    fake.set_status("canceled-late4", "CONFIRMED");
    let body = callback("canceled-late4", "confirmation", "CONFIRMED", "shop-4");
    let resp = rx.handle(post("citypay", CITYPAY_TOKEN, &body, None)).await;
    assert_eq!(resp.status(), 200);

    let found = find(&store, &Lookup::MerchantRef("shop-4".into()))
        .await
        .unwrap()
        .unwrap();
    let p = &found.payments[0].payment;
    // The first final answer stands, flagged for a human, under the reference.
    assert_eq!(p.lifecycle, Lifecycle::Canceled);
    assert!(
        p.flags.contains(&"terminal_clash".to_string()),
        "{:?}",
        p.flags
    );
    let record = order_record_key("canceled-late4");
    let state = state_item(&client, &table, "citypay", &record)
        .await
        .unwrap();
    assert!(flags(&state).contains(&"terminal_clash".to_string()));
    assert_eq!(s(&state, "payment_pk"), Some("ref#shop-4"));
    let list = shared::unresolved::overview(&store, now * 1000, 86_400, 100)
        .await
        .unwrap();
    assert!(
        list.entries.iter().any(|e| {
            e.category == shared::unresolved::Category::TerminalClash
                && e.subject.contains("canceled-late4")
        }),
        "{:?}",
        list.entries
    );
    let closed = by_key(&payments(&client, &table).await)[&format!("id#citypay#{record}")].clone();
    assert_eq!(closed.version, 2);
    assert_eq!(
        closed.merged_into.unwrap().merchant_ref.as_deref(),
        Some("shop-4")
    );
}
