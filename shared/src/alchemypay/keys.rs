//! Where an Alchemy Pay record's items live: the provider's name and its `open` queue.

pub const PROVIDER: &str = "alchemypay";

/// Partition of the `open` index for orders not final yet; no API can confirm them.
pub const ORDER_QUEUE: &str = "alchemypay#order";
