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
pub const OPEN_PK: &str = "open_pk";
pub const OPEN_SINCE: &str = "open_since";
/// Epoch seconds after which DynamoDB deletes an event item.
pub const TTL_ATTRIBUTE: &str = "expires_at";
pub const STATE_SK: &str = "state";

/// `(attribute, type)` pairs exactly as the template declares them.
pub const ATTRIBUTES: [(&str, &str); 4] = [(PK, "S"), (SK, "S"), (OPEN_PK, "S"), (OPEN_SINCE, "N")];

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
                .projection_type(ProjectionType::All)
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
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(open_index)
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
    fn conflict_keys_sit_beside_their_event() {
        assert_eq!(
            conflict_sk(&["success".into()], "ab12"),
            "conflict#success#ab12"
        );
    }
}
