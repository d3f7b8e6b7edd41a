//! `doctor --stack NAME`: checks a deployed stack, read-only. Every probe is one
//! the functions refuse or answer without storing (an unsigned body, a wrong path
//! token, CCPayment v2's activation ping, a lookup of a random reference), so a
//! doctor run leaves the table as it found it.

mod check;
mod checks;

pub use check::Check;

use serde::Serialize;

use crate::clients::Clients;
use crate::deployment::Deployment;
use crate::error::OpsError;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub stack: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }

    pub fn passed(&self) -> bool {
        self.failed() == 0
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// One line per check; a failed one says what to do on the next line.
    pub fn render(&self) -> String {
        let mut out = format!("stack {}\n", self.stack);
        for c in &self.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            out.push_str(&format!("{mark} {:28} {}\n", c.name, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("     {:28} -> {fix}\n", ""));
            }
        }
        out.push_str(&format!(
            "{} check(s), {} failed\n",
            self.checks.len(),
            self.failed()
        ));
        out
    }
}

/// Every check, in the order a first deploy meets them.
pub async fn run(aws: &Clients, d: &Deployment) -> Result<Report, OpsError> {
    let Some(stack) = d.stack.clone() else {
        return Err(OpsError::CannotRun(
            "doctor checks a deployed stack: give --stack NAME".into(),
        ));
    };
    let probe = checks::Probe::new(aws, d)?;
    let mut out = vec![checks::outputs(d)];
    out.extend(probe.secrets().await);
    out.extend(probe.routes().await);
    out.push(probe.v2_ping().await);
    out.push(probe.lookup().await);
    out.push(probe.unresolved_list().await);
    out.push(probe.stream_mapping().await);
    out.push(probe.alarm_subscription().await);
    out.push(probe.bus_rules().await);
    out.push(probe.reconciler_ran().await);
    Ok(Report { stack, checks: out })
}
