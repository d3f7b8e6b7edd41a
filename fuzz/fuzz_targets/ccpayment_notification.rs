#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::ccpayment::Notification;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = Notification::parse(data) {
        assert!(!n.record_id.is_empty());
        assert!(n.record_id.len() <= shared::fields::MAX_ID_LEN);
    }
});
