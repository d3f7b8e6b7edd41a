//! CityPay: every order still open (unconfirmed or not final) is asked about again,
//! a bounded number per run, round-robin across runs. CityPay never calls back for
//! expiry, so an order past its expiry with nothing paid becomes EXPIRED here.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Reconciler, Summary};
use crate::citypay::receiver::ORDER_QUEUE;
use crate::citypay::{OrderApi, OrderStatus, PROVIDER};
use crate::store::schema::{OPEN_INDEX, OPEN_PK};
use crate::store::{Delivery, StatusChange, StoreError};

const CURSOR_PK: &str = "reconciler#citypay";
const CURSOR_SK: &str = "recheck-cursor";

fn dynamo(e: impl std::error::Error) -> StoreError {
    StoreError::Dynamo(DisplayErrorContext(&e).to_string())
}

impl Reconciler {
    pub(super) async fn citypay_step(
        &self,
        api: &OrderApi,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let client = self.store.client();
        let table = self.store.table();
        let saved = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(CURSOR_PK.into()))
            .key("sk", AttributeValue::S(CURSOR_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?
            .item()
            .and_then(|i| i.get("last_key")?.as_m().ok().cloned());
        let page = client
            .query()
            .table_name(table)
            .index_name(OPEN_INDEX)
            .key_condition_expression("#q = :q")
            .expression_attribute_names("#q", OPEN_PK)
            .expression_attribute_values(":q", AttributeValue::S(ORDER_QUEUE.into()))
            .limit(self.config.citypay_recheck_per_run)
            .set_exclusive_start_key(saved)
            .send()
            .await
            .map_err(dynamo)?;
        for item in page.items() {
            self.recheck(api, item, now, sum).await?;
        }
        sum.citypay_unconfirmed = self.count_unconfirmed().await?;
        // Round-robin: the next run starts after the last order checked here.
        match page.last_evaluated_key() {
            Some(last) => {
                client
                    .put_item()
                    .table_name(table)
                    .item("pk", AttributeValue::S(CURSOR_PK.into()))
                    .item("sk", AttributeValue::S(CURSOR_SK.into()))
                    .item("item_type", AttributeValue::S("recheck_cursor".into()))
                    .item("last_key", AttributeValue::M(last.clone()))
                    .send()
                    .await
                    .map_err(dynamo)?;
            }
            None => {
                client
                    .delete_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S(CURSOR_PK.into()))
                    .key("sk", AttributeValue::S(CURSOR_SK.into()))
                    .send()
                    .await
                    .map_err(dynamo)?;
            }
        }
        Ok(())
    }

    /// Open orders whose status CityPay has never confirmed to us, after this run.
    async fn count_unconfirmed(&self) -> Result<u32, StoreError> {
        let mut count = 0;
        let mut start = None;
        loop {
            let page = self
                .store
                .client()
                .query()
                .table_name(self.store.table())
                .index_name(OPEN_INDEX)
                .key_condition_expression("#q = :q")
                .filter_expression("attribute_not_exists(#st)")
                .expression_attribute_names("#q", OPEN_PK)
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":q", AttributeValue::S(ORDER_QUEUE.into()))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            count += u32::try_from(page.count()).unwrap_or(0);
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    async fn recheck(
        &self,
        api: &OrderApi,
        item: &HashMap<String, AttributeValue>,
        now: i64,
        sum: &mut Summary,
    ) -> Result<(), StoreError> {
        let Some(record_key) = item.get("record_key").and_then(|v| v.as_s().ok()) else {
            return Ok(());
        };
        let Some(token) = record_key.strip_prefix("order:") else {
            return Ok(());
        };
        sum.citypay_checked += 1;
        let confirmed = match api.fetch(token).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    provider = PROVIDER,
                    key = record_key.as_str(),
                    error = e.code(),
                    "order re-check failed"
                );
                return Ok(());
            }
        };
        let stored_expiry = item
            .get("expires_at_ms")
            .and_then(|v| v.as_s().ok()?.parse::<i64>().ok());
        let expires_at_ms = confirmed.expires_at_ms.or(stored_expiry);
        let mut d = Delivery::new(
            PROVIDER,
            record_key.clone(),
            Vec::new(),
            confirmed.status.as_str().to_string(),
            b"",
            String::new(),
        );
        d.flags.insert("reconciled".into());
        let past_expiry = expires_at_ms.is_some_and(|e| e <= now * 1000);
        if confirmed.status == OrderStatus::InProgress && past_expiry {
            // Nothing paid (IN_PROGRESS, not UNDERPAID) and the time ran out.
            d.status =
                StatusChange::ranked(OrderStatus::Expired.as_str(), OrderStatus::Expired.rank());
            d.status_text = OrderStatus::Expired.as_str().to_string();
            d.flags.insert("expired_locally".into());
        } else {
            d.status = StatusChange::ranked(confirmed.status.as_str(), confirmed.status.rank());
        }
        if d.status.is_none() {
            return Ok(());
        }
        let advanced = self.store.advance_state(&d).await?;
        if advanced {
            sum.citypay_updated += 1;
            if d.flags.contains("expired_locally") {
                sum.citypay_expired += 1;
            }
        }
        Ok(())
    }
}
