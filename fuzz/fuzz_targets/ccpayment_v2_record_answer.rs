//! Any bytes as a record API's answer: parsing never panics, and a record it
//! accepts has an id and only exact decimal amounts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::ccpayment_v2::api::V2Api;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = V2Api::parse_record_answer(data) {
        assert!(!r.record_id.is_empty());
        for (_, amount) in &r.amounts {
            assert!(shared::fields::Amount::parse(amount).is_some(), "{amount}");
        }
    }
});
