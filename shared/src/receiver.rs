//! The pipeline every webhook function runs, once for all providers: pre-checks,
//! the provider's authentication and parsing, its confirmation, the durable write,
//! the answer, the log line and the metrics, then evidence of loss for the
//! reconciler.

use std::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::config::ConfigError;
use crate::intake::{self, Backend};
use crate::metrics::{Metrics, Unit};
use crate::provider::{Confirmed, Provider};
use crate::rejection::Rejection;
use crate::store::windows::Reason;
use crate::store::{Quarantined, Store};

/// What an authenticated delivery comes to.
// One per delivery, moved once.
#[allow(clippy::large_enum_variant)]
enum Kept {
    Confirmed(Confirmed),
    Quarantine(Quarantined),
}

/// One provider's receiver: answers every delivery, never fails, never panics.
#[derive(Debug, Clone)]
pub struct Receiver<P> {
    provider: P,
    backend: Backend,
}

impl<P: Provider> Receiver<P> {
    pub fn new(provider: impl Into<P>, store: Store, metrics: Metrics) -> Self {
        Self {
            provider: provider.into(),
            backend: Backend { store, metrics },
        }
    }

    /// Reads configuration and builds the clients: once per cold start.
    pub async fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            provider: P::from_env().await?,
            backend: Backend::from_env().await?,
        })
    }

    pub fn provider(&self) -> &P {
        &self.provider
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        self.handle_at(req, crate::clock::now_unix()).await
    }

    /// As `handle`, with the clock given (signed timestamps are judged against it).
    pub async fn handle_at(&self, req: Request, now_unix: i64) -> Response<Body> {
        let started = Instant::now();
        let info = P::INFO;
        let accepted = match intake::precheck(&req, self.provider.max_body_bytes()) {
            Err(r) => Err(r),
            Ok(body) => match self.provider.accept(&req, body, now_unix) {
                // Authentic but unusable: kept for a human, never refused.
                Err(Rejection::Unusable { code, reason }) => Ok(Kept::Quarantine(
                    Quarantined::new(info.name, self.provider.unusable_body(body), code, reason),
                )),
                Err(r) => Err(r),
                Ok(claim) => Ok(Kept::Confirmed(self.provider.confirm(claim, body).await)),
            },
        };
        let evidence = matches!(&accepted, Err(r) if self.provider.is_loss_evidence(r));
        let resp = match accepted {
            Ok(Kept::Quarantine(q)) => {
                self.backend
                    .quarantine(info.name, started, &q, info.success_body)
                    .await
            }
            Ok(Kept::Confirmed(c)) => {
                self.backend
                    .respond(info.name, started, Ok(c), info.success_body)
                    .await
            }
            Err(r) => {
                self.backend
                    .respond(info.name, started, Err(r), info.success_body)
                    .await
            }
        };
        if resp.status().is_server_error() {
            self.mark(&req, now_unix, Reason::Suspect).await;
        } else if evidence {
            self.mark(&req, now_unix, Reason::Unverified).await;
        }
        resp
    }

    /// Everything before the provider's API and the write, without I/O.
    pub fn prepare(&self, req: &Request, now_unix: i64) -> Result<P::Claim, Rejection> {
        let body = intake::precheck(req, self.provider.max_body_bytes())?;
        self.provider.accept(req, body, now_unix)
    }

    /// Best effort: with the database down this fails too, and the routine window
    /// for this hour still covers it. A failed signature is counted: often means
    /// someone probing with a known App ID, or a secret rotated on one side only.
    async fn mark(&self, req: &Request, now_unix: i64, reason: Reason) {
        let Some(scope) = self.provider.resend_scope(req) else {
            return;
        };
        if reason == Reason::Unverified {
            self.backend.metrics.emit(
                &[("Provider", P::INFO.name)],
                &[("UnverifiedLossEvidence", 1.0, Unit::Count)],
            );
        }
        if let Err(e) = self
            .backend
            .store
            .windows(&scope)
            .mark(now_unix, reason)
            .await
        {
            tracing::warn!(provider = P::INFO.name, error = %e, "could not mark the hour for a resend");
        }
    }
}
