//! Reading attributes off an item, and the one mapping of an SDK failure to
//! `StoreError`.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use super::error::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub(crate) fn dynamo(e: impl std::error::Error) -> StoreError {
    StoreError::Dynamo(DisplayErrorContext(&e).to_string())
}

/// Typed reads that never fail: a missing or differently typed attribute is `None`.
pub trait AttrExt {
    fn text(&self, name: &str) -> Option<&str>;
    fn int(&self, name: &str) -> Option<i64>;
    fn flag(&self, name: &str) -> bool;
}

impl AttrExt for Item {
    fn text(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_s().ok().map(String::as_str)
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.get(name)?.as_n().ok()?.parse().ok()
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_typed_and_total() {
        let item: Item = HashMap::from([
            ("a".to_string(), AttributeValue::S("x".into())),
            ("n".to_string(), AttributeValue::N("42".into())),
            ("b".to_string(), AttributeValue::Bool(true)),
        ]);
        assert_eq!(item.text("a"), Some("x"));
        assert_eq!(item.int("n"), Some(42));
        assert!(item.flag("b"));
        assert_eq!(item.text("n"), None);
        assert_eq!(item.int("a"), None);
        assert!(!item.flag("missing"));
    }
}
