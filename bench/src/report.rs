//! The printed results.

use std::collections::BTreeMap;

use crate::counting::READS;
use crate::cpu::Cpu;
use crate::item_size::write_units;
use crate::latency::{per_delivery, Samples};
use crate::stats::{ms, percentiles, ratio, Percentiles};

pub fn header() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cpu}, {cores} cores");
    println!(
        "DynamoDB: {}",
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| "(AWS)".into())
    );
}

#[derive(Debug)]
pub struct Row {
    pub name: &'static str,
    pub samples: Samples,
    pub n: usize,
    /// Requests in the timed run, by what sent them (`full`, `put`, `txn`).
    pub requests: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// Capacity units reported in the accounting run, by what sent them.
    pub capacity: BTreeMap<&'static str, (f64, u64)>,
    pub acc_requests: BTreeMap<String, u64>,
    pub acc_n: usize,
    /// New notifications: each stored item's sort key and billed size.
    pub sizes: Vec<(String, usize)>,
}

pub fn latency(rows: &[Row]) {
    println!(
        "\nlatency of one delivery, sent one at a time ({} per row), in ms",
        rows.first().map_or(0, |r| r.n)
    );
    println!(
        "{:27} {:>8} {:>7}  {:>8} {:>7}  {:>8} {:>7}  {:>6} {:>6}  {:>6} {:>6}",
        "",
        "full p50",
        "p99",
        "put p50",
        "p99",
        "txn p50",
        "p99",
        "/put50",
        "/put99",
        "/txn50",
        "/txn99"
    );
    for r in rows {
        let (Some(full), Some(put), Some(txn)) = (
            percentiles(&r.samples.full),
            percentiles(&r.samples.put),
            percentiles(&r.samples.txn),
        ) else {
            continue;
        };
        println!(
            "{:27} {:8.2} {:7.2}  {:8.2} {:7.2}  {:8.2} {:7.2}  {:6.2} {:6.2}  {:6.2} {:6.2}",
            r.name,
            ms(full.p50),
            ms(full.p99),
            ms(put.p50),
            ms(put.p99),
            ms(txn.p50),
            ms(txn.p99),
            ratio(full.p50, put.p50),
            ratio(full.p99, put.p99),
            ratio(full.p50, txn.p50),
            ratio(full.p99, txn.p99),
        );
        if let Some(par) = percentiles(&r.samples.par) {
            extra_row("  put + update in parallel", par, (par, put));
        }
        if let Some(api) = percentiles(&r.samples.api_put) {
            extra_row("  order API GET + put", api, (full, api));
        }
        if let Some(api) = percentiles(&r.samples.api_txn) {
            extra_row("  record API POST + txn", api, (full, api));
        }
    }
    println!("full = the handler: verify, parse, store, answer. put = one conditional PutItem of the same event item (the floor). txn = the store's own first TransactWriteItems (event put + state update), sent bare. Same table, same client.");
    println!("put + update in parallel: the transaction's two writes as single-item requests sent together, against the put (the alternative to one transaction). order API GET + put: the floor of a design that must ask CityPay before answering, against full. record API POST + txn: CCPayment v2's own floor (the record API call on the loopback fake, then the store's transaction), against full.");
}

/// A second floor under a row: its latency in the put columns and `a / b`.
fn extra_row(name: &str, p: Percentiles, (a, b): (Percentiles, Percentiles)) {
    println!(
        "{name:27} {:>8} {:>7}  {:8.2} {:7.2}  {:>8} {:>7}  {:6.2} {:6.2}",
        "",
        "",
        ms(p.p50),
        ms(p.p99),
        "",
        "",
        ratio(a.p50, b.p50),
        ratio(a.p99, b.p99),
    );
}

fn ops(counts: Option<&BTreeMap<String, u64>>, n: usize) -> String {
    let per = counts.map(|c| per_delivery(c, n)).unwrap_or_default();
    if per.is_empty() {
        return "none".into();
    }
    per.iter()
        .map(|(op, c)| format!("{c:.2} {op}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn reads(counts: Option<&BTreeMap<String, u64>>) -> u64 {
    counts
        .into_iter()
        .flatten()
        .filter(|(op, _)| READS.contains(&op.as_str()))
        .map(|(_, c)| c)
        .sum()
}

fn units(capacity: Option<&(f64, u64)>, n: usize) -> String {
    match capacity {
        Some((total, answers)) if *answers > 0 => {
            format!("{:.2} (reported in {answers} answers)", total / n as f64)
        }
        _ => "none reported".into(),
    }
}

pub fn accounting(rows: &[Row]) {
    println!("\nDynamoDB requests per delivery (timed runs) and write capacity units DynamoDB reported (runs with ReturnConsumedCapacity=TOTAL)");
    for r in rows {
        println!("{}", r.name);
        for (what, title) in [
            ("full", "full"),
            ("put", "put "),
            ("txn", "txn "),
            ("par", "par "),
        ] {
            let mut line = format!(
                "  {title}: {} | capacity units: {}",
                ops(r.requests.get(what), r.n),
                units(r.capacity.get(what), r.acc_n),
            );
            if what == "full" {
                line.push_str(&format!(
                    " | reads: {}",
                    reads(r.requests.get(what)) + reads(Some(&r.acc_requests))
                ));
            }
            println!("{line}");
        }
        if !r.sizes.is_empty() {
            let items: Vec<String> = r
                .sizes
                .iter()
                .map(|(sk, b)| format!("{} {b} B", sk.split('#').next().unwrap_or_default()))
                .collect();
            let txn: usize = r.sizes.iter().map(|(_, b)| write_units(*b, true)).sum();
            let single: usize = r.sizes.iter().map(|(_, b)| write_units(*b, false)).sum();
            println!(
                "  stored: {} | by DynamoDB's rule: {txn} WCU in one transaction, {single} as single-item writes",
                items.join(", ")
            );
        }
    }
}

pub fn cpu(rows: &[(&str, Cpu)], calls: usize) {
    println!(
        "\nCPU time of verify + parse + normalise, no I/O (median of 7 rounds of {calls} calls)"
    );
    for (name, c) in rows {
        println!(
            "{:28} {:5} bytes  {:7.2} µs CPU  {:7.2} µs wall",
            name,
            c.body_bytes,
            c.cpu.as_secs_f64() * 1e6,
            c.wall.as_secs_f64() * 1e6
        );
    }
}

pub fn events(r: &crate::events::EventsReport) {
    println!("\nevents out (stream → publisher → EventBridge → rule → SQS, local stand-ins)");
    println!(
        "publisher CPU per stream record ({} payment changes, as the filter passes them): {:.2} µs handler against a bus that answers at once ({:.2} µs against moto), of which {:.2} µs parsing the Lambda event and {:.2} µs decide + encode",
        r.records,
        r.instant_bus_cpu_per_record.as_secs_f64() * 1e6,
        r.handler_cpu_per_record.as_secs_f64() * 1e6,
        r.parse_cpu_per_record.as_secs_f64() * 1e6,
        r.pure_cpu_per_record.as_secs_f64() * 1e6
    );
    println!(
        "at load: {} changes, {} events, {} PutEvents: {:.3} PutEvents per change",
        r.changes,
        r.published,
        r.put_requests,
        r.put_requests / (r.changes.max(1) as f64)
    );
    match r.delay {
        Some(d) => println!(
            "arrival to event on the queue, {} changes at {}/s, stream polled every {} ms: p50 {:.0} ms, p99 {:.0} ms",
            r.delayed,
            r.rate_per_sec,
            crate::events::POLL_INTERVAL.as_millis(),
            ms(d.p50),
            ms(d.p99)
        ),
        None => println!("arrival to event: no event arrived"),
    }
}

pub fn unresolved(r: &crate::unresolved::UnresolvedReport) {
    println!("\nthe operator's list (what the reconciler reads for the dashboard each run)");
    let requests: Vec<String> = r
        .requests
        .iter()
        .map(|(op, n)| format!("{n} {op}"))
        .collect();
    println!(
        "{} open records, {} queues walked: {:.1} ms per overview (median of {}), {} per overview; the index items read come to {} KiB, {:.1} read units (eventually consistent), {:.0} a day at one run every 5 minutes",
        r.open_records,
        r.queues_walked,
        r.median.as_secs_f64() * 1e3,
        r.runs,
        requests.join(", "),
        r.index_bytes / 1024,
        r.read_units(),
        r.read_units() * 288.0
    );
}
