//! CCPayment v1.0 webhook notifications: signature, parsing, the receiver.

pub mod api;
pub mod credentials;
pub mod keys;
pub mod notification;
pub mod receiver;
pub mod signature;

pub use notification::{Notification, OrderType, PayStatus};
pub use receiver::{Ccpayment, CcpaymentConfig, INFO};

/// The v1.0 webhook function's receiver.
pub type CcpaymentReceiver = crate::receiver::Receiver<Ccpayment>;
pub use keys::{open_queue, resend_scope, OPEN_QUEUES, PROVIDER, RESEND_SCOPE};
pub use signature::{sign, Credentials, SecretSlot, SignatureError};
