//! `scripts/bench.sh` runs this against DynamoDB Local and prints, per provider: the
//! latency of a full delivery next to a bare conditional `PutItem` (the floor), the
//! DynamoDB requests and write capacity per delivery, the CPU time of verify + parse
//! + normalise, and each function binary's cold start.
// Printing the numbers is this binary's whole job.
#![allow(clippy::print_stdout)]

mod bodies;
mod cold_start;
mod counting;
mod cpu;
mod events;
mod item_size;
mod latency;
mod report;
mod rig;
mod stats;
mod unresolved;

use std::path::PathBuf;

use bodies::Kind;
use latency::{Mode, Run};

#[derive(Debug)]
struct Args {
    deliveries: usize,
    cold_runs: usize,
    functions: Option<PathBuf>,
    /// Only the CPU figures (to compare builds).
    cpu_only: bool,
    /// Only events out.
    events_only: bool,
    /// Only the operator's list.
    unresolved_only: bool,
    /// Open records the list is measured over.
    open_records: usize,
    /// Deliveries per scenario with `ReturnConsumedCapacity` on; they also warm up.
    warmup: usize,
    /// Calls per CPU round (7 rounds).
    cpu_calls: usize,
    /// Changes published at load, and changes timed from arrival to the queue.
    events: usize,
    events_delayed: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        deliveries: 2000,
        cold_runs: 20,
        functions: None,
        cpu_only: false,
        events_only: false,
        unresolved_only: false,
        open_records: 5000,
        warmup: 200,
        cpu_calls: 20_000,
        events: 2000,
        events_delayed: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--deliveries" => a.deliveries = value()?.parse().map_err(|e| format!("{e}"))?,
            "--cold-runs" => a.cold_runs = value()?.parse().map_err(|e| format!("{e}"))?,
            "--functions" => a.functions = Some(PathBuf::from(value()?)),
            "--cpu-only" => a.cpu_only = true,
            "--events-only" => a.events_only = true,
            "--unresolved-only" => a.unresolved_only = true,
            "--open-records" => a.open_records = value()?.parse().map_err(|e| format!("{e}"))?,
            "--warmup" => a.warmup = value()?.parse().map_err(|e| format!("{e}"))?,
            "--cpu-calls" => a.cpu_calls = value()?.parse().map_err(|e| format!("{e}"))?,
            "--events" => a.events = value()?.parse().map_err(|e| format!("{e}"))?,
            "--events-delayed" => {
                a.events_delayed = value()?.parse().map_err(|e| format!("{e}"))?
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; use --deliveries N, --warmup N, --cpu-calls N, --events N, --events-delayed N, --cold-runs N, --open-records N, --functions DIR, --cpu-only, --events-only, --unresolved-only"
                ))
            }
        }
    }
    if a.deliveries == 0
        || a.warmup == 0
        || a.cpu_calls == 0
        || a.events == 0
        || a.events_delayed == 0
        || a.open_records == 0
    {
        return Err(
            "--deliveries, --warmup, --cpu-calls, --events, --events-delayed and --open-records must be at least 1"
                .into(),
        );
    }
    Ok(a)
}

/// Changes a second while the delay from arrival to event is measured.
const EVENTS_RATE: u64 = 50;

/// What each provider's deliveries are measured as.
const SCENARIOS: [(&str, Kind, Mode); 11] = [
    ("ccpayment new", Kind::Ccpayment, Mode::New),
    ("ccpayment duplicate", Kind::Ccpayment, Mode::Duplicate),
    (
        "ccpayment out-of-order",
        Kind::CcpaymentProcessing,
        Mode::OutOfOrder,
    ),
    ("ccpayment-v2 new", Kind::CcpaymentV2, Mode::New),
    ("ccpayment-v2 duplicate", Kind::CcpaymentV2, Mode::Duplicate),
    ("alchemypay new", Kind::Alchemypay, Mode::New),
    ("alchemypay duplicate", Kind::Alchemypay, Mode::Duplicate),
    ("citypay deposit new", Kind::CitypayDeposit, Mode::New),
    (
        "citypay deposit duplicate",
        Kind::CitypayDeposit,
        Mode::Duplicate,
    ),
    ("citypay order new", Kind::CitypayOrder, Mode::New),
    (
        "citypay order duplicate",
        Kind::CitypayOrder,
        Mode::Duplicate,
    ),
];

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A provider the benchmark does not measure stops it, rather than going unmeasured.
fn every_provider_is_measured() -> Result<(), String> {
    for p in shared::registry::ALL {
        if !SCENARIOS.iter().any(|(_, k, _)| k.provider() == p.name) {
            return Err(format!("no scenario for provider {}", p.name));
        }
        if !cold_start::FUNCTIONS.contains(&p.function) {
            return Err(format!("no cold start for function {}", p.function));
        }
    }
    Ok(())
}

async fn run() -> Result<(), String> {
    every_provider_is_measured()?;
    let args = args()?;
    shared::logging::init_to(std::io::sink);
    report::header();
    let rig = rig::Rig::start().await.map_err(|e| e.to_string())?;

    if args.unresolved_only {
        let r = unresolved::measure(&rig, args.open_records, 5).await?;
        report::unresolved(&r);
        return Ok(());
    }
    if !args.cpu_only && !args.events_only {
        latency(&rig, &args).await?;
    }
    if !args.events_only {
        cpu(&rig, args.cpu_calls)?;
    }
    if !args.cpu_only && !args.events_only {
        let r = unresolved::measure(&rig, args.open_records, 5).await?;
        report::unresolved(&r);
    }
    if !args.cpu_only {
        let r = events::measure(&rig, args.events, args.events_delayed, EVENTS_RATE)
            .await
            .map_err(|e| format!("events out: {e}"))?;
        report::events(&r);
    }
    match &args.functions {
        Some(dir) if !args.cpu_only && !args.events_only => {
            cold_start::all(dir, args.cold_runs).await?
        }
        _ => println!("\ncold start: skipped"),
    }
    Ok(())
}

async fn latency(rig: &rig::Rig, args: &Args) -> Result<(), String> {
    let mut rows = Vec::new();
    for (name, kind, mode) in SCENARIOS {
        let slug = name.replace(' ', "-");
        let prefix = |pass: &str| match mode {
            // A duplicate repeats the keys the `new` run of the same pass stored.
            Mode::Duplicate => format!("{pass}-{}/dup", slug.trim_end_matches("-duplicate")),
            _ => format!("{pass}-{}", slug.trim_end_matches("-new")),
        };
        rig.counter.ask_capacity(true);
        let acc = Run {
            rig,
            kind,
            mode,
            prefix: prefix("acc"),
        };
        acc.go(args.warmup)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        rig.counter.ask_capacity(false);
        let timed = Run {
            rig,
            kind,
            mode,
            prefix: prefix("t"),
        };
        let samples = timed
            .go(args.deliveries)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let sizes = if mode == Mode::New {
            rig.stored_sizes(kind, &format!("{}-0", timed.prefix))
                .await
                .map_err(|e| format!("{name}: item sizes: {e}"))?
        } else {
            Vec::new()
        };
        let mut requests = std::collections::BTreeMap::new();
        let mut capacity = std::collections::BTreeMap::new();
        for what in ["full", "put", "txn", "par"] {
            requests.insert(what, rig.counter.requests(&timed.label(what)));
            capacity.insert(what, rig.counter.capacity(&acc.label(what)));
        }
        rows.push(report::Row {
            name,
            samples,
            n: args.deliveries,
            requests,
            capacity,
            acc_requests: rig.counter.requests(&acc.label("full")),
            acc_n: args.warmup,
            sizes,
        });
    }
    report::latency(&rows);
    report::accounting(&rows);
    Ok(())
}

fn cpu(rig: &rig::Rig, calls: usize) -> Result<(), String> {
    let mut cpu_rows = Vec::new();
    for (name, kind) in [
        ("ccpayment", Kind::Ccpayment),
        ("ccpayment-v2", Kind::CcpaymentV2),
        ("alchemypay", Kind::Alchemypay),
        ("citypay deposit", Kind::CitypayDeposit),
        ("citypay order", Kind::CitypayOrder),
    ] {
        let c = cpu::measure(rig, kind, calls, 7).map_err(|e| format!("cpu {name}: {e}"))?;
        cpu_rows.push((name, c));
    }
    report::cpu(&cpu_rows, calls);
    Ok(())
}
