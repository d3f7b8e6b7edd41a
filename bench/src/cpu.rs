//! CPU time of verify + parse + normalise for one typical body, no I/O: the thread's
//! own CPU clock (`/proc/thread-self/schedstat`) around a loop of prepared requests.

use std::time::{Duration, Instant};

use crate::bodies::{BodyError, Kind};
use crate::rig::Rig;

#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("the body was refused: {0:?}")]
    Refused(shared::rejection::Rejection),
    #[error("the typical body did not reach a known status")]
    NoStatus,
    #[error("cannot read the thread's CPU clock: {0}")]
    Clock(String),
}

#[derive(Debug)]
pub struct Cpu {
    pub body_bytes: usize,
    /// Median over rounds, per delivery.
    pub cpu: Duration,
    pub wall: Duration,
}

pub(crate) fn thread_cpu() -> Result<Duration, CpuError> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .map_err(|e| CpuError::Clock(e.to_string()))?;
    text.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .map(Duration::from_nanos)
        .ok_or_else(|| CpuError::Clock(format!("unexpected schedstat: {text}")))
}

pub fn measure(rig: &Rig, kind: Kind, per_round: usize, rounds: usize) -> Result<Cpu, CpuError> {
    let key = "cpu-0001";
    let body = kind.body(key)?;
    let body_bytes = body.len();
    let now = shared::clock::now_unix();
    // Refused or unconfirmed bodies would be cheap: make sure this is the full path.
    let probe = kind.request(body.clone(), now)?;
    let d = rig
        .prepare(kind, key, &probe, now)
        .map_err(CpuError::Refused)?;
    if d.status.is_none() {
        return Err(CpuError::NoStatus);
    }
    let mut cpu = Vec::with_capacity(rounds);
    let mut wall = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let reqs = (0..per_round)
            .map(|_| kind.request(body.clone(), now))
            .collect::<Result<Vec<_>, _>>()?;
        let c0 = thread_cpu()?;
        let w0 = Instant::now();
        for r in &reqs {
            let _ = std::hint::black_box(rig.prepare(kind, key, std::hint::black_box(r), now));
        }
        wall.push(w0.elapsed() / per_round as u32);
        cpu.push(thread_cpu()?.saturating_sub(c0) / per_round as u32);
    }
    cpu.sort_unstable();
    wall.sort_unstable();
    let mid = rounds / 2;
    Ok(Cpu {
        body_bytes,
        cpu: cpu.get(mid).copied().unwrap_or_default(),
        wall: wall.get(mid).copied().unwrap_or_default(),
    })
}
