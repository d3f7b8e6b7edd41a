//! Body fingerprints taken again over the stored copy of each body. Items written
//! before fingerprints were taken over the stored (redacted) copy held SHA-256 of
//! the raw bytes, which for a body that carried a card number gave the number
//! back after at most a million guesses. One scan, for an operator once after
//! upgrading; safe to repeat (an item already right is not written).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::attr::{dynamo, AttrExt, Item};
use super::error::StoreError;
use super::expr::s;
use super::schema::{PK, SK};
use super::table::Store;
use crate::hashing::{content_sha256_hex, sha256_hex};

/// What a rehash changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rehashed {
    /// Items read that hold a body.
    pub scanned: usize,
    /// Event items whose fingerprints were replaced.
    pub events: usize,
    /// Conflict items moved to a key made of the new fingerprint.
    pub conflicts: usize,
}

impl Store {
    pub async fn rehash_bodies(&self) -> Result<Rehashed, StoreError> {
        let scan = self
            .client
            .scan()
            .table_name(self.table())
            .filter_expression(
                "(item_type = :event OR item_type = :conflict) AND attribute_exists(body)",
            )
            .expression_attribute_values(":event", s("event"))
            .expression_attribute_values(":conflict", s("conflict"));
        let mut done = Rehashed::default();
        let mut start = None;
        loop {
            let page = scan
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            for item in page.items() {
                done.scanned += 1;
                self.rehash_item(item, &mut done).await?;
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(done);
            }
        }
    }

    async fn rehash_item(&self, item: &Item, done: &mut Rehashed) -> Result<(), StoreError> {
        let (Some(pk), Some(sk), Some(body)) = (item.text(PK), item.text(SK), item.text("body"))
        else {
            return Ok(());
        };
        let body_hash = sha256_hex(body.as_bytes());
        let content_hash = content_sha256_hex(body.as_bytes());
        let old_content = item.text("content_sha256").unwrap_or_default().to_string();
        if item.text("body_sha256") == Some(body_hash.as_str()) && old_content == content_hash {
            return Ok(());
        }
        let is_conflict = item.text("item_type") == Some("conflict");
        // A conflict's key ends with its content fingerprint: it moves to the new one.
        if is_conflict && !old_content.is_empty() && sk.ends_with(&old_content) {
            let new_sk = format!(
                "{}{content_hash}",
                sk.strip_suffix(&old_content).unwrap_or(sk)
            );
            let mut moved: HashMap<String, AttributeValue> = item.clone();
            moved.insert(SK.into(), s(&new_sk));
            moved.insert("body_sha256".into(), s(&body_hash));
            moved.insert("content_sha256".into(), s(&content_hash));
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(moved))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()?;
            let delete = Delete::builder()
                .table_name(self.table())
                .key(PK, s(pk))
                .key(SK, s(sk))
                .condition_expression("content_sha256 = :old")
                .expression_attribute_values(":old", s(&old_content))
                .build()?;
            let sent = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(TransactWriteItem::builder().delete(delete).build())
                .send()
                .await;
            match sent {
                Ok(_) => done.conflicts += 1,
                // Moved by a run beside this one, or the same body twice: the
                // item with the new key already holds it.
                Err(e) if is_cancelled(&e) => {}
                Err(e) => return Err(dynamo(e)),
            }
            return Ok(());
        }
        let sent = self
            .client
            .update_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET body_sha256 = :b, content_sha256 = :c")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":b", s(&body_hash))
            .expression_attribute_values(":c", s(&content_hash))
            .send()
            .await;
        match sent {
            Ok(_) => done.events += 1,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(dynamo(e)),
        }
        Ok(())
    }
}

fn is_cancelled<R>(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> bool {
    e.as_service_error().is_some_and(|x| {
        matches!(
            x,
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(_)
        )
    })
}
