//! Everything not resolved yet, across providers, oldest first, each with its age
//! and what to do: the operator's list (`payments-ops unresolved`) and the
//! reconciler's counts on the dashboard come from the same `overview`.
//!
//! It reads the `open` index only: every provider queue `ProviderInfo` declares,
//! and the store's own queues of resend windows, conflicts and terminal clashes.
//! Nothing is scanned, so its cost follows what is open, not the table's size.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use serde::Serialize;

use crate::lifecycle::{Lifecycle, TERMINAL_CLASH};
use crate::provider::ProviderInfo;
use crate::registry::ALL;
use crate::store::budget::{self, Usage};
use crate::store::windows::{Reason, ScopedWindow};
use crate::store::{
    OpenRecord, Store, StoreError, CLASH_QUEUE, CONFLICT_QUEUE, HELD_MERCHANT_REF,
    QUARANTINE_QUEUE, RESEND_WINDOW_QUEUE,
};

/// Why an entry is on the list; the dashboard counts each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// An hour a provider is still to be asked to resend.
    ResendWindow,
    /// Stored, but its status was never confirmed with the provider's API.
    Unconfirmed,
    /// Not final, and its order's expiry has passed.
    PastExpiry,
    /// The provider holds it for review (flagged risky).
    Held,
    /// Not final, and no API can confirm it (Alchemy Pay orders, CityPay deposits).
    Unconfirmable,
    /// Not final yet; the provider or the reconciler will move it.
    NotFinal,
    /// One notification identity with two different bodies.
    Conflict,
    /// Two different final statuses for one record.
    TerminalClash,
    /// An authentic delivery we could not read, kept and never applied.
    Quarantined,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::ResendWindow,
        Category::Unconfirmed,
        Category::PastExpiry,
        Category::Held,
        Category::Unconfirmable,
        Category::NotFinal,
        Category::Conflict,
        Category::TerminalClash,
        Category::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::ResendWindow => "resend_window",
            Category::Unconfirmed => "unconfirmed",
            Category::PastExpiry => "past_expiry",
            Category::Held => "held",
            Category::Unconfirmable => "unconfirmable",
            Category::NotFinal => "not_final",
            Category::Conflict => "conflict",
            Category::TerminalClash => "terminal_clash",
            Category::Quarantined => "quarantined",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One thing not resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub category: Category,
    pub provider: Option<&'static str>,
    /// The record's key, or a window's scope and hour.
    pub subject: String,
    /// When it became unresolved (a window: the start of its hour), epoch ms.
    pub since_ms: i64,
    pub age_secs: i64,
    /// Older than the stale limit.
    pub overdue: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub action: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub total: usize,
    pub overdue: usize,
    /// The age of the category's oldest entry (0 when it has none): what pages.
    pub oldest_age_secs: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub at_ms: i64,
    pub stale_after_secs: i64,
    /// Oldest first.
    pub entries: Vec<Entry>,
    /// Every category, zero included.
    pub counts: BTreeMap<&'static str, Count>,
    /// Queues holding more than the limit asked for: listed and counted in part.
    pub truncated: Vec<String>,
}

impl Overview {
    pub fn oldest_age_secs(&self) -> i64 {
        self.entries.first().map_or(0, |e| e.age_secs)
    }
}

/// Reads every queue (at most `max_per_queue` entries each) as of `now_ms`.
pub async fn overview(
    store: &Store,
    now_ms: i64,
    stale_after_secs: i64,
    max_per_queue: usize,
) -> Result<Overview, StoreError> {
    walk(store, now_ms, stale_after_secs, max_per_queue, None).await
}

/// As `overview`, every entry counted but only the `keep` oldest kept: memory is a
/// page of the index and `keep` entries, whatever the backlog (the reconciler).
pub async fn overview_oldest(
    store: &Store,
    now_ms: i64,
    stale_after_secs: i64,
    max_per_queue: usize,
    keep: usize,
) -> Result<Overview, StoreError> {
    walk(store, now_ms, stale_after_secs, max_per_queue, Some(keep)).await
}

/// Counts entries as they come, keeping all of them or only the oldest few.
struct Tally {
    now_ms: i64,
    stale_ms: i64,
    keep: Option<usize>,
    entries: Vec<Entry>,
    counts: BTreeMap<&'static str, Count>,
}

impl Tally {
    fn add(&mut self, mut e: Entry) {
        e.age_secs = (self.now_ms - e.since_ms).max(0) / 1000;
        e.overdue = self.now_ms - e.since_ms > self.stale_ms;
        let c = self.counts.entry(e.category.as_str()).or_default();
        c.total += 1;
        c.overdue += usize::from(e.overdue);
        c.oldest_age_secs = c.oldest_age_secs.max(e.age_secs);
        self.entries.push(e);
        if let Some(keep) = self.keep {
            if self.entries.len() >= keep.saturating_mul(2).max(1) {
                self.trim(keep);
            }
        }
    }

    fn trim(&mut self, keep: usize) {
        self.entries.sort_by_key(|e| (e.since_ms, e.category));
        self.entries.truncate(keep);
    }
}

async fn walk(
    store: &Store,
    now_ms: i64,
    stale_after_secs: i64,
    max_per_queue: usize,
    keep: Option<usize>,
) -> Result<Overview, StoreError> {
    let mut tally = Tally {
        now_ms,
        stale_ms: stale_after_secs.saturating_mul(1000),
        keep,
        entries: Vec::new(),
        counts: Category::ALL
            .iter()
            .map(|c| (c.as_str(), Count::default()))
            .collect(),
    };
    let mut truncated = Vec::new();
    // One per scope and hour: few, read whole.
    let (windows, more) = store.open_windows(max_per_queue).await?;
    if more {
        truncated.push(RESEND_WINDOW_QUEUE.to_string());
    }
    let mut usages: BTreeMap<String, Usage> = BTreeMap::new();
    for w in &windows {
        if !usages.contains_key(&w.scope) {
            let u = budget::usage(store, &w.scope, now_ms / 1000).await?;
            usages.insert(w.scope.clone(), u);
        }
        tally.add(window_entry(w, usages.get(&w.scope)));
    }
    for provider in ALL {
        for queue in provider.open_queues {
            let more = store
                .open_pages(queue, max_per_queue, &mut |records| {
                    for r in &records {
                        tally.add(record_entry(provider, queue, r, now_ms));
                    }
                })
                .await?;
            if more {
                truncated.push((*queue).to_string());
            }
        }
    }
    for queue in [CONFLICT_QUEUE, CLASH_QUEUE, QUARANTINE_QUEUE] {
        let category = match queue {
            CONFLICT_QUEUE => Category::Conflict,
            QUARANTINE_QUEUE => Category::Quarantined,
            _ => Category::TerminalClash,
        };
        let more = store
            .open_pages(queue, max_per_queue, &mut |records| {
                for r in &records {
                    let provider = r
                        .attr("provider")
                        .and_then(|name| ALL.iter().copied().find(|p| p.name == name));
                    tally.add(entry_of(category, provider, false, r, now_ms));
                }
            })
            .await?;
        if more {
            truncated.push(queue.to_string());
        }
    }
    tally.trim(keep.unwrap_or(usize::MAX));
    Ok(Overview {
        at_ms: now_ms,
        stale_after_secs,
        entries: tally.entries,
        counts: tally.counts,
        truncated,
    })
}

/// `Store::list_unlisted` with every provider's queues: a record in a queue of an
/// undocumented type (`ccpayment#Payout`) moves to its provider's `…#other`.
pub async fn list_unlisted(store: &Store) -> Result<crate::store::Unlisted, StoreError> {
    let known: Vec<&str> = ALL
        .iter()
        .flat_map(|p| p.open_queues.iter().copied())
        .collect();
    store
        .list_unlisted(&known, |queue| {
            let provider = queue.split('#').next()?;
            let other = format!("{provider}#other");
            ALL.iter()
                .any(|p| p.name == provider && p.open_queues.contains(&other.as_str()))
                .then_some(other)
        })
        .await
}

/// When the record's order expires, where its provider says.
fn expiry_ms(provider: &ProviderInfo, r: &OpenRecord) -> Option<i64> {
    let e = provider.expiry?;
    let value: i64 = r.attr(e.attribute)?.trim().parse().ok()?;
    value.checked_mul(e.millis_per_unit)
}

/// A record of a provider queue: what it is waiting for.
fn record_entry(
    provider: &'static ProviderInfo,
    queue: &str,
    r: &OpenRecord,
    now_ms: i64,
) -> Entry {
    let expiry_ms = expiry_ms(provider, r);
    let lifecycle = r.attr("lifecycle").and_then(Lifecycle::parse);
    let category = if r.flags.contains(TERMINAL_CLASH) && !r.acknowledged {
        Category::TerminalClash
    } else if r.status.is_none() {
        Category::Unconfirmed
    } else if lifecycle == Some(Lifecycle::Held) {
        Category::Held
    } else if lifecycle == Some(Lifecycle::Expired) {
        // Expired already: only watched for a late payment, then closed.
        Category::NotFinal
    } else if expiry_ms.is_some_and(|e| e <= now_ms) {
        Category::PastExpiry
    } else if provider.unconfirmable_queues.contains(&queue) {
        Category::Unconfirmable
    } else {
        Category::NotFinal
    };
    let unconfirmable = provider.unconfirmable_queues.contains(&queue);
    entry_of(category, Some(provider), unconfirmable, r, now_ms)
}

fn entry_of(
    category: Category,
    provider: Option<&'static ProviderInfo>,
    unconfirmable: bool,
    r: &OpenRecord,
    now_ms: i64,
) -> Entry {
    let name = provider.map_or("the provider", |p| p.title);
    let subject = r.record_key.clone();
    let show = provider.map_or(String::new(), |p| format!("{} {subject}", p.name));
    let action = match category {
        Category::Unconfirmed if !unconfirmable => format!(
            "the reconciler asks {name}'s API again each run; if it stays, check the API \
             credentials and the reconciler's errors"
        ),
        Category::Unconfirmed | Category::Unconfirmable => format!(
            "no API can confirm it: look it up in {name}'s merchant dashboard once it is overdue"
        ),
        Category::Held => format!(
            "{name} holds it for review: decide in {name}'s dashboard; never ship against it"
        ),
        Category::PastExpiry => format!(
            "past its expiry and not final: the reconciler re-checks it; if it stays, look it \
             up in {name}'s dashboard"
        ),
        Category::NotFinal if r.attr("lifecycle") == Some(Lifecycle::Expired.as_str()) => {
            "expired: asked about a while longer in case a late payment arrives, then \
             closed; nothing to do"
                .to_string()
        }
        Category::NotFinal => {
            format!("waiting for {name}; once overdue, look it up in {name}'s dashboard")
        }
        Category::Conflict if r.attr(HELD_MERCHANT_REF).is_some() => format!(
            "names another merchant order than its record's first: someone may be \
             replaying a paid order against another one; nothing was applied. Check the \
             order in {name}'s dashboard (payments-ops payment --record {show}), then \
             payments-ops acknowledge {show}"
        ),
        Category::Conflict => format!(
            "two bodies for one notification: compare them (payments-ops payment --record \
             {show}), then payments-ops acknowledge {show}"
        ),
        Category::TerminalClash => format!(
            "two different final statuses: ask {name} which is true, correct the order by \
             hand if needed, then payments-ops acknowledge {show}"
        ),
        Category::Quarantined => format!(
            "{name} sent it (its signature or path token held) but we could not read it; \
             nothing was applied. Read it (payments-ops records {show}), settle the payment \
             in {name}'s dashboard or have the parser fixed, then payments-ops acknowledge \
             {show}"
        ),
        Category::ResendWindow => String::new(),
    };
    let detail = match category {
        Category::PastExpiry => provider
            .and_then(|p| expiry_ms(p, r))
            .map(|at| format!("expired {}", time_text(at))),
        Category::Conflict => r.attr(HELD_MERCHANT_REF).map(|held| {
            format!(
                "claims merchant ref {}; the record's is {held}",
                r.attr("merchant_ref").unwrap_or("?")
            )
        }),
        Category::Quarantined => Some(format!(
            "{}: {}",
            r.attr("reason_code").unwrap_or("?"),
            r.attr("reason").unwrap_or("?")
        )),
        Category::TerminalClash => Some(format!(
            "kept {}; statuses seen: {}",
            r.status.as_deref().unwrap_or("?"),
            r.seen.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
        _ => None,
    };
    Entry {
        category,
        provider: provider.map(|p| p.name),
        subject,
        since_ms: r
            .open_since_ms
            .or_else(|| r.attr("first_seen_at_ms")?.parse().ok())
            .unwrap_or(now_ms),
        age_secs: 0,
        overdue: false,
        status: r.status.clone().or_else(|| {
            // A conflict item keeps the status text its notification carried.
            (category == Category::Conflict)
                .then(|| r.attr("status").map(str::to_string))
                .flatten()
        }),
        merchant_ref: r.attr("merchant_ref").map(str::to_string),
        detail,
        action,
    }
}

/// An open resend window, with its scope's budget.
fn window_entry(w: &ScopedWindow, usage: Option<&Usage>) -> Entry {
    let provider = provider_of_scope(&w.scope);
    let win = &w.window;
    let reason = match win.reason {
        Reason::Manual => "manual",
        Reason::Suspect => "suspect",
        Reason::Unverified => "unverified",
        Reason::Routine => "routine",
    };
    let budget = match usage {
        Some(Usage {
            used,
            daily_cap: Some(cap),
            ..
        }) => format!("{used} of {cap} calls used in 24 h"),
        Some(Usage { used, .. }) if *used > 0 => format!("{used} calls used in 24 h"),
        _ => "no call made yet".to_string(),
    };
    let mut detail = format!("{reason}, {} attempt(s), {budget}", win.attempts);
    if let Some(err) = &win.last_error {
        detail.push_str(&format!(", last error: {err}"));
    }
    let exhausted = usage.is_some_and(|u| u.daily_cap.is_some_and(|cap| u.used >= cap));
    let action = if exhausted {
        "the daily cap is used up: the reconciler asks for it as calls free up (the cap is \
         the provider's own limit)"
            .to_string()
    } else if win.last_error.is_some() {
        format!(
            "its last call failed: the reconciler retries from {} (epoch s); if it keeps failing, \
             check the reconciler's errors",
            win.next_attempt_at
        )
    } else {
        "the reconciler asks for it on a coming run, once its hour has settled".to_string()
    };
    Entry {
        category: Category::ResendWindow,
        provider: provider.map(|p| p.name),
        subject: format!("{} {}", w.scope, time_text(win.start.saturating_mul(1000))),
        since_ms: win.start.saturating_mul(1000),
        age_secs: 0,
        overdue: false,
        status: None,
        merchant_ref: None,
        detail: Some(detail),
        action,
    }
}

fn time_text(at_ms: i64) -> String {
    DateTime::from_millis(at_ms)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| at_ms.to_string())
}

/// `reconciler#<provider>[#<account>]`.
fn provider_of_scope(scope: &str) -> Option<&'static ProviderInfo> {
    let name = scope.strip_prefix("reconciler#")?.split('#').next()?;
    ALL.iter().copied().find(|p| p.name == name)
}

/// `3d04h`, `5h12m`, `42m`, `30s`.
pub fn age(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h:02}h"),
    }
}

/// The list as an operator reads it: one block per entry, oldest first, then the
/// counts the dashboard shows.
pub fn render(o: &Overview) -> String {
    let mut out = String::new();
    for e in &o.entries {
        let mark = if e.overdue { "!" } else { " " };
        out.push_str(&format!(
            "{mark}{:>7}  {:<14}  {:<12}  {}",
            age(e.age_secs),
            e.category.as_str(),
            e.provider.unwrap_or("-"),
            e.subject
        ));
        if let Some(st) = &e.status {
            out.push_str(&format!("  [{st}]"));
        }
        if let Some(r) = &e.merchant_ref {
            out.push_str(&format!("  ref {r}"));
        }
        out.push('\n');
        if let Some(d) = &e.detail {
            out.push_str(&format!("           {d}\n"));
        }
        out.push_str(&format!("           -> {}\n", e.action));
    }
    let counts: Vec<String> = o
        .counts
        .iter()
        .filter(|(_, c)| c.total > 0)
        .map(|(name, c)| format!("{name} {} ({} overdue)", c.total, c.overdue))
        .collect();
    if counts.is_empty() {
        out.push_str("nothing unresolved\n");
    } else {
        out.push_str(&format!(
            "{} unresolved: {}; ! = older than the stale limit ({})\n",
            o.entries.len(),
            counts.join(", "),
            age(o.stale_after_secs)
        ));
    }
    for q in &o.truncated {
        out.push_str(&format!(
            "queue {q} holds more than the limit: listed in part (raise --max)\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn record(status: Option<&str>, attrs: &[(&str, &str)]) -> OpenRecord {
        OpenRecord {
            record_key: "order:tok".into(),
            sk: "state".into(),
            status: status.map(str::to_string),
            open_since_ms: Some(1_000_000),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            flags: BTreeSet::new(),
            seen: BTreeSet::new(),
            acknowledged: false,
        }
    }

    #[test]
    fn records_are_sorted_into_what_they_wait_for() {
        let city = &crate::citypay::INFO;
        let v2 = &crate::ccpayment_v2::INFO;
        let now = 10_000_000;
        let cat = |p, q, r: &OpenRecord| record_entry(p, q, r, now).category;
        assert_eq!(
            cat(city, "citypay#order", &record(None, &[])),
            Category::Unconfirmed
        );
        assert_eq!(
            cat(
                city,
                "citypay#order",
                &record(Some("IN_PROGRESS"), &[("expires_at_ms", "9999999")])
            ),
            Category::PastExpiry
        );
        assert_eq!(
            cat(
                city,
                "citypay#order",
                &record(Some("IN_PROGRESS"), &[("expires_at_ms", "10000001")])
            ),
            Category::NotFinal
        );
        assert_eq!(
            cat(city, "citypay#deposit", &record(Some("IN_PROGRESS"), &[])),
            Category::Unconfirmable
        );
        assert_eq!(
            cat(
                v2,
                "ccpayment-v2#ApiDeposit",
                &record(Some("FlaggedAsRisky"), &[("lifecycle", "held")])
            ),
            Category::Held
        );
        // v2 keeps its expiry in seconds.
        assert_eq!(
            cat(
                v2,
                "ccpayment-v2#ApiDeposit",
                &record(Some("Processing"), &[("order_expired_at", "9999")])
            ),
            Category::PastExpiry
        );
        let expired = record_entry(
            city,
            "citypay#order",
            &record(
                Some("EXPIRED"),
                &[("lifecycle", "expired"), ("expires_at_ms", "9999999")],
            ),
            now,
        );
        assert_eq!(expired.category, Category::NotFinal);
        assert!(expired.action.contains("late payment"));
        let mut clash = record(Some("CONFIRMED"), &[]);
        clash.flags.insert(TERMINAL_CLASH.into());
        assert_eq!(cat(city, "citypay#order", &clash), Category::TerminalClash);
        clash.acknowledged = true;
        assert_eq!(cat(city, "citypay#order", &clash), Category::NotFinal);
        let unconfirmable = record_entry(
            &crate::alchemypay::INFO,
            "alchemypay#order",
            &record(None, &[]),
            now,
        );
        assert!(unconfirmable.action.contains("no API can confirm"));
    }

    #[test]
    fn window_scopes_name_their_provider() {
        assert_eq!(
            provider_of_scope("reconciler#ccpayment").map(|p| p.name),
            Some("ccpayment")
        );
        assert_eq!(
            provider_of_scope("reconciler#ccpayment-v2#app%231").map(|p| p.name),
            Some("ccpayment-v2")
        );
        assert_eq!(provider_of_scope("reconciler#nobody"), None);
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(30), "30s");
        assert_eq!(age(42 * 60 + 5), "42m");
        assert_eq!(age(5 * 3600 + 12 * 60), "5h12m");
        assert_eq!(age(3 * 86_400 + 4 * 3600 + 59), "3d04h");
    }
}
