//! Where a CityPay record's items live: the provider's name, its `open` queues and
//! the record keys of orders and deposits.

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
