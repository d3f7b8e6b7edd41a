//! Any bytes: parsing never panics; every accessor answers or errs; a rewrite with
//! nothing replaced is a JSON object with the same keys in the same order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::fields::Fields;

fuzz_target!(|data: &[u8]| {
    let Ok(f) = Fields::parse(data) else { return };
    let keys: Vec<String> = f.keys().map(str::to_string).collect();
    for k in &keys {
        let _ = f.text(k);
        let _ = f.id(k);
        let _ = f.amount(k);
        let _ = f.bool(k);
        let _ = f.object(k);
        let _ = f.string_value(k);
    }
    let rewritten = f.rewrite(&|_| None);
    // Re-read with the same raw parser: numbers beyond f64 (kept exactly as text)
    // are valid JSON that `serde_json::Value` would refuse.
    let again = Fields::parse(rewritten.as_bytes()).expect("a rewrite is a JSON object");
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        keys.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let _ = shared::hashing::content_sha256_hex(data);
});
