//! Alchemy Pay card-issuing order webhooks. Unsigned: the only credential is the
//! secret path token we register with Alchemy Pay (and an optional IP allow-list).

pub mod notification;
pub mod receiver;
pub mod redact;

pub use notification::{CardOrder, OrderStatus};
pub use receiver::{AlchemypayConfig, AlchemypayReceiver};

pub const PROVIDER: &str = "alchemypay";
