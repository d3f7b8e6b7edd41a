//! CityPay.io order and deposit callbacks. Unsigned: the path token authenticates
//! the caller, and an order's status is taken from CityPay's order API, never from
//! the callback body.

pub mod callback;
pub mod history;
mod http;
pub mod keys;
pub mod order_api;
pub mod receiver;
pub mod status;
pub mod sweep;

pub use callback::{Callback, DepositCallback, OrderCallback};
pub use history::{HistoryApi, HistoryError, HistoryItem, HistoryPage, JwtHeader};
pub use keys::{
    deposit_record_key, order_record_key, order_token_of, DEPOSIT_QUEUE, ORDER_QUEUE, PROVIDER,
};
pub use order_api::{ConfirmError, ConfirmedOrder, OrderApi};
pub use receiver::{Citypay, CitypayConfig, INFO};

/// The callback function's receiver.
pub type CitypayReceiver = crate::receiver::Receiver<Citypay>;
pub use status::{DepositStatus, OrderStatus};
