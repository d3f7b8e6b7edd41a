//! Any bytes: the v2 envelope parser never panics, and what it accepts has a
//! bounded record id and a status text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::ccpayment_v2::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(Envelope::Notification(n)) = Envelope::parse(data) {
        assert!(!n.record_id.is_empty());
        assert!(n.record_id.len() <= shared::fields::MAX_ID_LEN);
        assert!(!n.status_text.is_empty());
    }
});
