//! Everything the webhook receivers and the reconciler share: signature checks,
//! provider models, the DynamoDB store, configuration, logging and metrics.
//! Each provider is one module; a function's `main.rs` only wires one of them up.

pub mod alchemypay;
pub mod ccpayment;
pub mod ccpayment_v2;
pub mod citypay;
pub mod clock;
pub mod config;
pub mod delivery_log;
pub mod fields;
pub mod hashing;
pub mod intake;
pub mod lifecycle;
pub mod logging;
pub mod lookup;
pub mod metrics;
pub mod outbound;
pub mod provider;
pub mod publish;
pub mod receiver;
pub mod reconcile;
pub mod registry;
pub mod rejection;
pub mod request;
pub mod response;
pub mod secret;
pub mod secrets;
pub mod serve;
pub mod store;
pub mod timestamp;
pub mod unresolved;
pub mod unresolved_api;
