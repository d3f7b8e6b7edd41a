//! CityPay.io order and deposit callbacks. Unsigned: the path token authenticates
//! the caller, and an order's status is taken from CityPay's order API, never from
//! the callback body.

pub mod callback;
pub mod history;
mod http;
pub mod order_api;
pub mod receiver;
pub mod status;
pub mod sweep;

pub use callback::{Callback, DepositCallback, OrderCallback};
pub use history::{HistoryApi, HistoryError, HistoryItem, HistoryPage, JwtHeader};
pub use order_api::{ConfirmError, ConfirmedOrder, OrderApi};
pub use receiver::{Citypay, CitypayConfig, INFO};

/// The callback function's receiver.
pub type CitypayReceiver = crate::receiver::Receiver<Citypay>;
pub use status::{DepositStatus, OrderStatus};

pub const PROVIDER: &str = "citypay";

/// Partitions of the `open` index: orders the reconciler re-checks with the order
/// API, and deposits, which no API can confirm.
pub const ORDER_QUEUE: &str = "citypay#order";
pub const DEPOSIT_QUEUE: &str = "citypay#deposit";

const ORDER_PREFIX: &str = "order:";

/// The record key of an order or a deposit: they share the provider's namespace.
pub fn order_record_key(order_token: &str) -> String {
    format!("{ORDER_PREFIX}{order_token}")
}

/// The order token back from an order's record key; `None` for a deposit.
pub fn order_token_of(record_key: &str) -> Option<&str> {
    record_key.strip_prefix(ORDER_PREFIX)
}

pub fn deposit_record_key(transaction_id: &str) -> String {
    format!("deposit:{transaction_id}")
}
