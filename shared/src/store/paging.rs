//! Reads that take several requests, in one place: a `Query` followed page by
//! page, and `BatchGetItem` in chunks of DynamoDB's limit until it has answered
//! for every key.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::attr::{dynamo, Item};
use super::error::StoreError;
use super::expr::s;
use super::schema::{PK, SK};
use super::table::Store;

/// DynamoDB's limit of keys per `BatchGetItem`.
const BATCH_GET_MAX: usize = 100;
/// Rounds of retrying keys DynamoDB left unprocessed before giving up.
const UNPROCESSED_ROUNDS: u32 = 5;

impl Store {
    /// Every item `query` matches, page after page, until `max` items (if any).
    pub(crate) async fn query_all(
        &self,
        query: QueryFluentBuilder,
        max: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() || max.is_some_and(|m| out.len() >= m) {
                if let Some(m) = max {
                    out.truncate(m);
                }
                return Ok(out);
            }
        }
    }

    /// The items at `keys` (`(pk, sk)`) that exist, in no particular order; with
    /// `attributes`, only those.
    pub(crate) async fn batch_get(
        &self,
        keys: &[(String, String)],
        attributes: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let request: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|(pk, sk)| HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))]))
                .collect();
            let mut builder = KeysAndAttributes::builder()
                .set_keys(Some(request))
                .consistent_read(true);
            if !attributes.is_empty() {
                let names: Vec<String> = (0..attributes.len()).map(|i| format!("#a{i}")).collect();
                builder = builder.projection_expression(names.join(", "));
                for (name, attribute) in names.iter().zip(attributes) {
                    builder = builder.expression_attribute_names(name, *attribute);
                }
            }
            let mut pending = Some(builder.build()?);
            let mut round = 0;
            while let Some(request) = pending.take() {
                round += 1;
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(self.table(), request)
                    .send()
                    .await
                    .map_err(dynamo)?;
                if let Some(items) = answer.responses().and_then(|r| r.get(self.table())) {
                    out.extend(items.iter().cloned());
                }
                pending = answer
                    .unprocessed_keys()
                    .and_then(|u| u.get(self.table()))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
                if pending.is_some() {
                    if round >= UNPROCESSED_ROUNDS {
                        return Err(StoreError::Contention(round));
                    }
                    tokio::time::sleep(Duration::from_millis(50 << round)).await;
                }
            }
        }
        Ok(out)
    }
}
