//! Replay from the table, not from the 24-hour stream: the latest view of every
//! payment changed in a time range, or of one reference, published again through
//! the same publisher (bus, and ordered queue when there is one), each event
//! marked `redelivery` and carrying the `event_id` of the version it shows.
//!
//! What a consumer makes of it: an `event_id` it holds is a copy to drop; a
//! version above the one it holds is news. A replay never invents a version, so
//! replaying twice, or replaying what did arrive, changes nothing for it.

use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};

use super::error::PublishError;
use super::event::PaymentEvent;
use super::handler::{Outcome, Publisher};
use crate::lookup::{Lookup, LookupError};
use crate::store::{Store, StoreError};

/// The longest range one replay covers: each hour is a few index queries.
pub const MAX_RANGE_MS: i64 = 31 * 24 * 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The payments under a merchant reference, a user reference or a record.
    Of(Lookup),
    /// Every payment whose last change is in `[from_ms, to_ms]`.
    Changed { from_ms: i64, to_ms: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("usage: replay --ref REF | --user REF | --record PROVIDER RECORD_ID | --since TIME [--until TIME] (TIME: RFC 3339 or epoch milliseconds)")]
    Usage,
    #[error("{0}")]
    Reference(#[from] LookupError),
    #[error("{0:?} is neither an RFC 3339 time nor epoch milliseconds")]
    Time(String),
    #[error("--since is after --until")]
    Reversed,
    #[error("the range is longer than 31 days: replay it in parts")]
    TooLong,
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Publish(#[from] PublishError),
    /// Nothing after the first refusal was sent: run the same replay again.
    #[error("{published} of {total} events published; the first not published is {first}: run the replay again")]
    Incomplete {
        published: usize,
        total: usize,
        first: String,
    },
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub payments: usize,
    pub outcome: Outcome,
}

impl Scope {
    /// From an operator's arguments; `now_ms` ends a range without `--until`.
    pub fn from_args(args: &[String], now_ms: i64) -> Result<Self, ReplayError> {
        let strs: Vec<&str> = args.iter().map(String::as_str).collect();
        let of = |a: &[&str]| -> Result<Self, ReplayError> {
            if a.iter().any(|s| s.is_empty()) {
                return Err(ReplayError::Usage);
            }
            let owned: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            Ok(Self::Of(Lookup::from_args(&owned)?))
        };
        match strs.as_slice() {
            ["--ref", r] => of(&[r]),
            ["--user", u] => of(&["--user", u]),
            ["--record", provider, id] => of(&[provider, id]),
            ["--since", since] => range(parse_time(since)?, now_ms),
            ["--since", since, "--until", until] | ["--until", until, "--since", since] => {
                range(parse_time(since)?, parse_time(until)?)
            }
            _ => Err(ReplayError::Usage),
        }
    }
}

fn range(from_ms: i64, to_ms: i64) -> Result<Scope, ReplayError> {
    if from_ms > to_ms {
        return Err(ReplayError::Reversed);
    }
    if to_ms - from_ms > MAX_RANGE_MS {
        return Err(ReplayError::TooLong);
    }
    Ok(Scope::Changed { from_ms, to_ms })
}

pub fn parse_time(text: &str) -> Result<i64, ReplayError> {
    if !text.is_empty() && text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| ReplayError::Time(text.to_string()));
    }
    let t = DateTime::from_str(text, DateTimeFormat::DateTime)
        .map_err(|_| ReplayError::Time(text.to_string()))?;
    t.to_millis()
        .map_err(|_| ReplayError::Time(text.to_string()))
}

/// Re-publishes the latest view of every payment in `scope`, oldest change first.
pub async fn replay(
    store: &Store,
    publisher: &Publisher,
    scope: &Scope,
) -> Result<Report, ReplayError> {
    let payments = match scope {
        Scope::Of(lookup) => crate::lookup::payments(store, lookup).await?,
        Scope::Changed { from_ms, to_ms } => {
            store.payments_changed_between(*from_ms, *to_ms).await?
        }
    };
    let events: Vec<PaymentEvent> = payments
        .into_iter()
        .map(|p| PaymentEvent::of(p, true))
        .collect();
    let mut outcome = Outcome::default();
    let published = publisher.publish(&events, &mut outcome).await?;
    publisher.emit(&outcome);
    tracing::info!(
        payments = events.len(),
        published,
        put_requests = outcome.put_requests,
        queue_requests = outcome.queue_requests,
        "replay"
    );
    if let Some(first) = events.get(published) {
        return Err(ReplayError::Incomplete {
            published,
            total: events.len(),
            first: first.event_id.clone(),
        });
    }
    Ok(Report {
        payments: events.len(),
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_from_arguments() {
        let now = 1_797_000_000_000;
        assert_eq!(
            Scope::from_args(&args(&["--ref", "ord 1"]), now).unwrap(),
            Scope::Of(Lookup::MerchantRef("ord 1".into()))
        );
        assert_eq!(
            Scope::from_args(&args(&["--user", "u-9"]), now).unwrap(),
            Scope::Of(Lookup::UserRef("u-9".into()))
        );
        assert_eq!(
            Scope::from_args(&args(&["--since", "2026-12-01T00:00:00Z"]), now).unwrap(),
            Scope::Changed {
                from_ms: 1_796_083_200_000,
                to_ms: now
            }
        );
        assert_eq!(
            Scope::from_args(
                &args(&[
                    "--until",
                    "2026-12-01T01:00:00.5Z",
                    "--since",
                    "1796079600000"
                ]),
                now
            )
            .unwrap(),
            Scope::Changed {
                from_ms: 1_796_079_600_000,
                to_ms: 1_796_086_800_500
            }
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_what_is_wrong() {
        let now = 1_796_000_000_000;
        for (a, want) in [
            (&["--since"][..], "usage"),
            (&["--since", "yesterday"], "neither"),
            (&["--since", "2000", "--until", "1000"], "after"),
            (&["--since", "0", "--until", "2700000000000"], "31 days"),
            (&["--ref", ""], "usage"),
            (&["--all"], "usage"),
        ] {
            let e = Scope::from_args(&args(a), now).unwrap_err().to_string();
            assert!(e.contains(want), "{a:?}: {e}");
        }
    }
}
