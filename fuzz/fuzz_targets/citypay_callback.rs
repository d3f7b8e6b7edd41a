#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::citypay::Callback;

fuzz_target!(|data: &[u8]| {
    let _ = Callback::parse(data);
});
