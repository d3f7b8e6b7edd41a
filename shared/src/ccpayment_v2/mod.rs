//! CCPayment API v2: HMAC-signed webhooks that carry ids and a status, record APIs
//! that hold the money facts, a resend API by record ids or window, and list APIs
//! for sweeps. An account is bound to one API version, so v1 and v2 are two
//! providers; they share the credential format and the signature headers.

pub mod api;
pub mod keys;
pub mod notification;
pub mod receiver;
pub mod signature;
pub mod sweep;
pub mod view;

pub use keys::{open_queue, resend_scope, OPEN_QUEUES, PROVIDER};
pub use notification::{Envelope, Notification, NotificationType, Status};
pub use receiver::{CcpaymentV2, CcpaymentV2Config, INFO};

/// The v2 webhook function's receiver.
pub type CcpaymentV2Receiver = crate::receiver::Receiver<CcpaymentV2>;
pub use view::{confirmed_status, payment_view, reconciled_update, RISKY_HELD};
