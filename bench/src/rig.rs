//! The three receivers as the functions build them, over one DynamoDB client that
//! counts its requests, a fresh table in DynamoDB Local, and the loopback CityPay.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use lambda_http::{Body, Request, Response};
use shared::alchemypay::{AlchemypayConfig, AlchemypayReceiver};
use shared::ccpayment::credentials::Accounts;
use shared::ccpayment::{CcpaymentConfig, CcpaymentReceiver, Credentials};
use shared::ccpayment_v2::api::V2Api;
use shared::ccpayment_v2::{CcpaymentV2, CcpaymentV2Config, CcpaymentV2Receiver};
use shared::citypay::{Citypay, CitypayConfig, CitypayReceiver, OrderApi};
use shared::intake::IpAllowList;
use shared::metrics::Metrics;
use shared::rejection::Rejection;
use shared::secret::Secret;
use shared::store::{schema, Delivery, Store};
use testkit::ccpayment_v2::FakeCcpaymentV2;
use testkit::citypay::FakeCityPay;

use crate::bodies::{
    ccpayment_v2_record_answer, citypay_api_answer, Kind, APP_ID, APP_SECRET, PATH_TOKEN,
};
use crate::counting::Counter;

#[derive(Debug, thiserror::Error)]
pub enum RigError {
    #[error("creating the table: {0}")]
    Table(String),
    #[error("configuration: {0}")]
    Config(String),
}

pub struct Rig {
    pub client: Client,
    pub table: String,
    pub store: Store,
    pub counter: Counter,
    pub citypay_api: OrderApi,
    pub ccpayment_v2_api: V2Api,
    pub ccpayment_v2_account: Credentials,
    metrics_docs: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    ccpayment: CcpaymentReceiver,
    ccpayment_v2: CcpaymentV2Receiver,
    alchemypay: AlchemypayReceiver,
    citypay: CitypayReceiver,
    // Kept alive: the receivers and the floor ask it.
    _fake_citypay: FakeCityPay,
    _fake_ccpayment_v2: FakeCcpaymentV2,
}

impl std::fmt::Debug for Rig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rig").field("table", &self.table).finish()
    }
}

const MAX_BODY: usize = 64 * 1024;

impl Rig {
    /// Uses the process's AWS configuration, as the functions do
    /// (`AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local).
    pub async fn start() -> Result<Self, RigError> {
        let counter = Counter::default();
        let config = aws_sdk_dynamodb::config::Builder::from(shared::store::sdk_config().await)
            .interceptor(counter.clone())
            .build();
        let client = Client::from_conf(config);
        let table = format!("bench-{}", shared::clock::now_ms());
        schema::create_table(&client, &table)
            .await
            .map_err(|e| RigError::Table(e.to_string()))?;
        let store = Store::new(client.clone(), table.clone(), 90);
        let (metrics, metrics_docs) = Metrics::memory();
        let fake_citypay = FakeCityPay::start().await;
        let ccpayment = CcpaymentReceiver::new(
            CcpaymentConfig {
                accounts: shared::ccpayment::credentials::Accounts::one(Credentials::new(
                    APP_ID, APP_SECRET,
                )),
                freshness: shared::timestamp::Freshness {
                    window_secs: 300,
                    horizon_secs: 90 * 86_400,
                },
                max_body_bytes: MAX_BODY,
            },
            store.clone(),
            metrics.clone(),
        );
        let fake_ccpayment_v2 = FakeCcpaymentV2::start(APP_ID, APP_SECRET).await;
        let confirm_timeout = Duration::from_secs(3);
        let ccpayment_v2_account = Credentials::new(APP_ID, APP_SECRET);
        let ccpayment_v2 = CcpaymentV2Receiver::new(
            CcpaymentV2::new(CcpaymentV2Config {
                accounts: Accounts::one(ccpayment_v2_account.clone()),
                freshness: shared::timestamp::Freshness {
                    window_secs: 300,
                    horizon_secs: 90 * 86_400,
                },
                max_body_bytes: MAX_BODY,
                api_base: fake_ccpayment_v2.base_url(),
                confirm_timeout,
            })
            .map_err(|e| RigError::Config(e.to_string()))?,
            store.clone(),
            metrics.clone(),
        );
        let ccpayment_v2_api =
            V2Api::new(&fake_ccpayment_v2.base_url(), confirm_timeout).map_err(RigError::Config)?;
        let alchemypay = AlchemypayReceiver::new(
            AlchemypayConfig {
                path_token: Secret::new(PATH_TOKEN),
                allowed_ips: IpAllowList::default(),
                max_body_bytes: MAX_BODY,
            },
            store.clone(),
            metrics.clone(),
        );
        let citypay = CitypayReceiver::new(
            Citypay::new(CitypayConfig {
                path_token: Secret::new(PATH_TOKEN),
                allowed_ips: IpAllowList::default(),
                max_body_bytes: MAX_BODY,
                api_base: fake_citypay.base_url(),
                confirm_timeout,
                customer_id: Some(testkit::citypay::CUSTOMER_ID.to_string()),
            })
            .map_err(|e| RigError::Config(e.to_string()))?,
            store.clone(),
            metrics,
        );
        let citypay_api = OrderApi::new(
            fake_citypay.base_url(),
            confirm_timeout,
            Some(testkit::citypay::CUSTOMER_ID.to_string()),
        )
        .map_err(RigError::Config)?;
        Ok(Self {
            client,
            table,
            store,
            counter,
            citypay_api,
            ccpayment_v2_api,
            ccpayment_v2_account,
            metrics_docs,
            ccpayment,
            ccpayment_v2,
            alchemypay,
            citypay,
            _fake_citypay: fake_citypay,
            _fake_ccpayment_v2: fake_ccpayment_v2,
        })
    }

    /// The full delivery: what the function does with one request.
    pub async fn deliver(&self, kind: Kind, req: Request) -> Response<Body> {
        match kind {
            Kind::Ccpayment | Kind::CcpaymentProcessing => self.ccpayment.handle(req).await,
            Kind::CcpaymentV2 => self.ccpayment_v2.handle(req).await,
            Kind::Alchemypay => self.alchemypay.handle(req).await,
            Kind::CitypayOrder | Kind::CitypayDeposit => self.citypay.handle(req).await,
        }
    }

    /// Everything but I/O, for the delivery with key `key` (CityPay's order API
    /// answer for it is given).
    pub fn prepare(
        &self,
        kind: Kind,
        key: &str,
        req: &Request,
        now: i64,
    ) -> Result<Delivery, Rejection> {
        match kind {
            Kind::Ccpayment | Kind::CcpaymentProcessing => self.ccpayment.prepare(req, now),
            Kind::CcpaymentV2 => {
                let claim = self.ccpayment_v2.prepare(req, now)?;
                let raw = shared::request::raw_body(req);
                self.ccpayment_v2
                    .provider()
                    .prepare_offline(claim, raw, &ccpayment_v2_record_answer(key))
                    .ok_or_else(|| Rejection::bad_request("ping", "nothing to store"))
            }
            Kind::Alchemypay => self.alchemypay.prepare(req, now),
            Kind::CitypayOrder | Kind::CitypayDeposit => {
                let callback = self.citypay.prepare(req, now)?;
                let raw = shared::request::raw_body(req);
                Ok(self
                    .citypay
                    .provider()
                    .prepare_offline(callback, raw, &citypay_api_answer(key)))
            }
        }
    }

    /// The in-memory metrics sink only grows; the functions write EMF to stdout.
    pub fn clear_metrics(&self) {
        if let Ok(mut docs) = self.metrics_docs.lock() {
            docs.clear();
        }
    }

    /// Sort key and billed size of every item stored for the delivery `key` stands for.
    pub async fn stored_sizes(
        &self,
        kind: Kind,
        key: &str,
    ) -> Result<Vec<(String, usize)>, String> {
        let now = shared::clock::now_unix();
        let req = kind
            .request(kind.body(key).map_err(|e| e.to_string())?, now)
            .map_err(|e| e.to_string())?;
        let d = self
            .prepare(kind, key, &req, now)
            .map_err(|r| format!("{r:?}"))?;
        self.counter.label("sizes");
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(schema::record_pk(
                    d.provider,
                    &d.record_key,
                )),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string())?;
        Ok(out
            .items()
            .iter()
            .map(|item| {
                let sk = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                (sk, crate::item_size::item_bytes(item))
            })
            .collect())
    }
}
