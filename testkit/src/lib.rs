//! Loopback fakes of the provider APIs we cannot reach from here. Each models the
//! documented request and answer shapes; none is used in production.

// `serde_json::Value` indexing yields `Null` for a missing key: it cannot panic.
#![allow(clippy::indexing_slicing)]

pub mod bus;
pub mod calls;
pub mod ccpayment;
pub mod ccpayment_v2;
pub mod citypay;
pub mod contracts;
pub mod secretsmanager;
pub mod stream;
