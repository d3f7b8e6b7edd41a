//! `payments-ops`: what an operator runs against a deployed stack. Installed with
//! `cargo install --path ops`; needs AWS credentials, never the source tree.
//!
//! Exit codes: 0 done (every doctor check passed); 1 a negative answer (no such
//! payment, nothing to acknowledge, a doctor check failed); 2 a usage error; 3 it
//! could not run (no stack, no table, an AWS call failed).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use payments_ops::{commands, doctor, Clients, Deployment, OpsError};

#[derive(Debug, Parser)]
#[command(name = "payments-ops", version, about, long_about = None)]
struct Cli {
    /// Take the table, bus, queue and secrets from this CloudFormation stack's
    /// outputs (else from TABLE_NAME, EVENT_BUS_NAME, ORDERED_QUEUE_URL).
    #[arg(long, global = true, value_name = "NAME")]
    stack: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The payment(s) under a merchant reference, with every record's history: the
    /// lookup API's answer.
    Payment(PaymentArgs),
    /// Every stored item of one record, as JSON lines (bodies as stored, masked where
    /// the provider's are): e.g. `records alchemypay quarantine:<hash>`.
    Records(RecordsArgs),
    /// Publish again the latest view of payments, marked as redeliveries (same
    /// event_id per version): to the bus, and the ordered queue when there is one.
    Replay(ReplayArgs),
    /// Everything not resolved, across providers, oldest first, with what to do.
    Unresolved(UnresolvedArgs),
    /// A record's conflicts, clash or quarantined bodies, looked at: off the list,
    /// history kept.
    Acknowledge(AcknowledgeArgs),
    /// Once after upgrading: take body fingerprints of older items again over the
    /// stored (masked) body.
    Rehash,
    /// Check a deployed stack, read-only, one line per check with what to do.
    Doctor(DoctorArgs),
    /// The IAM policy a command needs (JSON), filled in for --stack; without it, as
    /// written, with ${...} placeholders for the stack's outputs.
    Permissions(PermissionsArgs),
}

#[derive(Debug, Args)]
struct PermissionsArgs {
    /// The command; `stack` is what --stack adds to any of them.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(
        payments_ops::permissions::POLICIES.iter().map(|(name, _)| *name)
    ))]
    command: String,
}

#[derive(Debug, Args)]
struct PaymentArgs {
    /// The merchant's reference (or, with --record, the provider).
    reference: Option<String>,
    /// Look up by provider and record id instead: --record PROVIDER RECORD_ID.
    #[arg(long, num_args = 2, value_names = ["PROVIDER", "RECORD_ID"], conflicts_with_all = ["reference", "user"])]
    record: Option<Vec<String>>,
    /// Every payment of this user reference.
    #[arg(long, value_name = "USER_REF", conflicts_with = "reference")]
    user: Option<String>,
    /// Print the answer as JSON (it is JSON already; kept for symmetry).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RecordsArgs {
    provider: String,
    /// The record's key as the list shows it (a record id, `order:<token>`,
    /// `quarantine:<hash>`...).
    record_key: String,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// One merchant reference's payments.
    #[arg(long = "ref", value_name = "REF", group = "scope")]
    merchant_ref: Option<String>,
    /// One user reference's payments.
    #[arg(long, value_name = "USER_REF", group = "scope")]
    user: Option<String>,
    /// One record's payment: --record PROVIDER RECORD_ID.
    #[arg(long, num_args = 2, value_names = ["PROVIDER", "RECORD_ID"], group = "scope")]
    record: Option<Vec<String>>,
    /// Every payment changed since this time (RFC 3339 or epoch ms), hour by hour.
    #[arg(long, value_name = "TIME", group = "scope")]
    since: Option<String>,
    /// With --since: until this time (default now).
    #[arg(long, value_name = "TIME", requires = "since")]
    until: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct UnresolvedArgs {
    /// Print the list as JSON (the same entries and counts).
    #[arg(long)]
    json: bool,
    /// Age in seconds from which an entry counts as overdue.
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    stale_after: i64,
    /// At most this many entries read per queue.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max: usize,
    /// Once after upgrading: scan for windows, conflicts and clashes written before
    /// the list existed, and list them.
    #[arg(long)]
    index_old: bool,
}

#[derive(Debug, Args)]
struct AcknowledgeArgs {
    provider: String,
    record_id: String,
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(OpsError::No(e)) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
        Err(OpsError::CannotRun(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

async fn run(cli: Cli) -> Result<(), OpsError> {
    if let (Command::Permissions(a), None) = (&cli.command, &cli.stack) {
        print!("{}", payments_ops::permissions::template(&a.command)?);
        return Ok(());
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let aws = Clients::new(&sdk);
    let deployment = Deployment::resolve(&aws.cloudformation, cli.stack.as_deref()).await?;
    match cli.command {
        Command::Payment(a) => {
            let args: Vec<String> =
                match (a.reference, a.record, a.user) {
                    (_, Some(record), _) => record,
                    (_, _, Some(user)) => vec!["--user".into(), user],
                    (Some(reference), _, _) => vec![reference],
                    _ => return Err(OpsError::CannotRun(
                        "payment: give a reference, --record PROVIDER RECORD_ID or --user USER_REF"
                            .into(),
                    )),
                };
            commands::payment(&aws, &deployment, &args, a.json).await
        }
        Command::Records(a) => {
            commands::records(&aws, &deployment, &a.provider, &a.record_key).await
        }
        Command::Replay(a) => {
            let scope = match (a.merchant_ref, a.user, a.record, a.since) {
                (Some(r), ..) => vec!["--ref".into(), r],
                (_, Some(u), ..) => vec!["--user".into(), u],
                (_, _, Some(mut record), _) => {
                    record.insert(0, "--record".into());
                    record
                }
                (_, _, _, Some(since)) => {
                    let mut v = vec!["--since".into(), since];
                    if let Some(until) = a.until {
                        v.extend(["--until".into(), until]);
                    }
                    v
                }
                _ => {
                    return Err(OpsError::CannotRun(
                        "replay: give --ref, --user, --record or --since".into(),
                    ))
                }
            };
            commands::replay(&aws, &deployment, &scope, a.json).await
        }
        Command::Unresolved(a) => {
            commands::unresolved(&aws, &deployment, a.stale_after, a.max, a.index_old, a.json).await
        }
        Command::Acknowledge(a) => {
            commands::acknowledge(&aws, &deployment, &a.provider, &a.record_id).await
        }
        Command::Rehash => commands::rehash(&aws, &deployment).await,
        Command::Permissions(a) => {
            print!(
                "{}",
                payments_ops::permissions::filled(&a.command, &deployment)?
            );
            Ok(())
        }
        Command::Doctor(a) => {
            let report = doctor::run(&aws, &deployment).await?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(OpsError::cannot)?
                );
            } else {
                print!("{}", report.render());
            }
            if report.passed() {
                Ok(())
            } else {
                Err(OpsError::No(format!("{} check(s) failed", report.failed())))
            }
        }
    }
}
