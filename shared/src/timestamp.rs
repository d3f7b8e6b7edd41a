//! The `Timestamp` of a signed delivery: how old it may be.
//!
//! Nobody documents whether a provider re-signs its retries and resends. If it does
//! not, a strict freshness window refuses every retry after a few minutes and every
//! resend, and the payment is lost. A replay of an authentic notification is
//! harmless here (idempotent key, status never regresses), so a valid signature
//! with a timestamp outside the freshness window is accepted as `Stale`: stored,
//! flagged and counted. Only a timestamp beyond the dedupe horizon, on either side,
//! is refused: past it the event item has expired and a replay would be stored as
//! new.

/// How a signed timestamp is judged; both bounds inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// Within this many seconds of our clock, either way, a timestamp is fresh.
    pub window_secs: u64,
    /// Beyond this many seconds, either way, it is refused.
    pub horizon_secs: u64,
}

impl Freshness {
    /// For answers to our own requests: anything outside the window is refused.
    pub fn strict(window_secs: u64) -> Self {
        Self {
            window_secs,
            horizon_secs: window_secs,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    Fresh,
    /// Outside the window, inside the horizon: accepted and flagged.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("Timestamp is not Unix seconds")]
    Malformed,
    #[error("Timestamp is older than the dedupe horizon")]
    TooOld,
    #[error("Timestamp is further in the future than the dedupe horizon")]
    TooFarAhead,
}

/// Unix seconds from the header: 10-ish digits are seconds; exactly 13 digits are
/// milliseconds, which one of the provider's own documents claims it sends.
pub fn parse(text: &str) -> Result<i64, TimestampError> {
    if text.is_empty() || text.len() > 13 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimestampError::Malformed);
    }
    let value: i64 = text.parse().map_err(|_| TimestampError::Malformed)?;
    Ok(if text.len() == 13 {
        value / 1000
    } else {
        value
    })
}

impl Freshness {
    /// The window from `window_var` (default 300 s), the horizon from `EVENT_TTL_DAYS`;
    /// a window wider than the horizon is refused.
    pub fn from_env(window_var: &'static str) -> Result<Self, crate::config::ConfigError> {
        let f = Self {
            window_secs: crate::config::parse_or(window_var, 300u64)?,
            horizon_secs: u64::from(crate::config::event_ttl_days()?) * 86_400,
        };
        if f.window_secs > f.horizon_secs {
            return Err(crate::config::ConfigError::Invalid {
                name: window_var,
                reason: "must not exceed the dedupe horizon (EVENT_TTL_DAYS)".into(),
            });
        }
        Ok(f)
    }

    pub fn judge(&self, timestamp: i64, now_unix: i64) -> Result<Age, TimestampError> {
        let off = timestamp.abs_diff(now_unix);
        if off > self.horizon_secs {
            return Err(if timestamp < now_unix {
                TimestampError::TooOld
            } else {
                TimestampError::TooFarAhead
            });
        }
        Ok(if off > self.window_secs {
            Age::Stale
        } else {
            Age::Fresh
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600;
    const F: Freshness = Freshness {
        window_secs: 300,
        horizon_secs: 90 * 86_400,
    };

    #[test]
    fn both_sides_of_every_bound() {
        let h = 90 * 86_400;
        let cases = [
            (NOW, Ok(Age::Fresh)),
            (NOW - 300, Ok(Age::Fresh)),
            (NOW + 300, Ok(Age::Fresh)),
            (NOW - 301, Ok(Age::Stale)),
            (NOW + 301, Ok(Age::Stale)),
            (NOW - h, Ok(Age::Stale)),
            (NOW + h, Ok(Age::Stale)),
            (NOW - h - 1, Err(TimestampError::TooOld)),
            (NOW + h + 1, Err(TimestampError::TooFarAhead)),
        ];
        for (ts, expected) in cases {
            assert_eq!(F.judge(ts, NOW), expected, "{}", ts - NOW);
        }
    }

    #[test]
    fn strict_refuses_outside_the_window() {
        let f = Freshness::strict(300);
        assert_eq!(f.judge(NOW - 300, NOW), Ok(Age::Fresh));
        assert_eq!(f.judge(NOW - 301, NOW), Err(TimestampError::TooOld));
        assert_eq!(f.judge(NOW + 301, NOW), Err(TimestampError::TooFarAhead));
    }

    #[test]
    fn seconds_and_milliseconds() {
        assert_eq!(parse("1767225600"), Ok(NOW));
        assert_eq!(parse("1767225600999"), Ok(NOW));
        assert_eq!(parse("0"), Ok(0));
        for bad in [
            "",
            "abc",
            "-1767225600",
            "1767225600.5",
            " 1767225600",
            "17672256009999",
            "+1767225600",
        ] {
            assert_eq!(parse(bad), Err(TimestampError::Malformed), "{bad:?}");
        }
    }
}
