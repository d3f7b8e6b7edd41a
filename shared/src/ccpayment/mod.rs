//! CCPayment v1.0 webhook notifications: signature, parsing, the receiver.

pub mod api;
pub mod notification;
pub mod receiver;
pub mod signature;

pub use notification::{Notification, OrderType, PayStatus};
pub use receiver::{CcpaymentConfig, CcpaymentReceiver};
pub use signature::{sign, Credentials, SecretSlot, SignatureError};

pub const PROVIDER: &str = "ccpayment";
