//! The manual invocation payload:
//! `{"resend": {"from": "2026-11-20T06:00:00Z", "to": "2026-11-20T09:00:00Z",
//!   "transaction_type": "API Deposit", "webhook_result": "All Result"}}`.
//! Times are RFC 3339 in UTC (`Z`) or Unix seconds; type and result are optional.
//! `"provider": "ccpayment-v2"` asks for v2 (types spelt `ApiDeposit`...; default
//! `ccpayment`); `"app_id"` names the account (default: the first listed).

use serde_json::Value;

/// Longest range one request may queue: a week of hourly windows is already seven
/// days of the whole resend budget.
const MAX_RANGE_SECS: i64 = 7 * 86_400;

const V2_TYPES: &[&str] = &[
    "AllType",
    "ApiDeposit",
    "DirectDeposit",
    "ApiWithdrawal",
    "UserDeposit",
    "UserWithdrawal",
];

const TYPES: &[&str] = &[
    "All Type",
    "Direct Deposit",
    "API Deposit",
    "Invoice",
    "API Withdrawal",
    "Refund",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualResend {
    /// `ccpayment` or `ccpayment-v2`.
    pub provider: &'static str,
    /// The account; `None` for the first listed.
    pub app_id: Option<String>,
    pub from: i64,
    pub to: i64,
    pub transaction_type: Option<String>,
    pub all_results: bool,
}

impl ManualResend {
    /// `Ok(None)` for any event without a `resend` object (the schedule's events).
    pub fn from_event(event: &Value) -> Result<Option<Self>, String> {
        let Some(r) = event.get("resend") else {
            return Ok(None);
        };
        let from = time(r.get("from")).ok_or("resend.from must be RFC 3339 UTC or Unix seconds")?;
        let to = time(r.get("to")).ok_or("resend.to must be RFC 3339 UTC or Unix seconds")?;
        if to <= from || to - from > MAX_RANGE_SECS {
            return Err("resend.to must be after resend.from, at most 7 days later".into());
        }
        let (provider, types) = match r.get("provider").and_then(Value::as_str) {
            None | Some("ccpayment") => (crate::ccpayment::PROVIDER, TYPES),
            Some("ccpayment-v2") => (crate::ccpayment_v2::PROVIDER, V2_TYPES),
            Some(other) => {
                return Err(format!(
                    "resend.provider `{other}` must be `ccpayment` or `ccpayment-v2`"
                ))
            }
        };
        let transaction_type = match r.get("transaction_type").and_then(Value::as_str) {
            None => None,
            Some(t) if types.contains(&t) => Some(t.to_string()),
            Some(t) => {
                return Err(format!(
                    "resend.transaction_type `{t}` is not one of {types:?} ({provider})"
                ))
            }
        };
        let app_id = match r.get("app_id") {
            None => None,
            Some(Value::String(id)) if !id.trim().is_empty() => Some(id.trim().to_string()),
            Some(_) => return Err("resend.app_id must be a non-empty string".into()),
        };
        let all_results = match r.get("webhook_result").and_then(Value::as_str) {
            None | Some("Failed") => false,
            Some("All Result") => true,
            Some(other) => {
                return Err(format!(
                    "resend.webhook_result `{other}` must be `Failed` or `All Result`"
                ))
            }
        };
        Ok(Some(Self {
            provider,
            app_id,
            from,
            to,
            transaction_type,
            all_results,
        }))
    }
}

fn time(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok().or_else(|| rfc3339_utc(s)),
        _ => None,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds.
pub fn rfc3339_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
        || b.get(19) != Some(&b'Z')
    {
        return None;
    }
    let num = |from: usize, to: usize| s.get(from..to)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_utc("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(rfc3339_utc("2024-02-29T12:30:15Z"), Some(1_709_209_815));
        assert_eq!(rfc3339_utc("2026-01-01 00:00:00Z"), None);
        assert_eq!(rfc3339_utc("2026-13-01T00:00:00Z"), None);
        assert_eq!(rfc3339_utc("2026-01-01T00:00:00+01:00"), None);
    }

    #[test]
    fn manual_requests() {
        assert_eq!(
            ManualResend::from_event(&json!({"source": "aws.events"})),
            Ok(None)
        );
        let r = ManualResend::from_event(&json!({"resend": {"from": "2026-01-01T03:00:00Z", "to": 1_767_247_200, "webhook_result": "All Result", "transaction_type": "Refund"}}))
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.from, r.to, r.all_results),
            (1_767_247_200 - 3 * 3600, 1_767_247_200, true)
        );
        assert_eq!(r.transaction_type.as_deref(), Some("Refund"));
        assert_eq!((r.provider, r.app_id), ("ccpayment", None));
        let v2 = ManualResend::from_event(&json!({"resend": {"from": 0, "to": 10, "provider": "ccpayment-v2", "app_id": "shop-2", "transaction_type": "ApiDeposit"}}))
            .unwrap()
            .unwrap();
        assert_eq!(v2.provider, "ccpayment-v2");
        assert_eq!(v2.app_id.as_deref(), Some("shop-2"));
        for bad in [
            json!({"resend": {"from": "yesterday", "to": 1}}),
            json!({"resend": {"from": 10, "to": 5}}),
            json!({"resend": {"from": 0, "to": 8 * 86_400}}),
            json!({"resend": {"from": 0, "to": 10, "webhook_result": "Some"}}),
            json!({"resend": {"from": 0, "to": 10, "transaction_type": "Swap"}}),
            json!({"resend": {"from": 0, "to": 10, "provider": "citypay"}}),
            json!({"resend": {"from": 0, "to": 10, "app_id": 7}}),
            // Each version spells its types its own way.
            json!({"resend": {"from": 0, "to": 10, "provider": "ccpayment-v2", "transaction_type": "API Deposit"}}),
        ] {
            assert!(ManualResend::from_event(&bad).is_err(), "{bad}");
        }
    }
}
