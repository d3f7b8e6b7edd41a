//! What the operator's list costs the reconciler each run: `overview` over a table
//! holding many open records, its wall time on DynamoDB Local, its requests, and
//! the read units DynamoDB would bill for the index items it reads.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shared::store::{Delivery, StatusChange};

use crate::item_size::item_bytes;
use crate::rig::Rig;

pub struct UnresolvedReport {
    pub open_records: usize,
    pub queues_walked: usize,
    pub median: Duration,
    pub requests: BTreeMap<String, u64>,
    pub runs: usize,
    pub index_bytes: usize,
}

impl UnresolvedReport {
    /// Eventually consistent index reads: half a unit per 4 KB read.
    pub fn read_units(&self) -> f64 {
        self.index_bytes.div_ceil(4096) as f64 / 2.0
    }
}

/// Open records spread over the providers' queues, as an outage would leave them.
fn open_record(i: usize, at_ms: i64) -> Delivery {
    let (provider, queue, status) = match i % 4 {
        0 => ("citypay", "citypay#order", "IN_PROGRESS"),
        1 => ("alchemypay", "alchemypay#order", "PROCESSING"),
        2 => ("ccpayment", "ccpayment#API Deposit", "processing"),
        _ => ("ccpayment-v2", "ccpayment-v2#ApiDeposit", "Processing"),
    };
    let body = format!(r#"{{"record":{i}}}"#);
    let mut d = Delivery {
        status: Some(StatusChange {
            name: status.into(),
            rank: 1,
            terminal: false,
        }),
        open_queue: Some(queue.into()),
        received_at_ms: at_ms,
        ..Delivery::new(
            provider,
            format!("bench-open-{i:06}"),
            vec![status.into()],
            status.into(),
            body.clone(),
        )
    };
    for (k, v) in [
        ("merchant_order_id", format!("shop-order-{i:06}")),
        ("order_id", format!("2026120214{i:010}")),
        ("app_id", "bench-app-id".to_string()),
    ] {
        d.refs.insert(k.into(), v);
    }
    d.view.merchant_ref = Some(format!("shop-order-{i:06}"));
    d.view.currency = Some("USDT".into());
    d
}

pub async fn measure(rig: &Rig, open: usize, runs: usize) -> Result<UnresolvedReport, String> {
    let now_ms = shared::clock::now_ms();
    for i in 0..open {
        rig.store
            .record(&open_record(i, now_ms - 3_600_000 + i as i64))
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut listed = 0;
    rig.counter.label("unresolved");
    for _ in 0..runs {
        let start = Instant::now();
        let o = shared::unresolved::overview(&rig.store, now_ms, 86_400, 100_000)
            .await
            .map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        listed = o.entries.len();
    }
    rig.counter.label("");
    if listed < open {
        return Err(format!("the list shows {listed} of {open} open records"));
    }
    times.sort_unstable();
    let mut requests = rig.counter.requests("unresolved");
    for n in requests.values_mut() {
        *n /= runs as u64;
    }
    // What the index holds is what a run reads: every open item, projected whole.
    let mut index_bytes = 0;
    let mut start = None;
    loop {
        let page = rig
            .client
            .scan()
            .table_name(&rig.table)
            .filter_expression("attribute_exists(open_pk)")
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        index_bytes += page.items().iter().map(item_bytes).sum::<usize>();
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    Ok(UnresolvedReport {
        open_records: listed,
        queues_walked: shared::registry::ALL
            .iter()
            .map(|p| p.open_queues.len())
            .sum::<usize>()
            + 3,
        median: times.get(times.len() / 2).copied().unwrap_or_default(),
        requests,
        runs,
        index_bytes,
    })
}
