//! v1.0 signatures: `Sign` = hex(SHA-256(AppId ‖ AppSecret ‖ Timestamp ‖ body)).
//!
//! Plain SHA-256, not HMAC, over the raw bytes as received (never a re-serialised
//! parse). The compare is constant-time and length-checked: an empty, truncated or
//! over-long `Sign` never reaches it.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::timestamp::{self, Age, Freshness, TimestampError};

pub use super::credentials::Credentials;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSlot {
    Current,
    Previous,
}

impl SecretSlot {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretSlot::Current => "current",
            SecretSlot::Previous => "previous",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("Appid does not match")]
    AppIdMismatch,
    #[error(transparent)]
    Timestamp(#[from] TimestampError),
    #[error("Sign is not 64 hex characters")]
    Malformed,
    #[error("Sign does not match")]
    Mismatch,
}

impl SignatureError {
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::AppIdMismatch => "appid_mismatch",
            SignatureError::Timestamp(TimestampError::Malformed) => "bad_timestamp",
            SignatureError::Timestamp(TimestampError::TooOld) => "expired_timestamp",
            SignatureError::Timestamp(TimestampError::TooFarAhead) => "future_timestamp",
            SignatureError::Malformed => "malformed_signature",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

fn digest(app_id: &str, secret: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(secret.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(body);
    h.finalize().into()
}

/// The `Sign` value for a message: lowercase hex, as CCPayment sends it.
pub fn sign(app_id: &str, secret: &str, timestamp: &str, body: &[u8]) -> String {
    hex::encode(digest(app_id, secret, timestamp, body))
}

/// Authentic-looking deliveries we refused (the right App ID, but a signature that
/// does not match or a timestamp beyond the horizon) are what a secret change or a
/// clock problem looks like: CCPayment logs them as failed, so their hour is asked
/// to be resent first. Both API versions.
pub fn is_loss_evidence(rejection: &crate::rejection::Rejection) -> bool {
    let evidence = [
        SignatureError::Mismatch,
        SignatureError::Timestamp(TimestampError::TooOld),
        SignatureError::Timestamp(TimestampError::TooFarAhead),
    ];
    matches!(rejection, crate::rejection::Rejection::Unauthorized { code, .. }
        if evidence.iter().any(|e| e.code() == *code))
}

/// The three signature headers of a delivery, and the account its `Appid` names;
/// both API versions read them alike.
pub fn signed_account<'r, 'a>(
    req: &'r lambda_http::Request,
    accounts: &'a super::credentials::Accounts,
) -> Result<(SignedHeaders<'r>, &'a Credentials), crate::rejection::Rejection> {
    let header =
        |name| crate::request::single_header(req, name).map_err(crate::rejection::header_rejection);
    let headers = SignedHeaders {
        app_id: header("appid")?,
        timestamp: header("timestamp")?,
        sign: header("sign")?,
    };
    let account = accounts.get(headers.app_id).ok_or_else(|| {
        crate::rejection::Rejection::unauthorized(
            SignatureError::AppIdMismatch.code(),
            "Appid does not match a configured account",
        )
    })?;
    Ok((headers, account))
}

/// The three signature headers as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub app_id: &'a str,
    pub timestamp: &'a str,
    pub sign: &'a str,
}

/// What a valid signature tells: which secret made it, and how old it claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub slot: SecretSlot,
    pub age: Age,
}

/// Checks `Sign` over the raw body. A valid signature whose timestamp is outside the
/// freshness window is `Age::Stale`, not an error (see `crate::timestamp`).
pub fn verify(
    headers: SignedHeaders<'_>,
    body: &[u8],
    creds: &Credentials,
    now_unix: i64,
    freshness: Freshness,
) -> Result<Verified, SignatureError> {
    verify_with(digest, headers, body, creds, now_unix, freshness)
}

/// The checks both API versions share, around the version's own `digest`: App ID,
/// timestamp format, a `Sign` of exactly 64 hex characters, a constant-time compare
/// with the current and the previous secret's digest, then the age.
pub(crate) fn verify_with(
    digest: fn(&str, &str, &str, &[u8]) -> [u8; 32],
    headers: SignedHeaders<'_>,
    body: &[u8],
    creds: &Credentials,
    now_unix: i64,
    freshness: Freshness,
) -> Result<Verified, SignatureError> {
    if !bool::from(headers.app_id.as_bytes().ct_eq(creds.app_id.as_bytes())) {
        return Err(SignatureError::AppIdMismatch);
    }
    let ts = headers.timestamp;
    let ts_value = timestamp::parse(ts)?;
    let mut given = [0u8; 32];
    if headers.sign.len() != 64 || hex::decode_to_slice(headers.sign, &mut given).is_err() {
        return Err(SignatureError::Malformed);
    }
    let current = digest(&creds.app_id, creds.secret.expose(), ts, body).ct_eq(&given);
    // A previous secret past its end is no secret of ours any more.
    let previous = creds.previous_at(now_unix).map_or(Choice::from(0), |p| {
        digest(&creds.app_id, p.expose(), ts, body).ct_eq(&given)
    });
    let slot = if bool::from(current) {
        SecretSlot::Current
    } else if bool::from(previous) {
        SecretSlot::Previous
    } else {
        return Err(SignatureError::Mismatch);
    };
    let age = freshness.judge(ts_value, now_unix)?;
    Ok(Verified { slot, age })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    // The self-generated vector from providers/ccpayment.md §2.1.
    const APP_ID: &str = "202302010636261620672405236006912";
    const SECRET: &str = "example_app_secret_0123456789abcdef";
    const TS: &str = "1677152490";
    const BODY: &[u8] = br#"{"pay_status":"success","order_type":"Direct Deposit","record_id":"202307191012191681607895159656448","paid_amount":"666"}"#;
    const EXPECTED: &str = "c07633985654d7844d0e0cc68d2628fe1f14ab7ee1d23d073934a1cba5b20d18";
    const NOW: i64 = 1_677_152_490;

    fn creds() -> Credentials {
        Credentials::new(APP_ID, SECRET)
    }

    const FRESHNESS: Freshness = Freshness {
        window_secs: 300,
        horizon_secs: 90 * 86_400,
    };

    fn check(sign: &str, ts: &str, app_id: &str, now: i64) -> Result<SecretSlot, SignatureError> {
        check_age(sign, ts, app_id, now).map(|v| v.slot)
    }

    fn check_age(sign: &str, ts: &str, app_id: &str, now: i64) -> Result<Verified, SignatureError> {
        verify(
            SignedHeaders {
                app_id,
                timestamp: ts,
                sign,
            },
            BODY,
            &creds(),
            now,
            FRESHNESS,
        )
    }

    #[test]
    fn documented_vector() {
        assert_eq!(sign(APP_ID, SECRET, TS, BODY), EXPECTED);
        assert_eq!(check(EXPECTED, TS, APP_ID, NOW), Ok(SecretSlot::Current));
    }

    #[test]
    fn upper_case_hex_is_the_same_digest() {
        assert_eq!(
            check(&EXPECTED.to_uppercase(), TS, APP_ID, NOW),
            Ok(SecretSlot::Current)
        );
    }

    #[test]
    fn empty_truncated_long_and_non_hex_are_malformed() {
        let truncated = &EXPECTED[..63];
        let too_long = format!("{EXPECTED}0");
        let double = format!("{EXPECTED}{EXPECTED}");
        let non_hex = format!("{}zz", &EXPECTED[..62]);
        let prefixed = format!("v1,{}", &EXPECTED[..61]);
        for bad in ["", " ", truncated, &too_long, &double, &non_hex, &prefixed] {
            assert_eq!(
                check(bad, TS, APP_ID, NOW),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn wrong_digest_of_right_length_is_a_mismatch() {
        let mut flipped = EXPECTED.to_string();
        flipped.replace_range(0..1, "d");
        assert_eq!(
            check(&flipped, TS, APP_ID, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&"0".repeat(64), TS, APP_ID, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn body_change_breaks_the_signature() {
        let mut body = BODY.to_vec();
        body.push(b' ');
        let r = verify(
            SignedHeaders {
                app_id: APP_ID,
                timestamp: TS,
                sign: EXPECTED,
            },
            &body,
            &creds(),
            NOW,
            FRESHNESS,
        );
        assert_eq!(r, Err(SignatureError::Mismatch));
    }

    #[test]
    fn wrong_appid_is_refused_before_anything_else() {
        assert_eq!(
            check(EXPECTED, TS, "202302010636261620672405236006913", NOW),
            Err(SignatureError::AppIdMismatch)
        );
        assert_eq!(
            check(EXPECTED, TS, "", NOW),
            Err(SignatureError::AppIdMismatch)
        );
        assert_eq!(
            check(EXPECTED, TS, &APP_ID.to_lowercase().replace('2', "3"), NOW),
            Err(SignatureError::AppIdMismatch)
        );
    }

    #[test]
    fn timestamps_outside_the_window_are_stale_and_beyond_the_horizon_refused() {
        let h = 90 * 86_400;
        let age = |now| check_age(EXPECTED, TS, APP_ID, now).map(|v| v.age);
        // `now` after the timestamp: the delivery is old; before it: from the future.
        assert_eq!(age(NOW + 300), Ok(Age::Fresh));
        assert_eq!(age(NOW - 300), Ok(Age::Fresh));
        assert_eq!(age(NOW + 301), Ok(Age::Stale));
        assert_eq!(age(NOW - 301), Ok(Age::Stale));
        assert_eq!(age(NOW + h), Ok(Age::Stale));
        assert_eq!(age(NOW - h), Ok(Age::Stale));
        assert_eq!(
            age(NOW + h + 1),
            Err(SignatureError::Timestamp(TimestampError::TooOld))
        );
        assert_eq!(
            age(NOW - h - 1),
            Err(SignatureError::Timestamp(TimestampError::TooFarAhead))
        );
    }

    #[test]
    fn a_stale_timestamp_never_excuses_a_bad_signature() {
        assert_eq!(
            check(&"0".repeat(64), TS, APP_ID, NOW + 3600),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&"0".repeat(64), TS, APP_ID, NOW + 365 * 86_400),
            Err(SignatureError::Mismatch),
            "the signature is judged before the age"
        );
    }

    #[test]
    fn malformed_timestamps() {
        for ts in [
            "",
            "abc",
            "-1677152490",
            "1677152490.5",
            " 1677152490",
            "1677152490000000",
        ] {
            assert_eq!(
                check(EXPECTED, ts, APP_ID, NOW),
                Err(SignatureError::Timestamp(TimestampError::Malformed)),
                "{ts:?}"
            );
        }
    }

    #[test]
    fn rotated_secret_is_accepted_until_removed() {
        let new_secret = "rotated_secret_fedcba9876543210";
        let mut c = creds();
        c.secret = Secret::new(new_secret);
        c.previous_secret = Some(Secret::new(SECRET));
        let hdr = |sign| SignedHeaders {
            app_id: APP_ID,
            timestamp: TS,
            sign,
        };
        assert_eq!(
            verify(hdr(EXPECTED), BODY, &c, NOW, FRESHNESS).map(|v| v.slot),
            Ok(SecretSlot::Previous)
        );
        let with_new = sign(APP_ID, new_secret, TS, BODY);
        assert_eq!(
            verify(hdr(&with_new), BODY, &c, NOW, FRESHNESS).map(|v| v.slot),
            Ok(SecretSlot::Current)
        );
        c.previous_until = Some(NOW + 1);
        assert_eq!(
            verify(hdr(EXPECTED), BODY, &c, NOW, FRESHNESS).map(|v| v.slot),
            Ok(SecretSlot::Previous),
            "until its end"
        );
        c.previous_until = Some(NOW);
        assert_eq!(
            verify(hdr(EXPECTED), BODY, &c, NOW, FRESHNESS),
            Err(SignatureError::Mismatch),
            "never after it"
        );
        c.previous_until = None;
        c.previous_secret = None;
        assert_eq!(
            verify(hdr(EXPECTED), BODY, &c, NOW, FRESHNESS),
            Err(SignatureError::Mismatch)
        );
    }
}
