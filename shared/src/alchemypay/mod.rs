//! Alchemy Pay card-issuing order webhooks. Unsigned: the only credential is the
//! secret path token we register with Alchemy Pay (and an optional IP allow-list).

pub mod keys;
pub mod notification;
pub mod receiver;
pub mod redact;

pub use keys::{ORDER_QUEUE, PROVIDER};
pub use notification::{CardOrder, OrderStatus};
pub use receiver::{Alchemypay, AlchemypayConfig, INFO};

/// The card-order webhook function's receiver.
pub type AlchemypayReceiver = crate::receiver::Receiver<Alchemypay>;
