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

/// The partition of the first account's resend windows and call budget: the one a
/// single-account deployment has always used, so an upgrade strands no open window.
pub const RESEND_SCOPE: &str = "reconciler#ccpayment";

/// The partition of one account's resend windows and call budget.
pub fn resend_scope(accounts: &credentials::Accounts, app_id: &str) -> String {
    if accounts
        .iter()
        .next()
        .is_some_and(|first| first.app_id == app_id)
    {
        RESEND_SCOPE.to_string()
    } else {
        format!("{RESEND_SCOPE}#{}", crate::store::schema::key_part(app_id))
    }
}

/// The `open` index queue of a record of this notification type (its canonical name).
pub fn open_queue(order_type: &str) -> String {
    format!("{PROVIDER}#{order_type}")
}
