//! Percentiles of measured durations.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

/// Nearest-rank percentiles; `None` for no samples.
pub fn percentiles(samples: &[Duration]) -> Option<Percentiles> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = |p: f64| {
        let n = sorted.len();
        let i = ((p * n as f64).ceil() as usize).max(1).min(n) - 1;
        sorted.get(i).copied()
    };
    Some(Percentiles {
        p50: rank(0.50)?,
        p99: rank(0.99)?,
    })
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        f64::NAN
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}
