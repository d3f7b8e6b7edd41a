//! Body fingerprints.
//!
//! `body_sha256` is over the exact bytes received. `content_sha256` ignores JSON
//! whitespace outside strings, so a provider that re-sends the same notification
//! pretty-printed differently is recognised as a duplicate rather than a conflict,
//! while any change to a key, a string or a number's text is still a conflict.

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn content_sha256_hex(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b' ' | b'\t' | b'\n' | b'\r' => {
                hasher.update(bytes.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    hasher.update(bytes.get(start..).unwrap_or_default());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_hash_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn content_hash_ignores_whitespace_between_tokens() {
        let a = br#"{"a":"x y","b":1}"#;
        let b = b"{ \"a\" : \"x y\",\n\t\"b\" : 1 }\r\n";
        assert_eq!(content_sha256_hex(a), content_sha256_hex(b));
        assert_ne!(sha256_hex(a), sha256_hex(b));
    }

    #[test]
    fn content_hash_keeps_whitespace_inside_strings() {
        let a = br#"{"a":"x y"}"#;
        let b = br#"{"a":"xy"}"#;
        assert_ne!(content_sha256_hex(a), content_sha256_hex(b));
    }

    #[test]
    fn content_hash_handles_escaped_quotes() {
        let a = br#"{"a":"q\" x"}"#;
        let b = br#"{"a":"q\"x"}"#;
        assert_ne!(content_sha256_hex(a), content_sha256_hex(b));
    }

    #[test]
    fn content_hash_sees_number_changes() {
        assert_ne!(
            content_sha256_hex(br#"{"n":1.0}"#),
            content_sha256_hex(br#"{"n":1.00}"#)
        );
    }
}
