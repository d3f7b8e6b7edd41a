//! Loopback fakes of the provider APIs we cannot reach from here. Each models the
//! documented request and answer shapes; none is used in production.

pub mod ccpayment;
pub mod citypay;
