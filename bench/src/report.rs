//! The printed results.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::bodies::{APP_ID, APP_SECRET, PATH_TOKEN};
use crate::cold_start;
use crate::counting::READS;
use crate::cpu::Cpu;
use crate::item_size::write_units;
use crate::latency::{per_delivery, Samples};
use crate::stats::{ms, percentiles, ratio};

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
            println!(
                "{:27} {:>8} {:>7}  {:8.2} {:7.2}  {:>8} {:>7}  {:6.2} {:6.2}",
                "  put + update in parallel",
                "",
                "",
                ms(par.p50),
                ms(par.p99),
                "",
                "",
                ratio(par.p50, put.p50),
                ratio(par.p99, put.p99),
            );
        }
        if let Some(api) = percentiles(&r.samples.api_put) {
            println!(
                "{:27} {:>8} {:>7}  {:8.2} {:7.2}  {:>8} {:>7}  {:6.2} {:6.2}",
                "  order API GET + put",
                "",
                "",
                ms(api.p50),
                ms(api.p99),
                "",
                "",
                ratio(full.p50, api.p50),
                ratio(full.p99, api.p99),
            );
        }
    }
    println!("full = the handler: verify, parse, store, answer. put = one conditional PutItem of the same event item (the floor). txn = the store's own first TransactWriteItems (event put + state update), sent bare. Same table, same client.");
    println!("put + update in parallel: the transaction's two writes as single-item requests sent together, against the put (the alternative to one transaction). order API GET + put: the floor of a design that must ask CityPay before answering, against full.");
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

const FUNCTIONS: [&str; 4] = [
    "ccpayment-webhook",
    "alchemypay-webhook",
    "citypay-webhook",
    "reconciler",
];

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub async fn cold_starts(dir: &Path, runs: usize) -> Result<(), String> {
    let sm = testkit::secretsmanager::FakeSecretsManager::start().await;
    let ccpayment_json =
        format!(r#"{{"app_id":"{APP_ID}","app_secret":"{APP_SECRET}","app_secret_previous":""}}"#);
    sm.put("arn:bench:ccpayment", &ccpayment_json);
    sm.put("arn:bench:token", PATH_TOKEN);
    let common = [
        ("TABLE_NAME", "bench-cold-start"),
        ("CITYPAY_API_BASE", "http://127.0.0.1:9"),
        ("CCPAYMENT_API_BASE", "http://127.0.0.1:9"),
        ("RUST_LOG", "info"),
    ];
    let from_env = |f: &str| -> Vec<(&str, &str)> {
        match f {
            "ccpayment-webhook" | "reconciler" => vec![
                ("CCPAYMENT_APP_ID", APP_ID),
                ("CCPAYMENT_APP_SECRET", APP_SECRET),
            ],
            "alchemypay-webhook" => vec![("ALCHEMYPAY_PATH_TOKEN", PATH_TOKEN)],
            _ => vec![("CITYPAY_PATH_TOKEN", PATH_TOKEN)],
        }
    };
    let endpoint = sm.endpoint();
    let from_sm = |f: &str| -> Vec<(&str, &str)> {
        let arn = match f {
            "ccpayment-webhook" | "reconciler" => ("CCPAYMENT_SECRET_ARN", "arn:bench:ccpayment"),
            "alchemypay-webhook" => ("ALCHEMYPAY_PATH_TOKEN_SECRET_ARN", "arn:bench:token"),
            _ => ("CITYPAY_PATH_TOKEN_SECRET_ARN", "arn:bench:token"),
        };
        vec![arn, ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str())]
    };
    println!(
        "\ncold start: process start to first GET /runtime/invocation/next on a local Runtime API ({runs} runs each, after 1 discarded), binaries in {}",
        dir.display()
    );
    println!(
        "{:20} {:28} {:>8} {:>8} {:>8}  {:>9}",
        "function", "secrets", "p50 ms", "min", "max", "peak RSS"
    );
    for f in FUNCTIONS {
        let binary = dir.join(f);
        if !binary.is_file() {
            println!("{f:20} missing: {}", binary.display());
            continue;
        }
        for (how, extra) in [
            ("environment", from_env(f)),
            ("Secrets Manager (loopback)", from_sm(f)),
        ] {
            let mut vars = env(&common);
            vars.extend(env(&extra));
            let mut ready = Vec::with_capacity(runs);
            let mut rss = 0;
            for i in 0..=runs {
                let s = cold_start::once(&binary, &vars)
                    .await
                    .map_err(|e| e.to_string())?;
                if i > 0 {
                    ready.push(s.ready);
                    rss = rss.max(s.rss_kib);
                }
            }
            let p = percentiles(&ready).map_or(Duration::ZERO, |p| p.p50);
            let min = ready.iter().min().copied().unwrap_or_default();
            let max = ready.iter().max().copied().unwrap_or_default();
            println!(
                "{f:20} {how:28} {:8.2} {:8.2} {:8.2}  {:6.1} MiB",
                ms(p),
                ms(min),
                ms(max),
                rss as f64 / 1024.0
            );
        }
    }
    Ok(())
}
