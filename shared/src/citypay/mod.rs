//! CityPay.io order and deposit callbacks. Unsigned: the path token authenticates
//! the caller, and an order's status is taken from CityPay's order API, never from
//! the callback body.

pub mod callback;
pub mod order_api;
pub mod receiver;
pub mod status;

pub use callback::{Callback, DepositCallback, OrderCallback};
pub use order_api::{ConfirmError, ConfirmedOrder, OrderApi};
pub use receiver::{CitypayConfig, CitypayReceiver};
pub use status::{DepositStatus, OrderStatus};

pub const PROVIDER: &str = "citypay";
