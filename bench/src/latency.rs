//! A full delivery next to the floor, one bare conditional `PutItem` of the same
//! event item, and next to the store's own first `TransactWriteItems` sent bare; on
//! the same table, from the same client. One at a time (latency, not throughput);
//! the three take turns going first so none gets a warmer DynamoDB Local.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use shared::store::Delivery;

use crate::bodies::{BodyError, Kind};
use crate::rig::Rig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// First time this notification is seen.
    New,
    /// The same notification again (the keys of the `New` run before it).
    Duplicate,
    /// A lower status after a higher one for the same record.
    OutOfOrder,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("delivery {0} answered {1}")]
    Answer(String, u16),
    #[error("could not prepare delivery {0}: {1}")]
    Prepare(String, String),
    #[error("floor write {0}: {1}")]
    Floor(String, String),
}

#[derive(Debug, Default)]
pub struct Samples {
    /// The handler: verify, parse, store, answer.
    pub full: Vec<Duration>,
    /// One conditional `PutItem` of the same event item: the floor.
    pub put: Vec<Duration>,
    /// The same `TransactWriteItems` the store sends first, sent bare.
    pub txn: Vec<Duration>,
    /// The transaction's two writes as a `PutItem` and an `UpdateItem` in parallel.
    pub par: Vec<Duration>,
    /// CityPay orders: the order API lookup, then the bare put.
    pub api_put: Vec<Duration>,
    pub api_txn: Vec<Duration>,
}

pub struct Run<'a> {
    pub rig: &'a Rig,
    pub kind: Kind,
    pub mode: Mode,
    /// Distinguishes this run's keys from every other run's.
    pub prefix: String,
}

impl Run<'_> {
    pub fn label(&self, what: &str) -> String {
        format!("{}/{what}", self.prefix)
    }

    pub async fn go(&self, n: usize) -> Result<Samples, RunError> {
        let mut s = Samples::default();
        let floor_kind = match self.kind {
            Kind::CcpaymentProcessing => Kind::Ccpayment,
            k => k,
        };
        // A Duplicate run repeats the keys of the New run with the same prefix.
        let base = self.prefix.trim_end_matches("/dup");
        for i in 0..n {
            let key = format!("{base}-{i}");
            if self.mode == Mode::OutOfOrder {
                self.rig.counter.label("setup");
                let now = shared::clock::now_unix();
                let first = Kind::Ccpayment.request(Kind::Ccpayment.body(&key)?, now)?;
                self.expect_ok(&key, self.rig.deliver(Kind::Ccpayment, first).await)?;
            }
            let now = shared::clock::now_unix();
            let put_key = format!("{base}-put-{i}");
            let put_item = self.event_item(floor_kind, &put_key, now)?;
            let txn_key = format!("{base}-txn-{i}");
            let txn_items = self.first_write(floor_kind, &txn_key, now)?;
            let mut req = Some(self.kind.request(self.kind.body(&key)?, now)?);
            let mut put_item = Some(put_item);
            let mut txn_items = Some(txn_items);
            // Each goes first, second and third in turn.
            for step in 0..3 {
                match (i + step) % 3 {
                    0 => {
                        if let Some(req) = req.take() {
                            self.rig.counter.label(&self.label("full"));
                            let started = Instant::now();
                            let resp = self.rig.deliver(self.kind, req).await;
                            s.full.push(started.elapsed());
                            self.expect_ok(&key, resp)?;
                        }
                    }
                    1 => {
                        if let Some(item) = put_item.take() {
                            self.rig.counter.label(&self.label("put"));
                            let started = Instant::now();
                            self.put(&put_key, item).await?;
                            s.put.push(started.elapsed());
                        }
                    }
                    _ => {
                        if let Some(items) = txn_items.take() {
                            self.rig.counter.label(&self.label("txn"));
                            let started = Instant::now();
                            self.transact(&txn_key, items).await?;
                            s.txn.push(started.elapsed());
                        }
                    }
                }
            }
            {
                // The alternative to one transaction: the same two writes, in parallel.
                let par_key = format!("{base}-par-{i}");
                let items = self.first_write(floor_kind, &par_key, now)?;
                self.rig.counter.label(&self.label("par"));
                let started = Instant::now();
                self.parallel(&par_key, items).await?;
                s.par.push(started.elapsed());
            }
            if self.kind == Kind::CcpaymentV2 {
                // The floor of a design that confirms with the record API before
                // answering: that call, then the store's transaction.
                let api_key = format!("{base}-api-{i}");
                let items = self.first_write(floor_kind, &api_key, now)?;
                self.rig.counter.label(&self.label("api_txn"));
                let started = Instant::now();
                let _record = self
                    .rig
                    .ccpayment_v2_api
                    .record(
                        &self.rig.ccpayment_v2_account,
                        &shared::ccpayment_v2::NotificationType::DirectDeposit,
                        &api_key,
                        now,
                    )
                    .await;
                self.transact(&api_key, items).await?;
                s.api_txn.push(started.elapsed());
            }
            if self.kind == Kind::CitypayOrder {
                let api_key = format!("{base}-api-{i}");
                let item = self.event_item(floor_kind, &api_key, now)?;
                self.rig.counter.label(&self.label("api_put"));
                let started = Instant::now();
                let _confirmed = self.rig.citypay_api.fetch(&format!("paid-{api_key}")).await;
                self.put(&api_key, item).await?;
                s.api_put.push(started.elapsed());
            }
            if i % 512 == 0 {
                self.rig.clear_metrics();
            }
        }
        Ok(s)
    }

    /// The delivery `key` stands for, prepared as the receiver would.
    fn prepared(&self, kind: Kind, key: &str, now: i64) -> Result<Delivery, RunError> {
        let fail = |why: String| RunError::Prepare(key.to_string(), why);
        let req = kind.request(kind.body(key)?, now)?;
        let d = self
            .rig
            .prepare(kind, key, &req, now)
            .map_err(|r| fail(format!("{r:?}")))?;
        // The floors model the full path: a known status and its conditional update.
        if d.status.is_none() {
            return Err(fail("the delivery reached no known status".into()));
        }
        Ok(d)
    }

    /// The event item the store would put for `key`.
    fn event_item(&self, kind: Kind, key: &str, now: i64) -> Result<Item, RunError> {
        let d = self.prepared(kind, key, now)?;
        self.rig
            .store
            .event_item_of(&d)
            .map_err(|e| RunError::Prepare(key.to_string(), e.to_string()))
    }

    /// The transaction the store would send first for `key`.
    fn first_write(
        &self,
        kind: Kind,
        key: &str,
        now: i64,
    ) -> Result<Vec<TransactWriteItem>, RunError> {
        let d = self.prepared(kind, key, now)?;
        self.rig
            .store
            .first_write_of(&d)
            .map_err(|e| RunError::Prepare(key.to_string(), e.to_string()))
    }

    fn expect_ok(
        &self,
        key: &str,
        resp: lambda_http::Response<lambda_http::Body>,
    ) -> Result<(), RunError> {
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(RunError::Answer(key.to_string(), resp.status().as_u16()))
        }
    }

    /// A conditional put, as the event put is: a new item succeeds, a repeated one
    /// fails its condition (and returns the old item, as ours does).
    async fn put(&self, key: &str, item: Item) -> Result<(), RunError> {
        let result = self
            .rig
            .client
            .put_item()
            .table_name(&self.rig.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        self.judge(key, result, |e| e.is_conditional_check_failed_exception())
    }

    /// The transaction's put and update as two single-item writes sent together.
    async fn parallel(&self, key: &str, items: Vec<TransactWriteItem>) -> Result<(), RunError> {
        let (Some(put), Some(update)) = (
            items.first().and_then(|i| i.put()),
            items.get(1).and_then(|i| i.update()),
        ) else {
            return Err(RunError::Floor(
                key.to_string(),
                "unexpected transaction shape".into(),
            ));
        };
        let update = self
            .rig
            .client
            .update_item()
            .table_name(&self.rig.table)
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_string))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send();
        let (put, update) = tokio::join!(self.put(key, put.item().clone()), update);
        put?;
        // A repeated status fails the rank condition, as in the transaction.
        self.judge(key, update, |e| e.is_conditional_check_failed_exception())
    }

    /// The store's first transaction, bare: a new key commits, a repeated one is
    /// cancelled by the event put's condition.
    async fn transact(&self, key: &str, items: Vec<TransactWriteItem>) -> Result<(), RunError> {
        let result = self
            .rig
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        self.judge(key, result, |e| e.is_transaction_canceled_exception())
    }

    /// A floor write must succeed for a new key and be refused for a repeated one.
    fn judge<T, E, R>(
        &self,
        key: &str,
        result: Result<T, SdkError<E, R>>,
        refused: impl Fn(&E) -> bool,
    ) -> Result<(), RunError>
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match (result, self.mode) {
            (Ok(_), Mode::New | Mode::OutOfOrder) => Ok(()),
            (Err(e), Mode::Duplicate) if e.as_service_error().is_some_and(&refused) => Ok(()),
            (Ok(_), Mode::Duplicate) => Err(RunError::Floor(
                key.to_string(),
                "a repeated write succeeded".into(),
            )),
            (Err(e), _) => Err(RunError::Floor(
                key.to_string(),
                DisplayErrorContext(&e).to_string(),
            )),
        }
    }
}

type Item = std::collections::HashMap<String, AttributeValue>;

/// Requests per delivery under `label`, by operation.
pub fn per_delivery(counts: &BTreeMap<String, u64>, n: usize) -> BTreeMap<String, f64> {
    counts
        .iter()
        .map(|(op, c)| (op.clone(), *c as f64 / n.max(1) as f64))
        .collect()
}
