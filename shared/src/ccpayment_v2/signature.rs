//! v2 signatures: `Sign` = lowercase hex HMAC-SHA256(key = App Secret,
//! message = Appid ‖ Timestamp ‖ raw body).
//!
//! Unlike v1 the secret is the key, not part of the message. The same scheme signs
//! our requests to CCPayment's API and its answers. The body is taken exactly as
//! received; an empty body appends nothing, which is what the vendor's SDKs do. A
//! `Sign` that is not 64 hex characters is refused before any compare: that is what
//! an account switched to RSA signatures sends, and it cannot be checked here.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::ccpayment::signature::{SignatureError, SignedHeaders, Verified};
use crate::ccpayment::Credentials as Account;
use crate::timestamp::Freshness;

fn digest(app_id: &str, secret: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return [0; 32];
    };
    mac.update(app_id.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `Sign` value for a message: lowercase hex, as CCPayment sends it.
pub fn sign(app_id: &str, secret: &str, timestamp: &str, body: &[u8]) -> String {
    hex::encode(digest(app_id, secret, timestamp, body))
}

/// Checks `Sign` over the raw body with `account`'s secrets (the caller found the
/// account by the `Appid` header). A valid signature outside the freshness window
/// is `Age::Stale`, not an error.
pub fn verify(
    headers: SignedHeaders<'_>,
    body: &[u8],
    account: &Account,
    now_unix: i64,
    freshness: Freshness,
) -> Result<Verified, SignatureError> {
    crate::ccpayment::signature::verify_with(digest, headers, body, account, now_unix, freshness)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccpayment::signature::SecretSlot;
    use crate::secret::Secret;
    use crate::timestamp::Age;
    use crate::timestamp::TimestampError;

    // The handout's self-made vectors (providers/ccpayment-v2.md §1.2), checked there
    // with Python's hmac and openssl.
    const APP_ID: &str = "202302010636261620672405236006912";
    const SECRET: &str = "example_app_secret_0123456789abcdef";
    const TS: &str = "1726717600";
    const BODY: &[u8] = br#"{"type":"ApiDeposit","msg":{"recordId":"20240919035020188328269786624000","orderId":"1726717497","coinId":2541,"coinSymbol":"POL","status":"Success","isFlaggedAsRisky":false}}"#;
    const WITH_BODY: &str = "b0e8d7b346d22efa3a8a5b339e4de78cba7d6023e43e3f641189d85e55670e62";
    const EMPTY_BODY: &str = "d3853841570a1959d6e42f181c25315a680d869fb892c4f8f7af397decd7a36e";
    const V1_OVER_SAME: &str = "e4add7ed6cb507a2532ebdba83a533ffa40734cf702708f0fb01a9e7022c2849";
    const NOW: i64 = 1_726_717_600;
    const FRESHNESS: Freshness = Freshness {
        window_secs: 300,
        horizon_secs: 90 * 86_400,
    };

    fn account() -> Account {
        Account {
            app_id: APP_ID.into(),
            secret: Secret::new(SECRET),
            previous_secret: None,
            previous_until: None,
        }
    }

    fn check(sign: &str, body: &[u8], now: i64) -> Result<Verified, SignatureError> {
        let headers = SignedHeaders {
            app_id: APP_ID,
            timestamp: TS,
            sign,
        };
        verify(headers, body, &account(), now, FRESHNESS)
    }

    #[test]
    fn the_handout_vectors() {
        assert_eq!(sign(APP_ID, SECRET, TS, BODY), WITH_BODY);
        assert_eq!(sign(APP_ID, SECRET, TS, b""), EMPTY_BODY);
        assert_eq!(
            check(WITH_BODY, BODY, NOW).map(|v| v.slot),
            Ok(SecretSlot::Current)
        );
        assert_eq!(
            check(EMPTY_BODY, b"", NOW).map(|v| v.slot),
            Ok(SecretSlot::Current)
        );
    }

    #[test]
    fn a_v1_signature_is_not_a_v2_signature() {
        assert_eq!(
            crate::ccpayment::sign(APP_ID, SECRET, TS, BODY),
            V1_OVER_SAME
        );
        assert_eq!(
            check(V1_OVER_SAME, BODY, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rsa_and_other_shapes_are_malformed() {
        let rsa = "R3l4bW9yZSBiYXNlNjQgUlNBIHNpZ25hdHVyZSBzYW1wbGUgdGV4dCBmb3IgdGVzdHM=";
        let truncated = &WITH_BODY[..63];
        let long = format!("{WITH_BODY}0");
        let non_hex = format!("{}zz", &WITH_BODY[..62]);
        for bad in ["", " ", rsa, truncated, &long, &non_hex] {
            assert_eq!(
                check(bad, BODY, NOW),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        assert!(SignatureError::Malformed.to_string().contains("64 hex"));
    }

    #[test]
    fn body_and_appid_are_bound() {
        let mut body = BODY.to_vec();
        body.push(b' ');
        assert_eq!(check(WITH_BODY, &body, NOW), Err(SignatureError::Mismatch));
        let other = SignedHeaders {
            app_id: "202302010636261620672405236006913",
            timestamp: TS,
            sign: WITH_BODY,
        };
        assert_eq!(
            verify(other, BODY, &account(), NOW, FRESHNESS),
            Err(SignatureError::AppIdMismatch)
        );
    }

    #[test]
    fn stale_is_accepted_and_beyond_the_horizon_refused() {
        let h = 90 * 86_400;
        assert_eq!(
            check(WITH_BODY, BODY, NOW + 301).map(|v| v.age),
            Ok(Age::Stale)
        );
        assert_eq!(
            check(WITH_BODY, BODY, NOW - 301).map(|v| v.age),
            Ok(Age::Stale)
        );
        assert_eq!(
            check(WITH_BODY, BODY, NOW + 300).map(|v| v.age),
            Ok(Age::Fresh)
        );
        assert_eq!(
            check(WITH_BODY, BODY, NOW + h).map(|v| v.age),
            Ok(Age::Stale)
        );
        assert_eq!(
            check(WITH_BODY, BODY, NOW + h + 1),
            Err(SignatureError::Timestamp(TimestampError::TooOld))
        );
        assert_eq!(
            check(WITH_BODY, BODY, NOW - h - 1),
            Err(SignatureError::Timestamp(TimestampError::TooFarAhead))
        );
    }

    #[test]
    fn the_previous_secret_is_accepted_during_a_rotation() {
        let mut a = account();
        a.secret = Secret::new("rotated-secret-fedcba9876543210");
        a.previous_secret = Some(Secret::new(SECRET));
        let headers = |sign| SignedHeaders {
            app_id: APP_ID,
            timestamp: TS,
            sign,
        };
        assert_eq!(
            verify(headers(WITH_BODY), BODY, &a, NOW, FRESHNESS).map(|v| v.slot),
            Ok(SecretSlot::Previous)
        );
        let fresh = sign(APP_ID, "rotated-secret-fedcba9876543210", TS, BODY);
        assert_eq!(
            verify(headers(&fresh), BODY, &a, NOW, FRESHNESS).map(|v| v.slot),
            Ok(SecretSlot::Current)
        );
        a.previous_secret = None;
        assert_eq!(
            verify(headers(WITH_BODY), BODY, &a, NOW, FRESHNESS),
            Err(SignatureError::Mismatch)
        );
    }
}
