//! Headers and body from the input: v2 verification never panics and accepts only
//! the HMAC of the account's secrets; the signed form of any input always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::ccpayment::signature::SignedHeaders;
use shared::ccpayment::Credentials;
use shared::ccpayment_v2::signature::{sign, verify};
use shared::secret::Secret;
use shared::timestamp::Freshness;

const NOW: i64 = 1_767_225_600;
const FRESHNESS: Freshness = Freshness {
    window_secs: 300,
    horizon_secs: 90 * 86_400,
};

fuzz_target!(|data: &[u8]| {
    let account = Credentials {
        app_id: "fuzz-app".into(),
        secret: Secret::new("fuzz-secret"),
        previous_secret: Some(Secret::new("fuzz-old")),
    };
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let app_id = parts.next().unwrap_or_default();
    let timestamp = parts.next().unwrap_or_default();
    let sig = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default().as_bytes();
    let headers = SignedHeaders {
        app_id,
        timestamp,
        sign: sig,
    };
    if verify(headers, body, &account, NOW, FRESHNESS).is_ok() {
        let good = sign("fuzz-app", "fuzz-secret", timestamp, body);
        let old = sign("fuzz-app", "fuzz-old", timestamp, body);
        assert!(sig.eq_ignore_ascii_case(&good) || sig.eq_ignore_ascii_case(&old));
    }
    let ts = NOW.to_string();
    let genuine = sign("fuzz-app", "fuzz-secret", &ts, body);
    let ok = SignedHeaders {
        app_id: "fuzz-app",
        timestamp: &ts,
        sign: &genuine,
    };
    assert!(verify(ok, body, &account, NOW, FRESHNESS).is_ok());
});
