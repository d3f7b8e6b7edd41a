//! Card numbers never leave the receiver in full: the stored body and every item
//! attribute carry at most the first 6 and last 4 digits.

/// Fields that hold a full card number (PAN) in Alchemy Pay bodies.
pub const PAN_FIELDS: &[&str] = &["cardNumber", "number", "cardNo"];

/// First 6 + last 4 of a PAN-length number, stars between; shorter values keep at
/// most their last 4 characters.
pub fn mask_pan(pan: &str) -> String {
    let chars: Vec<char> = pan
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let n = chars.len();
    let tail: String = chars.iter().skip(n.saturating_sub(4)).collect();
    if n >= 13 {
        let head: String = chars.iter().take(6).collect();
        format!("{head}{}{tail}", "*".repeat(n - 10))
    } else if n > 4 {
        format!("{}{tail}", "*".repeat(n - 4))
    } else {
        "*".repeat(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_at_most_six_and_four() {
        assert_eq!(mask_pan("5554748800912345"), "555474******2345");
        assert_eq!(mask_pan("5554 7488 0091 2345"), "555474******2345");
        assert_eq!(mask_pan("4111111111111111111"), "411111*********1111");
        assert_eq!(mask_pan("123456789"), "*****6789");
        assert_eq!(mask_pan("1234"), "****");
        assert_eq!(mask_pan(""), "");
        assert_eq!(
            mask_pan("555474******2345"),
            "555474******2345",
            "already masked stays masked"
        );
    }
}
