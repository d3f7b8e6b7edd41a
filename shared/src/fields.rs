//! Typed access to the top-level fields of a JSON object, keeping each value's
//! exact source text.
//!
//! Provider bodies mix strings and numbers for the same field, use `""` for absent
//! values and carry ids longer than any float. Reading through `RawValue` keeps a
//! number's digits exactly as sent (no `f64` on the way), and a duplicated key is
//! refused instead of silently taking the last value.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    #[error("body is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("field `{field}` must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("field `{field}` is not a decimal amount")]
    BadAmount { field: String },
    #[error("field `{field}` is missing")]
    Missing { field: String },
    #[error("field `{field}` is too long")]
    TooLong { field: String },
}

/// Longest identifier accepted; keeps keys far below DynamoDB's key size limits.
pub const MAX_ID_LEN: usize = 256;

/// No provider nests deeper than a few levels; deeper bodies are refused before
/// any parser recursion sees them.
pub const MAX_DEPTH: usize = 32;

/// Deepest array/object nesting, ignoring brackets inside strings.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
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
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[derive(Debug)]
pub struct Fields<'a> {
    entries: Vec<(String, &'a RawValue)>,
}

/// A decimal amount as sent, validated. `value` is `None` only when the number is
/// well-formed but wider than `Decimal`'s 28 digits; the text is still exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    pub text: String,
    pub value: Option<Decimal>,
}

impl Amount {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.contains(['e', 'E']) {
            let value = Decimal::from_scientific(text).ok()?;
            return Some(Self {
                text: value.to_string(),
                value: Some(value),
            });
        }
        if !is_plain_decimal(text) {
            return None;
        }
        Some(Self {
            text: text.to_string(),
            value: Decimal::from_str_exact(text).ok(),
        })
    }
}

fn is_plain_decimal(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

enum Kind {
    String,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

fn kind(raw: &RawValue) -> Kind {
    match raw.get().as_bytes().first() {
        Some(b'"') => Kind::String,
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') => Kind::Null,
        _ => Kind::Number,
    }
}

fn decode_string(raw: &RawValue, field: &str) -> Result<String, FieldError> {
    serde_json::from_str::<String>(raw.get()).map_err(|_| FieldError::WrongType {
        field: field.to_string(),
        expected: "a string",
    })
}

impl<'a> Fields<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, FieldError> {
        if nesting_depth(body) > MAX_DEPTH {
            return Err(FieldError::NotAnObject(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        serde_json::from_slice::<Fields<'a>>(body)
            .map_err(|e| FieldError::NotAnObject(short_reason(&e)))
    }

    fn parse_str(text: &'a str, field: &str) -> Result<Self, FieldError> {
        serde_json::from_str::<Fields<'a>>(text).map_err(|_| FieldError::WrongType {
            field: field.to_string(),
            expected: "a JSON object",
        })
    }

    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Re-emits the object with some top-level values replaced by strings, every
    /// other value byte for byte as received.
    pub fn rewrite(&self, replace: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        for (i, (key, raw)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::from(key.as_str()).to_string());
            out.push(':');
            match replace(key) {
                Some(v) => out.push_str(&serde_json::Value::from(v).to_string()),
                None => out.push_str(raw.get()),
            }
        }
        out.push('}');
        out
    }

    /// A string or a number, as text; `""` and `null` are absent.
    pub fn text(&self, name: &str) -> Result<Option<String>, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match kind(raw) {
            Kind::Null => Ok(None),
            Kind::String => {
                let s = decode_string(raw, name)?;
                Ok((!s.is_empty()).then_some(s))
            }
            Kind::Number => Ok(Some(raw.get().to_string())),
            _ => Err(FieldError::WrongType {
                field: name.to_string(),
                expected: "a string or a number",
            }),
        }
    }

    /// An identifier: a non-empty string, or an integer written as a number.
    pub fn id(&self, name: &str) -> Result<Option<String>, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let value = match kind(raw) {
            Kind::Null => return Ok(None),
            Kind::String => decode_string(raw, name)?.trim().to_string(),
            Kind::Number if raw.get().bytes().all(|b| b.is_ascii_digit()) => raw.get().to_string(),
            _ => {
                return Err(FieldError::WrongType {
                    field: name.to_string(),
                    expected: "a string or an integer",
                })
            }
        };
        if value.len() > MAX_ID_LEN {
            return Err(FieldError::TooLong {
                field: name.to_string(),
            });
        }
        Ok((!value.is_empty()).then_some(value))
    }

    pub fn required_id(&self, name: &str) -> Result<String, FieldError> {
        self.id(name)?.ok_or_else(|| FieldError::Missing {
            field: name.to_string(),
        })
    }

    pub fn amount(&self, name: &str) -> Result<Option<Amount>, FieldError> {
        match self.text(name)? {
            None => Ok(None),
            Some(t) => Amount::parse(&t).map(Some).ok_or(FieldError::BadAmount {
                field: name.to_string(),
            }),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match raw.get() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "null" => Ok(None),
            _ => match self.text(name) {
                Ok(Some(t)) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
                Ok(Some(t)) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
                Ok(None) => Ok(None),
                _ => Err(FieldError::WrongType {
                    field: name.to_string(),
                    expected: "a boolean",
                }),
            },
        }
    }

    /// A nested object; `""` and `null` are absent.
    pub fn object(&self, name: &str) -> Result<Option<Fields<'a>>, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        match kind(raw) {
            Kind::Null => Ok(None),
            Kind::Object => Fields::parse_str(raw.get(), name).map(Some),
            Kind::String if raw.get() == "\"\"" => Ok(None),
            _ => Err(FieldError::WrongType {
                field: name.to_string(),
                expected: "an object",
            }),
        }
    }

    /// An array of objects; absent or `null` is empty.
    pub fn objects(&self, name: &str) -> Result<Vec<Fields<'a>>, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(Vec::new());
        };
        let wrong = || FieldError::WrongType {
            field: name.to_string(),
            expected: "an array of objects",
        };
        match kind(raw) {
            Kind::Null => Ok(Vec::new()),
            Kind::Array => {
                let items: Vec<&'a RawValue> =
                    serde_json::from_str(raw.get()).map_err(|_| wrong())?;
                items
                    .into_iter()
                    .map(|item| match kind(item) {
                        Kind::Object => Fields::parse_str(item.get(), name),
                        _ => Err(wrong()),
                    })
                    .collect()
            }
            _ => Err(wrong()),
        }
    }

    /// The decoded text of a string field, for callers that parse it further.
    pub fn string_value(&self, name: &str) -> Result<Option<String>, FieldError> {
        match self.get(name) {
            Some(raw) if matches!(kind(raw), Kind::String) => decode_string(raw, name).map(Some),
            _ => Ok(None),
        }
    }

    pub fn is_array(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|r| matches!(kind(r), Kind::Array))
    }
}

fn short_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "truncated JSON".to_string(),
        Category::Syntax => format!("invalid JSON at line {} column {}", e.line(), e.column()),
        Category::Data => {
            let msg = e.to_string();
            if msg.starts_with("duplicate key") {
                msg.split(" at line")
                    .next()
                    .unwrap_or("duplicate key")
                    .to_string()
            } else {
                "expected a JSON object".to_string()
            }
        }
        Category::Io => "unreadable body".to_string(),
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        let shown: String = key.chars().take(40).collect();
                        return Err(de::Error::custom(format!("duplicate key `{shown}`")));
                    }
                    entries.push((key, value));
                }
                Ok(Fields { entries })
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_numbers_and_empty() {
        let f = Fields::parse(br#"{"a":"x","b":12,"c":"","d":null,"e":1.50}"#).unwrap();
        assert_eq!(f.text("a").unwrap().as_deref(), Some("x"));
        assert_eq!(f.text("b").unwrap().as_deref(), Some("12"));
        assert_eq!(f.text("c").unwrap(), None);
        assert_eq!(f.text("d").unwrap(), None);
        assert_eq!(f.text("zz").unwrap(), None);
        assert_eq!(f.amount("e").unwrap().unwrap().text, "1.50");
    }

    #[test]
    fn long_integer_ids_keep_every_digit() {
        let f = Fields::parse(br#"{"id":202302201213531627642695975706624}"#).unwrap();
        assert_eq!(
            f.id("id").unwrap().as_deref(),
            Some("202302201213531627642695975706624")
        );
    }

    #[test]
    fn ids_refuse_floats_objects_and_huge_values() {
        let f = Fields::parse(br#"{"a":1.5,"b":{},"c":true}"#).unwrap();
        assert!(f.id("a").is_err());
        assert!(f.id("b").is_err());
        assert!(f.id("c").is_err());
        let long = format!(r#"{{"id":"{}"}}"#, "9".repeat(MAX_ID_LEN + 1));
        let f = Fields::parse(long.as_bytes()).unwrap();
        assert_eq!(f.id("id"), Err(FieldError::TooLong { field: "id".into() }));
    }

    #[test]
    fn amounts_are_exact_and_validated() {
        let f = Fields::parse(
            br#"{"a":"0.279173646007816863","b":"abc","c":"1e3","d":"123456789012345678901.123456789012345678","e":[1]}"#,
        )
        .unwrap();
        let a = f.amount("a").unwrap().unwrap();
        assert_eq!(a.value.unwrap().to_string(), "0.279173646007816863");
        assert!(f.amount("b").is_err());
        assert_eq!(
            f.amount("c").unwrap().unwrap().value.unwrap(),
            Decimal::from(1000)
        );
        let wide = f.amount("d").unwrap().unwrap();
        assert_eq!(wide.text, "123456789012345678901.123456789012345678");
        assert_eq!(wide.value, None);
        assert!(f.amount("e").is_err());
    }

    #[test]
    fn plain_decimal_grammar() {
        for ok in ["0", "10", "-1.5", "0.000000000000000001"] {
            assert!(is_plain_decimal(ok), "{ok}");
        }
        for bad in [
            "", "-", ".5", "5.", "1.2.3", "+1", "1,5", " 1", "0x10", "NaN",
        ] {
            assert!(!is_plain_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = Fields::parse(br#"{"a":"1","a":"2"}"#).unwrap_err();
        assert_eq!(err, FieldError::NotAnObject("duplicate key `a`".into()));
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"12",
            b"",
            b"{",
            b"{\"a\":}",
            b"\xff\xfe",
            b"null",
        ] {
            assert!(Fields::parse(body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(40_000), "]".repeat(40_000));
        let err = Fields::parse(deep.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            FieldError::NotAnObject("nesting deeper than 32 levels".into())
        );
        let brackets_in_string = format!(r#"{{"a":"{}"}}"#, "[".repeat(100));
        assert!(Fields::parse(brackets_in_string.as_bytes()).is_ok());
        let ok = format!(r#"{{"a":{}{}}}"#, "[".repeat(31), "]".repeat(31));
        assert!(Fields::parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn nested_objects() {
        let f =
            Fields::parse(br#"{"extend":{"merchant_order_id":"m1"},"s":"","n":null,"x":"str"}"#)
                .unwrap();
        let e = f.object("extend").unwrap().unwrap();
        assert_eq!(e.id("merchant_order_id").unwrap().as_deref(), Some("m1"));
        assert!(f.object("s").unwrap().is_none());
        assert!(f.object("n").unwrap().is_none());
        assert!(f.object("x").is_err());
    }

    #[test]
    fn booleans() {
        let f = Fields::parse(br#"{"a":false,"b":"true","c":3}"#).unwrap();
        assert_eq!(f.bool("a").unwrap(), Some(false));
        assert_eq!(f.bool("b").unwrap(), Some(true));
        assert!(f.bool("c").is_err());
    }
}
