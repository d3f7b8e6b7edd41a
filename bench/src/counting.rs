//! Counts every DynamoDB request a client sends, by operation and by the label of
//! what the benchmark is doing, and (when asked) the write capacity DynamoDB
//! reports for it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

/// Operations that read; a delivery must send none.
pub const READS: [&str; 6] = [
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "TransactGetItems",
    "ExecuteStatement",
];

#[derive(Debug, Default)]
struct State {
    label: String,
    requests: BTreeMap<(String, String), u64>,
    /// Capacity units DynamoDB reported, and how many answers reported them.
    capacity: BTreeMap<String, (f64, u64)>,
}

#[derive(Debug, Clone, Default)]
pub struct Counter {
    state: Arc<Mutex<State>>,
    ask_capacity: Arc<AtomicBool>,
}

impl Counter {
    /// Everything sent from now on counts under `label`.
    pub fn label(&self, label: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.label = label.to_string();
        }
    }

    /// Adds `ReturnConsumedCapacity=TOTAL` to writes while on.
    pub fn ask_capacity(&self, on: bool) {
        self.ask_capacity.store(on, Ordering::SeqCst);
    }

    /// Requests sent under `label`, by operation.
    pub fn requests(&self, label: &str) -> BTreeMap<String, u64> {
        self.state
            .lock()
            .map(|s| {
                s.requests
                    .iter()
                    .filter(|((l, _), _)| l == label)
                    .map(|((_, op), n)| (op.clone(), *n))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Capacity units reported under `label`, and by how many answers.
    pub fn capacity(&self, label: &str) -> (f64, u64) {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.capacity.get(label).copied())
            .unwrap_or((0.0, 0))
    }

    fn add_capacity(&self, units: Option<f64>) {
        let Some(units) = units else { return };
        if let Ok(mut s) = self.state.lock() {
            let label = s.label.clone();
            let e = s.capacity.entry(label).or_insert((0.0, 0));
            e.0 += units;
            e.1 += 1;
        }
    }
}

fn units(c: &ConsumedCapacity) -> Option<f64> {
    c.capacity_units().or(c.write_capacity_units())
}

fn sum(cs: &[ConsumedCapacity]) -> Option<f64> {
    let all: Vec<f64> = cs.iter().filter_map(units).collect();
    (!all.is_empty()).then(|| all.iter().sum())
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "bench::Counter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.ask_capacity.load(Ordering::SeqCst) {
            return Ok(());
        }
        let input = context.input_mut();
        let total = Some(ReturnConsumedCapacity::Total);
        if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<PutItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<UpdateItemInput>() {
            i.return_consumed_capacity = total;
        }
        Ok(())
    }

    /// Every attempt that goes on the wire, retries included.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_string();
        if let Ok(mut s) = self.state.lock() {
            let key = (s.label.clone(), op);
            *s.requests.entry(key).or_insert(0) += 1;
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(out) = context.output_or_error() else {
            return Ok(());
        };
        if let Some(o) = out.downcast_ref::<TransactWriteItemsOutput>() {
            self.add_capacity(sum(o.consumed_capacity()));
        } else if let Some(o) = out.downcast_ref::<PutItemOutput>() {
            self.add_capacity(o.consumed_capacity().and_then(units));
        } else if let Some(o) = out.downcast_ref::<UpdateItemOutput>() {
            self.add_capacity(o.consumed_capacity().and_then(units));
        }
        Ok(())
    }
}
