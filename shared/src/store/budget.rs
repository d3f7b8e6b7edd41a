//! A provider's call allowance per scope (one account), e.g. CCPayment's resend
//! limit: at most one call every `min_interval_secs` and `daily_cap` calls a day.
//! "A day" in the provider's own time zone is not documented, so the cap holds
//! over every rolling 24 hours, which keeps it within any calendar day too.
//!
//! The budget is one item. A slot is taken by a write conditioned on the version
//! read, so concurrent reconciler runs can never both take the last slot; a call is
//! only made after its slot is taken, and a taken slot counts even if the call fails.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::dynamo;
use super::error::StoreError;
use super::schema::{PK, SK};
use super::table::Store;

const BUDGET_SK: &str = "resend-budget";
const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Taken,
    /// The last call was less than `min_interval` ago.
    TooSoon,
    /// `daily_cap` calls in the last 24 hours.
    Exhausted,
    /// Another run took the budget item between our read and write.
    Contended,
}

#[derive(Debug, Clone)]
pub struct Budget {
    pub daily_cap: u32,
    pub min_interval_secs: i64,
}

struct Read {
    calls: Vec<i64>,
    version: Option<i64>,
    daily_cap: Option<u32>,
}

/// A scope's budget as the last call left it, for the operator's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Calls in the 24 hours before now.
    pub used: u32,
    /// As configured when the last call was made; `None` before any call.
    pub daily_cap: Option<u32>,
    pub last_call_at: Option<i64>,
}

/// What `scope`'s budget has used in the 24 hours before `now`.
pub async fn usage(store: &Store, scope: &str, now: i64) -> Result<Usage, StoreError> {
    let r = read(store, scope).await?;
    Ok(Usage {
        used: r.calls.iter().filter(|t| **t > now - DAY).count() as u32,
        daily_cap: r.daily_cap,
        last_call_at: r.calls.iter().copied().max(),
    })
}

async fn read(store: &Store, scope: &str) -> Result<Read, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(store.table())
        .key(PK, AttributeValue::S(scope.into()))
        .key(SK, AttributeValue::S(BUDGET_SK.into()))
        .consistent_read(true)
        .send()
        .await
        .map_err(dynamo)?;
    let item: HashMap<String, AttributeValue> = out.item().cloned().unwrap_or_default();
    let calls = item
        .get("calls")
        .and_then(|v| v.as_l().ok())
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_n().ok()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()?.parse().ok());
    Ok(Read {
        calls,
        version: number("version"),
        daily_cap: number("daily_cap").and_then(|c: i64| u32::try_from(c).ok()),
    })
}

impl Budget {
    /// Calls made in the 24 hours before `now`.
    pub async fn used(&self, store: &Store, scope: &str, now: i64) -> Result<u32, StoreError> {
        Ok(usage(store, scope, now).await?.used)
    }

    pub async fn left(&self, store: &Store, scope: &str, now: i64) -> Result<u32, StoreError> {
        Ok(self
            .daily_cap
            .saturating_sub(self.used(store, scope, now).await?))
    }

    /// Takes a slot if the limits allow; also returns the calls left afterwards.
    pub async fn take(
        &self,
        store: &Store,
        scope: &str,
        now: i64,
    ) -> Result<(Slot, u32), StoreError> {
        self.take_keeping(store, scope, now, 0).await
    }

    /// As `take`, but never one of the last `reserved` calls of the day: those are
    /// kept for a better use than the one asking.
    pub async fn take_keeping(
        &self,
        store: &Store,
        scope: &str,
        now: i64,
        reserved: u32,
    ) -> Result<(Slot, u32), StoreError> {
        let r = read(store, scope).await?;
        let mut recent: Vec<i64> = r.calls.into_iter().filter(|t| *t > now - DAY).collect();
        recent.sort_unstable();
        let left = |used: usize| {
            self.daily_cap
                .saturating_sub(u32::try_from(used).unwrap_or(u32::MAX))
        };
        if recent
            .last()
            .is_some_and(|last| now - last < self.min_interval_secs)
        {
            return Ok((Slot::TooSoon, left(recent.len())));
        }
        if recent.len() >= self.daily_cap as usize {
            return Ok((Slot::Exhausted, 0));
        }
        if recent.len() >= self.daily_cap.saturating_sub(reserved) as usize {
            return Ok((Slot::Exhausted, left(recent.len())));
        }
        recent.push(now);
        let next_version = r.version.unwrap_or(0) + 1;
        let mut put = store
            .client
            .put_item()
            .table_name(store.table())
            .item(PK, AttributeValue::S(scope.into()))
            .item(SK, AttributeValue::S(BUDGET_SK.into()))
            .item("item_type", AttributeValue::S("resend_budget".into()))
            .item(
                "calls",
                AttributeValue::L(
                    recent
                        .iter()
                        .map(|t| AttributeValue::N(t.to_string()))
                        .collect(),
                ),
            )
            .item("version", AttributeValue::N(next_version.to_string()))
            // For whoever reads the budget without this configuration.
            .item("daily_cap", AttributeValue::N(self.daily_cap.to_string()))
            .item(
                "min_interval_secs",
                AttributeValue::N(self.min_interval_secs.to_string()),
            );
        put = match r.version {
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(v) => put
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok((Slot::Taken, left(recent.len()))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Another run took a slot: at least one fewer than we counted.
                Ok((Slot::Contended, left(recent.len())))
            }
            Err(e) => Err(dynamo(e)),
        }
    }
}
