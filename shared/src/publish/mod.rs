//! Events out: the table's stream, filtered to payment changes, onto an
//! EventBridge bus. The payment item is written in the same transaction as the
//! notification, so the stream is a transactional outbox: a change is published
//! if and only if it was stored.

pub mod error;
pub mod event;
pub mod handler;
pub mod ordered;
pub mod replay;

pub use error::PublishError;
pub use event::{decide, Decision, PaymentEvent};
pub use handler::{Outcome, Publisher};
pub use ordered::OrderedQueue;
