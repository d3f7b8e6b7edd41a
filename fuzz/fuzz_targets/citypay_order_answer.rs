#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::citypay::order_api::parse_answer;

fuzz_target!(|data: &[u8]| {
    let _ = parse_answer(data, "fuzz-token", "99");
});
