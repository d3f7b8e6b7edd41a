//! The table's key schema and item key formats. `template.yaml` declares the same
//! table; a test keeps the two in step.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Sparse index of records whose status is not final yet, for the reconciler.
pub const OPEN_INDEX: &str = "open";

/// What the `open` index holds of each item beside the keys: what the reconciler
/// and the operator's list read, never a body (a queue of 5,000 conflicts with
/// 64 KB bodies would otherwise be 320 MB in a 256 MB function). `template.yaml`
/// projects the same list (a test holds them equal); reading any other attribute
/// of an item found through the index is a bug that debug builds report.
pub const OPEN_PROJECTION: &[&str] = &[
    "item_type",
    "provider",
    "record_key",
    "kind",
    "status",
    "flags",
    "seen",
    "lifecycle",
    "direction",
    "merchant_ref",
    "user_ref",
    "currency",
    "amount_due",
    "amount_paid",
    "payment_order",
    "amounts_source",
    "app_id",
    "merchant_order_id",
    "expires_at_ms",
    "order_expired_at",
    "first_seen_at_ms",
    "received_at_ms",
    "acknowledged_at_ms",
    "held_merchant_ref",
    "reason_code",
    "reason",
    // Resend windows.
    "state",
    "start",
    "end",
    "manual",
    "suspect",
    "unverified",
    "scheduled",
    "attempts",
    "next_attempt_at",
    "last_error",
    "webhook_result",
    "transaction_type",
];
pub const OPEN_PK: &str = "open_pk";
pub const OPEN_SINCE: &str = "open_since";
/// Sparse index of payment items by the hour of their last change, for replays
/// of a time range. Keys only: a replay reads each payment's latest item itself.
pub const CHANGED_INDEX: &str = "changed";
pub const CHANGED_PK: &str = "changed_pk";
pub const CHANGED_AT: &str = "changed_at_ms";
/// Each hour's changes are spread over this many index partitions, so a busy
/// hour never meets one partition's write limit.
pub const CHANGED_SHARDS: u32 = 4;
const HOUR_MS: i64 = 3_600_000;

/// The index partition of a payment that changed at `at_ms`.
pub fn changed_pk(payment_pk: &str, at_ms: i64) -> String {
    let shard = payment_pk
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % CHANGED_SHARDS;
    changed_bucket(at_ms.div_euclid(HOUR_MS), shard)
}

fn changed_bucket(hour: i64, shard: u32) -> String {
    format!("changed#{hour}#{shard}")
}

/// Every index partition that can hold a change between `from_ms` and `to_ms`.
pub fn changed_pks_between(from_ms: i64, to_ms: i64) -> Vec<String> {
    let (first, last) = (from_ms.div_euclid(HOUR_MS), to_ms.div_euclid(HOUR_MS));
    (first..=last)
        .flat_map(|hour| (0..CHANGED_SHARDS).map(move |shard| changed_bucket(hour, shard)))
        .collect()
}

/// Epoch seconds after which DynamoDB deletes an event item.
pub const TTL_ATTRIBUTE: &str = "expires_at";
pub const STATE_SK: &str = "state";

/// `(attribute, type)` pairs exactly as the template declares them.
pub const ATTRIBUTES: [(&str, &str); 6] = [
    (PK, "S"),
    (SK, "S"),
    (OPEN_PK, "S"),
    (OPEN_SINCE, "N"),
    (CHANGED_PK, "S"),
    (CHANGED_AT, "N"),
];

/// Keeps provider-chosen text from forging the separators in composite keys.
pub fn key_part(s: &str) -> String {
    s.replace('%', "%25").replace('#', "%23")
}

pub fn record_pk(provider: &str, record_key: &str) -> String {
    format!("{provider}#{}", key_part(record_key))
}

fn joined(event_id: &[String]) -> String {
    let parts: Vec<String> = event_id.iter().map(|p| key_part(p)).collect();
    parts.join("#")
}

pub fn event_sk(event_id: &[String]) -> String {
    format!("event#{}", joined(event_id))
}

pub fn conflict_sk(event_id: &[String], content_sha256: &str) -> String {
    format!("conflict#{}#{content_sha256}", joined(event_id))
}

/// Creates the table as the template does, but without its stream; an existing
/// table is left alone. Used by the tests, never in the cloud.
pub async fn create_table(client: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    create(client, table, false).await
}

/// The table with its stream (`NEW_AND_OLD_IMAGES`), as the template declares it:
/// for the local stack and the tests of events out. DynamoDB Local keeps every
/// stream record in memory and slows down with them, so other tests go without.
pub async fn create_table_with_stream(
    client: &Client,
    table: &str,
) -> Result<(), aws_sdk_dynamodb::Error> {
    create(client, table, true).await
}

async fn create(client: &Client, table: &str, stream: bool) -> Result<(), aws_sdk_dynamodb::Error> {
    let attr = |name: &str, ty: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ty)
            .build()
    };
    let key = |name: &str, ty: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(ty)
            .build()
    };
    let open_index = GlobalSecondaryIndex::builder()
        .index_name(OPEN_INDEX)
        .key_schema(key(OPEN_PK, KeyType::Hash)?)
        .key_schema(key(OPEN_SINCE, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(
                    OPEN_PROJECTION.iter().map(|a| (*a).to_string()).collect(),
                ))
                .build(),
        )
        .build()?;
    let changed_index = GlobalSecondaryIndex::builder()
        .index_name(CHANGED_INDEX)
        .key_schema(key(CHANGED_PK, KeyType::Hash)?)
        .key_schema(key(CHANGED_AT, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()?;
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK, ScalarAttributeType::S)?)
        .attribute_definitions(attr(SK, ScalarAttributeType::S)?)
        .attribute_definitions(attr(OPEN_PK, ScalarAttributeType::S)?)
        .attribute_definitions(attr(OPEN_SINCE, ScalarAttributeType::N)?)
        .attribute_definitions(attr(CHANGED_PK, ScalarAttributeType::S)?)
        .attribute_definitions(attr(CHANGED_AT, ScalarAttributeType::N)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(open_index)
        .global_secondary_indexes(changed_index)
        .set_stream_specification(if stream {
            Some(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()?,
            )
        } else {
            None
        })
        .send()
        .await;
    match result {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(())
        }
        Err(e) => return Err(e.into()),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_in_provider_text_cannot_merge_keys() {
        let a = event_sk(&["a#b".into(), "c".into()]);
        let b = event_sk(&["a".into(), "b#c".into()]);
        assert_ne!(a, b);
        assert_eq!(record_pk("ccpayment", "1#2%"), "ccpayment#1%232%25");
    }

    #[test]
    fn a_change_is_in_one_of_the_partitions_a_range_covers() {
        let at = 1_796_000_000_123;
        for pk in ["ref#a", "ref#b", "user#c", "id#citypay#d"] {
            let p = changed_pk(pk, at);
            assert!(changed_pks_between(at, at).contains(&p));
            assert!(changed_pks_between(at - 7_200_000, at + 1).contains(&p));
            assert!(!changed_pks_between(at + 3_600_000, at + 7_200_000).contains(&p));
        }
        assert_eq!(
            changed_pks_between(0, 3 * 3_600_000 - 1).len(),
            3 * CHANGED_SHARDS as usize
        );
    }

    #[test]
    fn conflict_keys_sit_beside_their_event() {
        assert_eq!(
            conflict_sk(&["success".into()], "ab12"),
            "conflict#success#ab12"
        );
    }
}
