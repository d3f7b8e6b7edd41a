//! What a sweep of a provider's list API needs from the table: where each sweep
//! stands (one cursor item per scope), and which of a page's records we already
//! hold (one `BatchGetItem` of their state items, never a read per record).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::attr::{dynamo, AttrExt, Item};
use super::error::StoreError;
use super::expr::s;
use super::schema::{self, PK, SK, STATE_SK};
use super::table::Store;

const CURSOR_SK: &str = "sweep-cursor";

/// Where one sweep stands: everything created before `swept_until` has been listed
/// once; a range in progress resumes at `next_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepCursor {
    pub swept_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<(i64, i64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_id: Option<String>,
    /// After a rate limit: no request before this time, and the next wait doubles.
    #[serde(default)]
    pub not_before: i64,
    #[serde(default)]
    pub backoff_secs: i64,
}

#[derive(Serialize, Deserialize)]
struct CursorItem {
    pk: String,
    sk: String,
    item_type: String,
    cursor: SweepCursor,
}

impl Store {
    pub async fn sweep_cursor(&self, scope: &str) -> Result<Option<SweepCursor>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table())
            .key(PK, s(scope))
            .key(SK, s(CURSOR_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        match out.item() {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item::<_, CursorItem>(item.clone())
                .map(|i| Some(i.cursor))
                .map_err(|e| StoreError::Dynamo(format!("sweep cursor unreadable: {e}"))),
        }
    }

    pub async fn save_sweep_cursor(
        &self,
        scope: &str,
        cursor: &SweepCursor,
    ) -> Result<(), StoreError> {
        let item: Item = serde_dynamo::to_item(CursorItem {
            pk: scope.to_string(),
            sk: CURSOR_SK.to_string(),
            item_type: "sweep_cursor".to_string(),
            cursor: cursor.clone(),
        })
        .map_err(|e| StoreError::Build(e.to_string()))?;
        self.client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// The status of each of `record_keys` we hold a state item for (`None` for a
    /// record held without a confirmed status); records we never stored are absent.
    pub async fn known_records(
        &self,
        provider: &str,
        record_keys: &[String],
    ) -> Result<HashMap<String, Option<String>>, StoreError> {
        let keys: Vec<(String, String)> = record_keys
            .iter()
            .map(|key| (schema::record_pk(provider, key), STATE_SK.to_string()))
            .collect();
        let mut known = HashMap::new();
        for item in self.batch_get(&keys, &["record_key", "status"]).await? {
            if let Some(key) = item.text("record_key") {
                known.insert(key.to_string(), item.text("status").map(str::to_string));
            }
        }
        Ok(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[test]
    fn a_cursor_survives_its_item() {
        let cursor = SweepCursor {
            swept_until: 100,
            range: Some((100, 400)),
            next_id: Some("n-1".into()),
            not_before: 0,
            backoff_secs: 60,
        };
        let item: Item = serde_dynamo::to_item(CursorItem {
            pk: "p".into(),
            sk: CURSOR_SK.into(),
            item_type: "sweep_cursor".into(),
            cursor: cursor.clone(),
        })
        .unwrap();
        assert!(matches!(item.get("pk"), Some(AttributeValue::S(_))));
        let back: CursorItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.cursor, cursor);
    }
}
