//! CCPayment v1.0 webhook notifications: signature, parsing, the receiver.

pub mod api;
pub mod credentials;
pub mod notification;
pub mod receiver;
pub mod signature;

pub use notification::{Notification, OrderType, PayStatus};
pub use receiver::{Ccpayment, CcpaymentConfig, INFO};

/// The v1.0 webhook function's receiver.
pub type CcpaymentReceiver = crate::receiver::Receiver<Ccpayment>;
pub use signature::{sign, Credentials, SecretSlot, SignatureError};

pub const PROVIDER: &str = "ccpayment";

/// The partition of this provider's resend windows and call budget.
pub const RESEND_SCOPE: &str = "reconciler#ccpayment";

/// The `open` index queue of a record of this notification type (its canonical name).
pub fn open_queue(order_type: &str) -> String {
    format!("{PROVIDER}#{order_type}")
}
