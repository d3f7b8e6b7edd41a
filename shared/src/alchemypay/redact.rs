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

/// Every number shaped like a card number masked to its first 6 and last 4 digits,
/// everything else as it is; for a body no parser could read. Shaped like one: 13
/// to 19 digits passing Luhn's check (as every card number does), written either
/// without a break or in groups split by single spaces or dashes.
pub fn mask_card_numbers(text: &str) -> String {
    // Masking part of a long group can leave a shorter one shaped like a card
    // number: masked again until nothing changes (each round only masks digits).
    let mut current = text.to_string();
    loop {
        let next = mask_once(&current);
        if next == current {
            return next;
        }
        current = next;
    }
}

fn mask_once(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let is_digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut mask = |positions: &[usize]| {
        let n = positions.len();
        let digits = positions.iter().filter_map(|p| chars.get(*p));
        if (13..=19).contains(&n) && luhn(digits) {
            for p in positions.iter().skip(6).take(n - 10) {
                if let Some(c) = out.get_mut(*p) {
                    *c = '*';
                }
            }
        }
    };
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(i) {
            i += 1;
            continue;
        }
        // A group: digits, with single separators between them.
        let mut group = Vec::new();
        let mut run = Vec::new();
        let mut j = i;
        while j < chars.len() {
            if is_digit(j) {
                group.push(j);
                run.push(j);
            } else if matches!(chars.get(j), Some(' ' | '-'))
                && is_digit(j + 1)
                && is_digit(j.wrapping_sub(1))
            {
                // Each unbroken run inside the group is judged too.
                mask(&run);
                run.clear();
            } else {
                break;
            }
            j += 1;
        }
        mask(&run);
        mask(&group);
        i = j;
    }
    out.into_iter().collect()
}

fn luhn<'a>(digits: impl DoubleEndedIterator<Item = &'a char>) -> bool {
    let mut sum = 0;
    for (i, c) in digits.rev().enumerate() {
        let d = c.to_digit(10).unwrap_or(0);
        sum += match (i % 2 == 1, d * 2) {
            (true, x) if x > 9 => x - 9,
            (true, x) => x,
            (false, _) => d,
        };
    }
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_shaped_numbers_are_masked_wherever_they_are() {
        assert_eq!(
            mask_card_numbers(r#"{"cardNumber":4111111111111111,"x":"4111 1111 1111 1111"}"#),
            r#"{"cardNumber":411111******1111,"x":"4111 11** **** 1111"}"#
        );
        // An order number (21 digits), a short id and a 16-digit number failing
        // Luhn's check stay.
        let kept = r#"{"orderNo":"100217231874691123456","id":12345,"n":"4111111111111112"}"#;
        assert_eq!(mask_card_numbers(kept), kept);
        assert_eq!(
            mask_card_numbers("not json 5555555555554444 {"),
            "not json 555555******4444 {"
        );
        // A card number followed by more digits after a dash is still found.
        assert_eq!(
            mask_card_numbers("4111111111111111-12"),
            "411111******1111-12"
        );
        // What masking part of a long group leaves is judged again (found by the
        // fuzz target): masking is stable.
        let long = "2023090106980 301606980 301";
        let once = mask_card_numbers(long);
        assert_eq!(mask_card_numbers(&once), once);
    }

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
