//! The commands that read or repair a deployment's table and bus. Each prints what
//! it did; `--json` prints what a script reads.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use indicatif::{ProgressBar, ProgressStyle};
use shared::publish::replay::{self, Scope};
use shared::publish::{OrderedQueue, Publisher};

use crate::clients::Clients;
use crate::deployment::Deployment;
use crate::error::OpsError;

const HOUR_MS: i64 = 3_600_000;

/// The same answer as `GET /payments/...`.
pub async fn payment(
    aws: &Clients,
    d: &Deployment,
    args: &[String],
    _json: bool,
) -> Result<(), OpsError> {
    let lookup = shared::lookup::Lookup::from_args(args).map_err(OpsError::cannot)?;
    let store = d.store(aws)?;
    match shared::lookup::find(&store, &lookup)
        .await
        .map_err(OpsError::cannot)?
    {
        Some(answer) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&answer).map_err(OpsError::cannot)?
            );
            Ok(())
        }
        None => Err(OpsError::No("no payment under that reference".into())),
    }
}

pub async fn records(
    aws: &Clients,
    d: &Deployment,
    provider: &str,
    record_key: &str,
) -> Result<(), OpsError> {
    let items = d
        .store(aws)?
        .record_partition(provider, record_key)
        .await
        .map_err(OpsError::cannot)?;
    if items.is_empty() {
        return Err(OpsError::No(format!(
            "nothing stored for {provider} {record_key}"
        )));
    }
    for item in items {
        println!("{item}");
    }
    Ok(())
}

fn publisher(aws: &Clients, d: &Deployment) -> Result<Publisher, OpsError> {
    let publisher = Publisher::new(
        aws.eventbridge.clone(),
        d.bus()?,
        shared::publish::handler::DEFAULT_SOURCE,
        // Not to stdout: the CLI's output is its answer.
        shared::metrics::Metrics::memory().0,
    );
    Ok(match &d.queue_url {
        Some(url) => publisher.with_ordered_queue(OrderedQueue::new(aws.sqs.clone(), url)),
        None => publisher,
    })
}

/// What a replay did, over every part it was cut into.
#[derive(Debug, Default, serde::Serialize)]
pub struct ReplayReport {
    pub payments: usize,
    pub put_events_requests: usize,
    pub ordered_queue_requests: usize,
    pub hours: usize,
}

/// A replay of a time range goes hour by hour (one bar step each), so a long
/// range shows its progress and a failure says how far it got.
pub async fn replay(
    aws: &Clients,
    d: &Deployment,
    args: &[String],
    json: bool,
) -> Result<(), OpsError> {
    let scope = Scope::from_args(args, shared::clock::now_ms()).map_err(OpsError::cannot)?;
    let store = d.store(aws)?;
    let publisher = publisher(aws, d)?;
    let parts: Vec<Scope> = match &scope {
        Scope::Of(_) => vec![scope.clone()],
        Scope::Changed { from_ms, to_ms } => {
            let mut parts = Vec::new();
            let mut start = *from_ms;
            while start <= *to_ms {
                let end = (start + HOUR_MS - 1).min(*to_ms);
                parts.push(Scope::Changed {
                    from_ms: start,
                    to_ms: end,
                });
                start = end + 1;
            }
            parts
        }
    };
    let bar = ProgressBar::new(parts.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} hours {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if parts.len() == 1 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut report = ReplayReport::default();
    for part in &parts {
        let done = replay::replay(&store, &publisher, part)
            .await
            .map_err(|e| {
                bar.abandon();
                OpsError::CannotRun(format!(
                    "{e} (replayed {} payment(s) before it)",
                    report.payments
                ))
            })?;
        report.payments += done.payments;
        report.put_events_requests += done.outcome.put_requests;
        report.ordered_queue_requests += done.outcome.queue_requests;
        report.hours += usize::from(matches!(part, Scope::Changed { .. }));
        bar.set_message(format!("{} payment(s)", report.payments));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(OpsError::cannot)?
        );
    } else {
        println!(
            "replayed {} payment(s): {} PutEvents, {} ordered-queue batches",
            report.payments, report.put_events_requests, report.ordered_queue_requests
        );
    }
    Ok(())
}

/// The operator's list.
pub async fn unresolved(
    aws: &Clients,
    d: &Deployment,
    stale_after: i64,
    max: usize,
    index_old: bool,
    json: bool,
) -> Result<(), OpsError> {
    if max == 0 {
        return Err(OpsError::CannotRun("--max takes a positive count".into()));
    }
    let store = d.store(aws)?;
    if index_old {
        let spinner = ProgressBar::new_spinner().with_message("scanning the table");
        spinner.enable_steady_tick(std::time::Duration::from_millis(200));
        let found = shared::unresolved::list_unlisted(&store)
            .await
            .map_err(OpsError::cannot)?;
        spinner.finish_and_clear();
        eprintln!(
            "listed what predates the list: {} window(s), {} conflict(s), {} clash(es), {} record(s) moved to an other queue",
            found.windows, found.conflicts, found.clashes, found.requeued
        );
    }
    let overview = shared::unresolved::overview(&store, shared::clock::now_ms(), stale_after, max)
        .await
        .map_err(OpsError::cannot)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&overview).map_err(OpsError::cannot)?
        );
    } else {
        print!("{}", shared::unresolved::render(&overview));
    }
    Ok(())
}

pub async fn acknowledge(
    aws: &Clients,
    d: &Deployment,
    provider: &str,
    record_id: &str,
) -> Result<(), OpsError> {
    if !shared::registry::ALL.iter().any(|p| p.name == provider) {
        let names: Vec<&str> = shared::registry::ALL.iter().map(|p| p.name).collect();
        return Err(OpsError::CannotRun(format!(
            "unknown provider {provider:?}: one of {}",
            names.join(", ")
        )));
    }
    let n = d
        .store(aws)?
        .acknowledge(provider, record_id, shared::clock::now_ms())
        .await
        .map_err(OpsError::cannot)?;
    if n == 0 {
        return Err(OpsError::No("nothing of that record is on the list".into()));
    }
    println!("{n} item(s) acknowledged");
    Ok(())
}

pub async fn rehash(aws: &Clients, d: &Deployment) -> Result<(), OpsError> {
    let spinner = ProgressBar::new_spinner().with_message("reading every item with a body");
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let done = d
        .store(aws)?
        .rehash_bodies()
        .await
        .map_err(OpsError::cannot)?;
    spinner.finish_and_clear();
    println!(
        "{} item(s) with a body read; {} event(s) given new fingerprints, {} conflict(s) moved to their new key",
        done.scanned, done.events, done.conflicts
    );
    Ok(())
}
