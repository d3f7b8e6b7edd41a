//! Placeholder bookkeeping for DynamoDB expressions. Every attribute name goes
//! through a placeholder, so reserved words (`status`, `provider`...) and
//! provider-chosen status names are always safe.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Debug, Default)]
pub struct Expr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub fn name(&mut self, attribute: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attribute) {
            return k.clone();
        }
        let key = format!("#n{}", self.names.len());
        self.names.insert(key.clone(), attribute.to_string());
        key
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let key = format!(":v{}", self.values.len());
        self.values.insert(key.clone(), value);
        key
    }
}

/// `SET …[ ADD …][ REMOVE …]` from the clauses' parts; `set` is never empty.
pub fn update_expression(set: &[String], add: &[String], remove: &[String]) -> String {
    let mut expression = format!("SET {}", set.join(", "));
    if !add.is_empty() {
        expression.push_str(&format!(" ADD {}", add.join(", ")));
    }
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    expression
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
