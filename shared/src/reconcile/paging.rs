//! Which categories of the operator's list page a human, and after how long:
//! `PAGE_AFTER_HOURS` (from the template's `*PageAfterHours` parameters), e.g.
//! `conflict=1,held=4`; 0 switches a category's page off. A category pages while
//! its oldest entry is older than its limit: the reconciler emits
//! `UnresolvedNeedsAHuman` per category (1 or 0), and each has its alarm.

use std::collections::BTreeMap;

use crate::unresolved::{Category, Count};

/// What pages by default, and why (docs/alarms.md): a body changed under one
/// identity, two final statuses, a payment the provider holds, one no API
/// confirms, an order past its expiry, an unreadable authentic delivery nobody
/// looked at. Never: resend windows (their own alarm), what no API can confirm,
/// and what is merely not final yet (a slow withdrawal).
pub const DEFAULT: &str =
    "conflict=1,terminal_clash=1,held=4,unconfirmed=6,past_expiry=24,quarantined=24";

/// Each paging category with its limit in seconds; categories at 0 are left out.
pub fn parse(text: &str) -> Result<Vec<(Category, i64)>, String> {
    let mut out: Vec<(Category, i64)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, hours) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected category=hours"))?;
        let category = Category::parse(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            format!("`{name}`: not a category ({})", names.join(", "))
        })?;
        let hours: i64 = hours
            .trim()
            .parse()
            .map_err(|_| format!("`{part}`: hours must be a whole number"))?;
        if hours < 0 {
            return Err(format!("`{part}`: hours must not be negative"));
        }
        if out.iter().any(|(c, _)| *c == category) {
            return Err(format!("`{name}` given twice"));
        }
        if hours > 0 {
            out.push((category, hours.saturating_mul(3600)));
        }
    }
    Ok(out)
}

/// The paging categories whose oldest entry is past their limit, with that age.
pub fn needs_a_human(
    limits: &[(Category, i64)],
    counts: &BTreeMap<&'static str, Count>,
) -> BTreeMap<String, i64> {
    limits
        .iter()
        .filter_map(|(category, limit)| {
            let c = counts.get(category.as_str())?;
            (c.total > 0 && c.oldest_age_secs >= *limit)
                .then(|| (category.as_str().to_string(), c.oldest_age_secs))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_or_say_what_is_wrong() {
        let limits = parse(DEFAULT).unwrap();
        assert_eq!(limits.len(), 6);
        assert_eq!(limits[0], (Category::Conflict, 3600));
        assert_eq!(
            parse("held=0, conflict=2").unwrap(),
            vec![(Category::Conflict, 7200)]
        );
        assert!(parse("withdrawal=1")
            .unwrap_err()
            .contains("not a category"));
        assert!(parse("held").is_err());
        assert!(parse("held=-1").is_err());
        assert!(parse("held=1.5").is_err());
        assert!(parse("held=1,held=2").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn a_category_pages_once_its_oldest_entry_is_past_the_limit() {
        let limits = parse("conflict=1,held=4").unwrap();
        let count = |total, oldest_age_secs| Count {
            total,
            overdue: 0,
            oldest_age_secs,
        };
        let mut counts = BTreeMap::new();
        counts.insert("conflict", count(2, 3600));
        counts.insert("held", count(1, 4 * 3600 - 1));
        counts.insert("not_final", count(9, 99 * 3600));
        let paging = needs_a_human(&limits, &counts);
        assert_eq!(paging.len(), 1, "{paging:?}");
        assert_eq!(paging.get("conflict"), Some(&3600));
        counts.insert("conflict", count(0, 0));
        assert!(needs_a_human(&limits, &counts).is_empty());
    }
}
