//! Test support: a fresh table per test in the DynamoDB Local that scripts/test.sh
//! started, request builders, and a private DynamoDB Local that a test may stop.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::zombie_processes
)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lambda_http::{Body, Request};
use shared::ccpayment::{sign, CcpaymentConfig, CcpaymentReceiver, Credentials};
use shared::metrics::Metrics;
use shared::secret::Secret;
use shared::store::{schema, Store};

pub const APP_ID: &str = "test-app-id";
pub const SECRET: &str = "test-app-secret";
pub const NOW: i64 = 1_767_225_600;

pub type Item = HashMap<String, AttributeValue>;

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with scripts/test.sh, which starts DynamoDB Local")
    })
}

pub async fn client_for(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(
        &aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "test",
            ))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(500))
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .load()
            .await,
    )
    .build();
    Client::from_conf(config)
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn table_name() -> String {
    format!(
        "t{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        shared::clock::now_ms()
    )
}

/// A new, empty table in the shared DynamoDB Local.
pub async fn fresh_table() -> (Client, String) {
    let client = client_for(&endpoint()).await;
    let table = table_name();
    schema::create_table(&client, &table).await.unwrap();
    (client, table)
}

/// The same, with the table's stream on.
pub async fn fresh_table_with_stream() -> (Client, String) {
    let client = client_for(&endpoint()).await;
    let table = table_name();
    schema::create_table_with_stream(&client, &table)
        .await
        .unwrap();
    (client, table)
}

pub fn credentials() -> Credentials {
    Credentials::new(APP_ID, SECRET)
}

/// `client` with its calls recorded as `function`'s (the template's logical id),
/// for the test that holds every function's calls against its IAM policy.
pub fn as_function(client: &Client, function: &'static str) -> Client {
    testkit::calls::RecordAs::record_as(client, function)
}

pub fn receiver(
    client: Client,
    table: &str,
) -> (
    CcpaymentReceiver,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    receiver_for(
        client,
        table,
        shared::ccpayment::credentials::Accounts::one(credentials()),
    )
}

/// A v1 receiver serving `accounts` (several shops).
pub fn receiver_for(
    client: Client,
    table: &str,
    accounts: shared::ccpayment::credentials::Accounts,
) -> (
    CcpaymentReceiver,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    let (metrics, docs) = Metrics::memory();
    let config = CcpaymentConfig {
        accounts,
        freshness: shared::timestamp::Freshness {
            window_secs: 300,
            horizon_secs: 90 * 86_400,
        },
        max_body_bytes: 64 * 1024,
    };
    (
        CcpaymentReceiver::new(
            config,
            Store::new(as_function(&client, "CcpaymentWebhookFunction"), table, 90),
            metrics,
        ),
        docs,
    )
}

pub fn signed(body: &[u8], ts: i64) -> Request {
    signed_by(APP_ID, SECRET, body, ts)
}

/// A v1 delivery from `app_id`, signed with `secret`.
pub fn signed_by(app_id: &str, secret: &str, body: &[u8], ts: i64) -> Request {
    let ts = ts.to_string();
    let sig = sign(app_id, secret, &ts, body);
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhooks/ccpayment")
        .header("content-type", "application/json; charset=utf-8")
        .header("Appid", app_id)
        .header("Timestamp", ts)
        .header("Sign", sig)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

pub fn fixture(name: &str) -> Vec<u8> {
    fixture_of("ccpayment", name)
}

pub fn fixture_of(provider: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/{provider}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    while bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

/// A GET on the lookup's routes, as API Gateway passes it on.
pub fn get(path: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("GET")
        .uri(path)
        .body(Body::Empty)
        .unwrap()
}

pub fn body_text(resp: &lambda_http::Response<Body>) -> String {
    match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

pub async fn all_items(client: &Client, table: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        out.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

/// Every payment item, as the merchant's systems read it.
pub async fn payments(client: &Client, table: &str) -> Vec<shared::store::payment::Payment> {
    all_items(client, table)
        .await
        .iter()
        .filter_map(shared::store::payment::Payment::from_item)
        .collect()
}

/// The payment a record belongs to, found through its state item.
pub async fn payment_of_record(
    client: &Client,
    table: &str,
    provider: &str,
    record: &str,
) -> shared::store::payment::Payment {
    let state = state_item(client, table, provider, record).await.unwrap();
    let key = |name: &str| state[name].as_s().unwrap().clone();
    let item = get_item(client, table, &key("payment_pk"), &key("payment_sk"))
        .await
        .unwrap();
    shared::store::payment::Payment::from_item(&item).unwrap()
}

pub fn of_type<'a>(items: &'a [Item], item_type: &str) -> Vec<&'a Item> {
    items
        .iter()
        .filter(|i| {
            i.get("item_type")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some(item_type)
        })
        .collect()
}

pub async fn state_item(
    client: &Client,
    table: &str,
    provider: &str,
    record: &str,
) -> Option<Item> {
    get_item(
        client,
        table,
        &schema::record_pk(provider, record),
        schema::STATE_SK,
    )
    .await
}

pub async fn get_item(client: &Client, table: &str, pk: &str, sk: &str) -> Option<Item> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
}

/// An item's flags, whether stored as a list (events) or a string set (states).
pub fn flags(item: &Item) -> Vec<String> {
    match item.get("flags") {
        Some(v) if v.is_l() => v
            .as_l()
            .unwrap()
            .iter()
            .map(|f| f.as_s().unwrap().clone())
            .collect(),
        Some(v) if v.is_ss() => v.as_ss().unwrap().clone(),
        _ => Vec::new(),
    }
}

/// One string entry of a map attribute (`amounts`, `refs`, `details`).
pub fn map<'a>(item: &'a Item, name: &str, key: &str) -> Option<&'a str> {
    item.get(name)?
        .as_m()
        .ok()?
        .get(key)?
        .as_s()
        .ok()
        .map(String::as_str)
}

pub fn s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn num(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

/// A DynamoDB Local of a test's own, which the test can stop (and restart, when its
/// data lives on disk).
pub struct PrivateDynamo {
    child: Child,
    port: u16,
    db_path: Option<std::path::PathBuf>,
    pub endpoint: String,
}

fn spawn_dynamo(port: u16, db_path: Option<&std::path::Path>) -> Child {
    let dir = std::env::var("DYNAMODB_LOCAL_DIR")
        .expect("DYNAMODB_LOCAL_DIR is not set: run the tests with scripts/test.sh");
    let mut cmd = Command::new("java");
    cmd.arg(format!("-Djava.library.path={dir}/DynamoDBLocal_lib"))
        .args([
            "-jar",
            &format!("{dir}/DynamoDBLocal.jar"),
            "-sharedDb",
            "-port",
        ])
        .arg(port.to_string());
    match db_path {
        Some(p) => cmd.arg("-dbPath").arg(p),
        None => cmd.arg("-inMemory"),
    };
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_for(port: u16) {
    for _ in 0..240 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("private DynamoDB Local did not start");
}

impl PrivateDynamo {
    async fn launch(db_path: Option<std::path::PathBuf>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = spawn_dynamo(port, db_path.as_deref());
        wait_for(port).await;
        Self {
            child,
            port,
            db_path,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn start() -> Self {
        Self::launch(None).await
    }

    pub async fn start_on_disk(dir: &std::path::Path) -> Self {
        Self::launch(Some(dir.to_path_buf())).await
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it the way an operator or an orchestrator would (SIGTERM), so writes it
    /// acknowledged reach its disk. `stop` (SIGKILL) can lose the last acknowledged
    /// write: DynamoDB Local is not crash-durable, unlike DynamoDB itself.
    pub fn shut_down(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
    }

    /// Starts again on the same port, with the same data when it lives on disk.
    pub async fn restart(&mut self) {
        self.shut_down();
        self.child = spawn_dynamo(self.port, self.db_path.as_deref());
        wait_for(self.port).await;
    }
}

impl Drop for PrivateDynamo {
    fn drop(&mut self) {
        self.stop();
    }
}

pub const V2_APP_ID: &str = "test-v2-app-id";
pub const V2_SECRET: &str = "test-v2-app-secret";

pub fn v2_config(api_base: &str) -> shared::ccpayment_v2::CcpaymentV2Config {
    shared::ccpayment_v2::CcpaymentV2Config {
        accounts: shared::ccpayment::credentials::Accounts::one(Credentials::new(
            V2_APP_ID, V2_SECRET,
        )),
        freshness: shared::timestamp::Freshness {
            window_secs: 300,
            horizon_secs: 90 * 86_400,
        },
        max_body_bytes: 64 * 1024,
        api_base: api_base.to_string(),
        confirm_timeout: Duration::from_millis(500),
    }
}

pub fn ccpayment_v2_receiver(
    client: Client,
    table: &str,
    config: shared::ccpayment_v2::CcpaymentV2Config,
) -> (shared::ccpayment_v2::CcpaymentV2Receiver, Docs) {
    let (metrics, docs) = Metrics::memory();
    (
        shared::ccpayment_v2::CcpaymentV2Receiver::new(
            shared::ccpayment_v2::CcpaymentV2::new(config).unwrap(),
            Store::new(
                as_function(&client, "CcpaymentV2WebhookFunction"),
                table,
                90,
            ),
            metrics,
        ),
        docs,
    )
}

/// A v2 delivery as CCPayment sends it, signed at `ts` by `app_id` with `secret`.
pub fn signed_v2_by(app_id: &str, secret: &str, body: &[u8], ts: i64) -> Request {
    let ts = ts.to_string();
    let sig = shared::ccpayment_v2::signature::sign(app_id, secret, &ts, body);
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhooks/ccpayment-v2")
        .header("content-type", "application/json")
        .header("Appid", app_id)
        .header("Timestamp", ts)
        .header("Sign", sig)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

pub fn signed_v2(body: &[u8], ts: i64) -> Request {
    signed_v2_by(V2_APP_ID, V2_SECRET, body, ts)
}

pub const ALCHEMY_TOKEN: &str = "test-alchemypay-token-0123456789";
pub const CITYPAY_TOKEN: &str = "test-citypay-token-0123456789";

pub type Docs = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

pub fn alchemy_receiver(
    client: Client,
    table: &str,
    allowed_ips: &str,
) -> (shared::alchemypay::AlchemypayReceiver, Docs) {
    let (metrics, docs) = Metrics::memory();
    let config = shared::alchemypay::AlchemypayConfig {
        path_token: Secret::new(ALCHEMY_TOKEN),
        allowed_ips: shared::intake::IpAllowList::parse(allowed_ips).unwrap(),
        max_body_bytes: 64 * 1024,
    };
    (
        shared::alchemypay::AlchemypayReceiver::new(
            config,
            Store::new(as_function(&client, "AlchemypayWebhookFunction"), table, 90),
            metrics,
        ),
        docs,
    )
}

pub fn citypay_config(api_base: &str) -> shared::citypay::CitypayConfig {
    shared::citypay::CitypayConfig {
        path_token: Secret::new(CITYPAY_TOKEN),
        allowed_ips: shared::intake::IpAllowList::default(),
        max_body_bytes: 64 * 1024,
        api_base: api_base.to_string(),
        confirm_timeout: Duration::from_millis(400),
        customer_id: Some(testkit::citypay::CUSTOMER_ID.to_string()),
    }
}

pub fn citypay_receiver(
    client: Client,
    table: &str,
    api_base: &str,
) -> (shared::citypay::CitypayReceiver, Docs) {
    let (metrics, docs) = Metrics::memory();
    let config = citypay_config(api_base);
    (
        shared::citypay::CitypayReceiver::new(
            shared::citypay::Citypay::new(config).unwrap(),
            Store::new(as_function(&client, "CitypayWebhookFunction"), table, 90),
            metrics,
        ),
        docs,
    )
}

/// A delivery to `/webhooks/<provider>/<token>` as API Gateway passes it.
pub fn post(provider: &str, token: &str, body: &[u8], source_ip: Option<&str>) -> Request {
    use lambda_http::RequestExt;
    let mut ctx = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    ctx.http.source_ip = source_ip.map(str::to_string);
    let mut params = HashMap::new();
    params.insert("token".to_string(), token.to_string());
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("/webhooks/{provider}/{token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap()
        .with_path_parameters(params)
        .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(ctx))
}

/// Every log line written while `f` runs, at every level, as the JSON the
/// functions print, with the production filter's caps.
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture_logs() -> (
    tracing::subscriber::DefaultGuard,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer_buf = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(shared::logging::filter("trace"))
        .with_writer(move || LogCapture(writer_buf.clone()))
        .finish();
    (tracing::subscriber::set_default(subscriber), buf)
}

/// Every attribute of every item, as one JSON text per item.
pub fn items_as_text(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            serde_dynamo::from_item::<_, serde_json::Value>(i.clone())
                .unwrap()
                .to_string()
        })
        .collect()
}

pub fn reconciler_config(
    ccpayment_base: Option<&str>,
    citypay_base: &str,
) -> shared::reconcile::ReconcilerConfig {
    shared::reconcile::ReconcilerConfig {
        ccpayment: ccpayment_base.map(|b| {
            (
                b.to_string(),
                shared::ccpayment::credentials::Accounts::one(credentials()),
            )
        }),
        ccpayment_v2: None,
        v2_budget: shared::store::budget::Budget {
            daily_cap: 24,
            min_interval_secs: 61,
        },
        v2_recheck_per_run: 50,
        v2_reserved_for_ids: 12,
        v2_sweep: None,
        citypay_api_base: citypay_base.to_string(),
        citypay_customer_id: Some(testkit::citypay::CUSTOMER_ID.to_string()),
        budget: shared::store::budget::Budget {
            daily_cap: 24,
            min_interval_secs: 61,
        },
        resend_settle_secs: 4 * 3600,
        resend_backfill_hours: 0,
        backlog_warn_windows: 3,
        bill_info_after_secs: 1800,
        citypay_recheck_per_run: 50,
        citypay_late_payment_grace_secs: 6 * 3600,
        citypay_sweep: None,
        stale_after_secs: 86_400,
        page_after: shared::reconcile::paging::parse(shared::reconcile::paging::DEFAULT).unwrap(),
        api_timeout: Duration::from_secs(2),
        provider_budget: Duration::from_secs(30),
        unconfigured: Vec::new(),
    }
}

pub fn reconciler(
    client: Client,
    table: &str,
    config: shared::reconcile::ReconcilerConfig,
) -> (shared::reconcile::Reconciler, Docs) {
    let (metrics, docs) = Metrics::memory();
    (
        shared::reconcile::Reconciler::new(
            config,
            Store::new(as_function(&client, "ReconcilerFunction"), table, 90),
            metrics,
        )
        .unwrap(),
        docs,
    )
}

/// A client that fails at once: no retries, short connect timeout.
pub async fn client_without_retries(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(
        &aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(200))
                    .build(),
            )
            .load()
            .await,
    )
    .build();
    Client::from_conf(config)
}

/// A client of a database that is not there: every call fails at once.
pub async fn dead_client() -> Client {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    client_without_retries(&format!("http://127.0.0.1:{port}")).await
}

/// A drill's size: `full` with `DRILL_SCALE=full`, half of it otherwise (the
/// assertions are the same; the README's figures are those of the full scale).
pub fn drill_scale(full: usize) -> usize {
    if std::env::var("DRILL_SCALE").is_ok_and(|v| v == "full") {
        full
    } else {
        full / 2
    }
}

/// The lookup's answer to `req`, kept for the contract check (`testkit::contracts`).
pub async fn lookup(store: &Store, req: &Request) -> lambda_http::Response<Body> {
    keep_answer(
        testkit::contracts::Kind::Lookup,
        shared::lookup::handle(store, req).await,
    )
}

/// The operator's list's answer to `req` at `now_ms`, kept for the contract check.
pub async fn unresolved_api(
    store: &Store,
    req: &Request,
    now_ms: i64,
) -> lambda_http::Response<Body> {
    let kind = if req.method() == lambda_http::http::Method::POST {
        testkit::contracts::Kind::UnresolvedAcknowledge
    } else {
        testkit::contracts::Kind::UnresolvedList
    };
    keep_answer(
        kind,
        shared::unresolved_api::handle(store, req, now_ms).await,
    )
}

fn keep_answer(
    kind: testkit::contracts::Kind,
    resp: lambda_http::Response<Body>,
) -> lambda_http::Response<Body> {
    let body = match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    testkit::contracts::keep(kind, resp.status().as_u16(), &body);
    resp
}
