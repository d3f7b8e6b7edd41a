//! A provider as a unit: what only it knows (`Provider`), and the facts every list
//! of providers reads (`ProviderInfo`; the list is `crate::registry::ALL`). The pipeline around it (pre-checks,
//! storage, answer, log line, metrics) is `crate::receiver::Receiver`, written once.

use std::future::Future;

use lambda_http::Request;

use crate::config::ConfigError;
use crate::rejection::Rejection;
use crate::store::Delivery;

/// What the tests, the template checks, the reconciler, the dashboard and the
/// benchmark need to know of each provider. Each provider module declares its own
/// `INFO`; `crate::registry::ALL` lists them, and everything that must cover every
/// provider reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Key prefix, metric dimension `Provider`, log field, `events/<name>/`.
    pub name: &'static str,
    /// As the provider calls itself, for people: "look it up in CityPay's dashboard".
    pub title: &'static str,
    /// The package under `functions/`, which is also the binary's name.
    pub function: &'static str,
    /// The function's logical id in `template.yaml`.
    pub resource: &'static str,
    /// Its route on the HTTP API.
    pub route: &'static str,
    /// Logical ids of the secrets the function may read.
    pub secrets: &'static [&'static str],
    /// The body the provider expects once a delivery is stored.
    pub success_body: &'static str,
    /// Every `open` index queue its records can be in: the operator's list of
    /// what is unresolved walks them all.
    pub open_queues: &'static [&'static str],
    /// Those of `open_queues` that no API can confirm: what stays in them needs a
    /// human with the provider's dashboard.
    pub unconfirmable_queues: &'static [&'static str],
    /// The state attribute with the time a record's order expires, if the provider
    /// gives one.
    pub expiry: Option<Expiry>,
}

/// Where a record's expiry is kept, and in what unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub attribute: &'static str,
    pub millis_per_unit: i64,
}

/// What an authentic delivery comes to.
// One per delivery, moved once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Confirmed {
    /// Store it, then answer success.
    Store(Delivery),
    /// Nothing to store (a URL-registration ping): answer success, count it.
    Acknowledge { kind: &'static str },
}

/// What only the provider knows; everything else is `Receiver<P>`'s.
pub trait Provider: Send + Sync + Sized + 'static {
    const INFO: &'static ProviderInfo;

    /// What authentication and parsing produce, before the provider is asked anything.
    type Claim: Send;

    /// Configuration and clients, read once per cold start.
    fn from_env() -> impl Future<Output = Result<Self, ConfigError>> + Send;

    fn max_body_bytes(&self) -> usize;

    /// Authenticates the delivery on its raw bytes and parses it. No I/O: this is
    /// the CPU a delivery costs before its write.
    fn accept(&self, req: &Request, body: &[u8], now_unix: i64) -> Result<Self::Claim, Rejection>;

    /// What to do with an authentic delivery: usually a `Delivery` to store. A
    /// provider whose webhook is only a claim asks its own API here; a failure to
    /// confirm is stored as unconfirmed, never refused.
    fn confirm(&self, claim: Self::Claim, raw: &[u8]) -> impl Future<Output = Confirmed> + Send;

    /// The copy to keep of an authentic body we cannot use. Its text (hex when not
    /// UTF-8); a provider whose bodies can hold card numbers masks them here, since
    /// no parser could find their fields.
    fn unusable_body(&self, raw: &[u8]) -> String {
        crate::store::text_or_hex(raw)
    }

    /// A refusal that looks like an authentic delivery lost (a rotated secret, a
    /// clock problem): its hour is asked to be resent first.
    fn is_loss_evidence(&self, _rejection: &Rejection) -> bool {
        false
    }

    /// Where resend windows of the account that sent `req` are kept, for a provider
    /// that can be asked to resend.
    fn resend_scope(&self, _req: &Request) -> Option<String> {
        None
    }
}
