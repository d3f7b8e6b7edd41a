//! `payments-ops doctor` against stand-ins: a CloudFormation stack that moto's server
//! created (its secrets, topic, bus, table, publisher function and stream mapping),
//! CloudWatch metrics in moto, and a local API whose routes run the real receivers
//! and lookup on DynamoDB Local. Each check is seen failing with its message, then
//! passing; no probe stores anything.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use lambda_http::RequestExt;
use payments_ops::{doctor, Clients, Deployment};
use shared::ccpayment::credentials::{Accounts, Credentials};
use shared::metrics::Metrics;
use shared::secret::Secret;
use shared::store::Store;
use testkit::calls::{RecordAs, Touched};

const V1_ID: &str = "doctor-v1-app";
const V1_SECRET: &str = "doctor-v1-secret";
const V2_ID: &str = "doctor-v2-app";
const V2_SECRET: &str = "doctor-v2-secret";
const ALCHEMY_TOKEN: &str = "doctor-alchemypay-token-0123456789";
const CITYPAY_TOKEN: &str = "doctor-citypay-token-0123456789";

fn account(id: &str, secret: &str) -> Accounts {
    Accounts::one(Credentials::new(id, secret))
}

fn freshness() -> shared::timestamp::Freshness {
    shared::timestamp::Freshness {
        window_secs: 300,
        horizon_secs: 90 * 86_400,
    }
}

/// What API Gateway does in front of the functions, enough for the probes: the
/// routes of template.yaml (those in `routes`), its own 404 for any other path,
/// and its own 403 for a lookup without a SigV4 `Authorization` for execute-api.
struct LocalApi {
    v1: shared::ccpayment::CcpaymentReceiver,
    v2: shared::ccpayment_v2::CcpaymentV2Receiver,
    alchemy: shared::alchemypay::AlchemypayReceiver,
    citypay: shared::citypay::CitypayReceiver,
    store: Store,
    routes: std::sync::Mutex<Vec<&'static str>>,
}

fn gateway(status: u16, message: &str) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!(
            r#"{{"message":"{message}"}}"#
        ))))
        .unwrap()
}

impl LocalApi {
    async fn serve(self: Arc<Self>, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let path = parts.uri.path().to_string();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let route = match (parts.method.as_str(), segments.as_slice()) {
            ("POST", ["webhooks", "ccpayment"]) => Some("ccpayment"),
            ("POST", ["webhooks", "ccpayment-v2"]) => Some("ccpayment-v2"),
            ("POST", ["webhooks", "alchemypay", _]) => Some("alchemypay"),
            ("POST", ["webhooks", "citypay", _]) => Some("citypay"),
            ("GET", ["payments", _]) => Some("lookup"),
            ("GET", ["unresolved"]) => Some("unresolved"),
            _ => None,
        };
        let Some(route) = route.filter(|r| self.routes.lock().unwrap().contains(r)) else {
            return gateway(404, "Not Found");
        };
        let mut request =
            lambda_http::http::Request::from_parts(parts, lambda_http::Body::from(bytes.to_vec()));
        if let Some(token) = segments.get(2) {
            let mut params = HashMap::new();
            params.insert("token".to_string(), token.to_string());
            request = request.with_path_parameters(params);
        }
        // API Gateway's IAM authorizer: a SigV4 signature for execute-api, or its 403.
        let iam_route = match route {
            "unresolved" => Some("route/GET/unresolved"),
            "lookup" => Some("route/GET/payments/{merchant_ref}"),
            _ => None,
        };
        if let Some(resource) = iam_route {
            let auth = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !(auth.starts_with("AWS4-HMAC-SHA256 Credential=")
                && auth.contains("/execute-api/aws4_request"))
            {
                return gateway(403, "Forbidden");
            }
            // What IAM authorizes here: execute-api:Invoke on the route.
            if let Some(role) = testkit::calls::role_of_access_key(auth) {
                testkit::calls::record(
                    &role,
                    "execute-api",
                    "Invoke",
                    &[Touched {
                        resource: resource.into(),
                        part: None,
                    }],
                );
            }
        }
        if route == "unresolved" {
            let request_is_post = request.method() == hyper::Method::POST;
            let response =
                shared::unresolved_api::handle(&self.store, &request, shared::clock::now_ms())
                    .await;
            let (parts, body) = response.into_parts();
            let kind = if parts.status.is_success() && request_is_post {
                testkit::contracts::Kind::UnresolvedAcknowledge
            } else {
                testkit::contracts::Kind::UnresolvedList
            };
            testkit::contracts::keep(kind, parts.status.as_u16(), &String::from_utf8_lossy(&body));
            return hyper::Response::from_parts(parts, Full::new(Bytes::from(body.to_vec())));
        }
        if let Some(reference) = segments.get(1).filter(|_| route == "lookup") {
            let mut params = HashMap::new();
            params.insert("merchant_ref".to_string(), reference.to_string());
            request = request.with_path_parameters(params);
        }
        let is_lookup = !matches!(
            route,
            "ccpayment" | "ccpayment-v2" | "alchemypay" | "citypay"
        );
        let response = match route {
            "ccpayment" => self.v1.handle(request).await,
            "ccpayment-v2" => self.v2.handle(request).await,
            "alchemypay" => self.alchemy.handle(request).await,
            "citypay" => self.citypay.handle(request).await,
            _ => shared::lookup::handle(&self.store, &request).await,
        };
        let (parts, body) = response.into_parts();
        if is_lookup {
            let text = String::from_utf8_lossy(&body);
            testkit::contracts::keep(
                testkit::contracts::Kind::Lookup,
                parts.status.as_u16(),
                &text,
            );
        }
        hyper::Response::from_parts(parts, Full::new(Bytes::from(body.to_vec())))
    }
}

async fn start_api(api: Arc<LocalApi>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let api = api.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let api = api.clone();
                    async move { Ok::<_, Infallible>(api.serve(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// moto's server, where scripts/test.sh started it.
fn moto() -> String {
    std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE").expect("moto's endpoint (scripts/test.sh)")
}

async fn moto_config(access_key: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            access_key, "testing", None, None, "test",
        ))
        .load()
        .await
}

/// The doctor's clients on moto, each recording its calls as `ops-doctor`'s; the
/// lookup probe signs as `as-ops-doctor`, which the local API records.
async fn doctor_clients(sdk: &aws_config::SdkConfig) -> Clients {
    let c = Clients::new(sdk);
    Clients {
        sdk: moto_config("as-ops-doctor").await,
        cloudformation: c.cloudformation.record_as("ops-doctor"),
        dynamodb: c.dynamodb.record_as("ops-doctor"),
        eventbridge: c.eventbridge.record_as("ops-doctor"),
        lambda: c.lambda.record_as("ops-doctor"),
        logs: c.logs.record_as("ops-doctor"),
        secrets: c.secrets.record_as("ops-doctor"),
        sns: c.sns.record_as("ops-doctor"),
        sqs: c.sqs.record_as("ops-doctor"),
    }
}

/// The stack as moto can create it: what the doctor reads, named as template.yaml
/// names it; the webhook URLs point at the local API.
fn stack_template(api: &str, suffix: &str) -> String {
    format!(
        r#"{{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {{
    "EnableCcpayment": {{"Type": "String", "Default": "true"}},
    "EnableCcpaymentV2": {{"Type": "String", "Default": "true"}},
    "EnableAlchemypay": {{"Type": "String", "Default": "true"}},
    "EnableCitypay": {{"Type": "String", "Default": "true"}},
    "CitypayCustomerId": {{"Type": "String", "Default": ""}},
    "EventTtlDays": {{"Type": "String", "Default": "90"}}
  }},
  "Resources": {{
    "AlarmTopic": {{"Type": "AWS::SNS::Topic"}},
    "PaymentEventBus": {{"Type": "AWS::Events::EventBus", "Properties": {{"Name": "doctor{suffix}-payments"}}}},
    "StreamTable": {{"Type": "AWS::DynamoDB::Table", "Properties": {{
      "TableName": "doctor{suffix}-table", "BillingMode": "PAY_PER_REQUEST",
      "AttributeDefinitions": [{{"AttributeName": "pk", "AttributeType": "S"}}],
      "KeySchema": [{{"AttributeName": "pk", "KeyType": "HASH"}}],
      "StreamSpecification": {{"StreamViewType": "NEW_AND_OLD_IMAGES"}}}}}},
    "PublisherRole": {{"Type": "AWS::IAM::Role", "Properties": {{
      "AssumeRolePolicyDocument": {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Service": "lambda.amazonaws.com"}}, "Action": "sts:AssumeRole"}}]}}}}}},
    "PublisherFunction": {{"Type": "AWS::Lambda::Function", "Properties": {{
      "FunctionName": "doctor{suffix}-publisher", "Runtime": "provided.al2023", "Handler": "bootstrap",
      "Role": {{"Fn::GetAtt": ["PublisherRole", "Arn"]}}, "Code": {{"ZipFile": "not run here"}}}}}},
    "PublisherStream": {{"Type": "AWS::Lambda::EventSourceMapping", "Properties": {{
      "FunctionName": {{"Ref": "PublisherFunction"}}, "EventSourceArn": {{"Fn::GetAtt": ["StreamTable", "StreamArn"]}},
      "StartingPosition": "TRIM_HORIZON", "Enabled": true}}}}
  }},
  "Outputs": {{
    "TableName": {{"Value": "doctor{suffix}-table"}},
    "PaymentEventBusName": {{"Value": "doctor{suffix}-payments"}},
    "AlarmTopicArn": {{"Value": {{"Ref": "AlarmTopic"}}}},
    "PaymentsLookupUrl": {{"Value": "{api}/payments/"}},
    "PaymentsLookupInvokeArn": {{"Value": "arn:aws:execute-api:us-east-1:123456789012:local/*/GET/payments/*"}},
    "UnresolvedUrl": {{"Value": "{api}/unresolved"}},
    "UnresolvedListInvokeArn": {{"Value": "arn:aws:execute-api:us-east-1:123456789012:local/*/GET/unresolved"}},
    "ReconcilerFunctionName": {{"Value": "doctor{suffix}-reconciler"}},
    "PublisherFunctionName": {{"Value": {{"Ref": "PublisherFunction"}}}},
    "CcpaymentWebhookUrl": {{"Value": "{api}/webhooks/ccpayment"}},
    "CcpaymentSecretName": {{"Value": "doctor{suffix}/ccpayment"}},
    "CcpaymentV2WebhookUrl": {{"Value": "{api}/webhooks/ccpayment-v2"}},
    "CcpaymentV2SecretName": {{"Value": "doctor{suffix}/ccpayment-v2"}},
    "AlchemypayWebhookUrl": {{"Value": "{api}/webhooks/alchemypay/"}},
    "AlchemypayPathTokenSecretName": {{"Value": "doctor{suffix}/alchemypay-path-token"}},
    "CitypayCallbackUrl": {{"Value": "{api}/webhooks/citypay/"}},
    "CitypayPathTokenSecretName": {{"Value": "doctor{suffix}/citypay-path-token"}},
    "CitypayAccessTokenSecretName": {{"Value": "doctor{suffix}/citypay-access-token"}}
  }}
}}"#
    )
}

fn failed(report: &doctor::Report) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.clone())
        .collect()
}

#[tokio::test]
async fn every_check_fails_with_what_to_do_then_passes_and_no_probe_stores_anything() {
    let suffix = format!("{:x}", std::process::id());
    let stack = format!("doctor{suffix}");
    // The receivers and the lookup, on a fresh table of DynamoDB Local.
    let dynamodb = aws_sdk_dynamodb::Client::new(shared::store::sdk_config().await);
    let table = format!("doctor-probes-{suffix}");
    shared::store::schema::create_table(&dynamodb, &table)
        .await
        .unwrap();
    let store = Store::new(dynamodb.clone(), &table, 90);
    let api = Arc::new(LocalApi {
        v1: shared::ccpayment::CcpaymentReceiver::new(
            shared::ccpayment::CcpaymentConfig {
                accounts: account(V1_ID, V1_SECRET),
                freshness: freshness(),
                max_body_bytes: 64 * 1024,
            },
            store.clone(),
            Metrics::memory().0,
        ),
        v2: shared::ccpayment_v2::CcpaymentV2Receiver::new(
            shared::ccpayment_v2::CcpaymentV2::new(shared::ccpayment_v2::CcpaymentV2Config {
                accounts: account(V2_ID, V2_SECRET),
                freshness: freshness(),
                max_body_bytes: 64 * 1024,
                api_base: "http://127.0.0.1:9".into(),
                confirm_timeout: Duration::from_millis(200),
            })
            .unwrap(),
            store.clone(),
            Metrics::memory().0,
        ),
        alchemy: shared::alchemypay::AlchemypayReceiver::new(
            shared::alchemypay::AlchemypayConfig {
                path_token: Secret::new(ALCHEMY_TOKEN),
                allowed_ips: shared::intake::IpAllowList::default(),
                max_body_bytes: 64 * 1024,
            },
            store.clone(),
            Metrics::memory().0,
        ),
        citypay: shared::citypay::CitypayReceiver::new(
            shared::citypay::Citypay::new(shared::citypay::CitypayConfig {
                path_token: Secret::new(CITYPAY_TOKEN),
                allowed_ips: shared::intake::IpAllowList::default(),
                max_body_bytes: 64 * 1024,
                api_base: "http://127.0.0.1:9".into(),
                confirm_timeout: Duration::from_millis(200),
                customer_id: Some("99".into()),
            })
            .unwrap(),
            store.clone(),
            Metrics::memory().0,
        ),
        store: store.clone(),
        // The CCPayment v1 route and the list's are missing at first, as from a
        // broken deploy.
        routes: std::sync::Mutex::new(vec!["ccpayment-v2", "alchemypay", "citypay", "lookup"]),
    });
    let addr = start_api(api.clone()).await;

    // The stack, created by moto's CloudFormation from the template above.
    let sdk = moto_config("testing").await;
    let aws = doctor_clients(&sdk).await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    cfn.create_stack()
        .stack_name(&stack)
        .template_body(stack_template(&format!("http://{addr}"), &suffix))
        .send()
        .await
        .unwrap();
    // The secrets as the template creates them: placeholders, generated tokens.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let placeholder =
        r#"{"app_id":"REPLACE_ME","app_secret":"REPLACE_ME","app_secret_previous":""}"#;
    for (name, value) in [
        ("ccpayment", placeholder),
        ("ccpayment-v2", placeholder),
        ("alchemypay-path-token", ALCHEMY_TOKEN),
        ("citypay-path-token", CITYPAY_TOKEN),
        ("citypay-access-token", "REPLACE_ME"),
    ] {
        sm.create_secret()
            .name(format!("doctor{suffix}/{name}"))
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    let deployment = Deployment::of_stack(&cfn.record_as("ops-stack"), &stack)
        .await
        .unwrap();
    assert_eq!(
        deployment.table.as_deref(),
        Some(format!("doctor{suffix}-table").as_str())
    );
    // The doctor's policy, filled in from the stack: nothing left to fill.
    let policy = payments_ops::permissions::filled("doctor", &deployment).unwrap();
    assert!(!policy.contains("${"), "{policy}");
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(
        policy["Statement"][0]["Resource"],
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{stack}/*")
    );
    assert_eq!(
        policy["Statement"][2]["Resource"],
        deployment.outputs["AlarmTopicArn"]
    );
    assert!(payments_ops::permissions::filled("doctor", &Deployment::from_env()).is_err());

    // First run: a fresh deploy, nothing filled, nobody listening.
    let report = doctor::run(&aws, &deployment).await.unwrap();
    print!("{}", report.render());
    assert_eq!(
        failed(&report),
        vec![
            "secret ccpayment",
            "secret ccpayment-v2",
            "citypay access token and id",
            "route ccpayment",
            "ccpayment-v2 activation ping",
            "operator's list (SigV4)",
            "alarm subscription",
            "rules on the bus",
            "reconciler last run",
        ]
    );
    let text = report.render();
    assert!(text.contains("`app_id` is not filled in yet"), "{text}");
    assert!(text.contains("answered 404"), "{text}");
    assert!(text.contains("alarms reach nobody"), "{text}");
    assert!(text.contains("payment events go nowhere"), "{text}");
    assert!(text.contains("no run in the last 30 minutes"), "{text}");
    for c in &report.checks {
        assert!(
            c.ok || c.fix.is_some(),
            "{} failed without what to do",
            c.name
        );
    }
    assert!(report.check("route alchemypay").unwrap().ok);
    assert!(report.check("lookup (SigV4)").unwrap().ok, "{text}");
    assert!(report.check("stream to publisher").unwrap().ok, "{text}");
    assert!(report.check("stack outputs").unwrap().ok, "{text}");

    // The operator fills the secrets, subscribes, adds a rule; the route is back; the
    // reconciler has run. One secret is filled with a different App Secret than the
    // function holds: the activation ping says so.
    let fill = |name: String, value: String| {
        let sm = sm.clone();
        async move {
            sm.put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await
                .unwrap();
        }
    };
    let json = |id: &str, secret: &str| {
        format!(r#"{{"app_id":"{id}","app_secret":"{secret}","app_secret_previous":""}}"#)
    };
    fill(format!("doctor{suffix}/ccpayment"), json(V1_ID, V1_SECRET)).await;
    fill(
        format!("doctor{suffix}/ccpayment-v2"),
        json(V2_ID, "not-the-functions-secret"),
    )
    .await;
    fill(
        format!("doctor{suffix}/citypay-access-token"),
        "citypay-api-token".into(),
    )
    .await;
    api.routes
        .lock()
        .unwrap()
        .extend(["ccpayment", "unresolved"]);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(format!("doctor{suffix}-pager"))
        .send()
        .await
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(queue.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&deployment.outputs["AlarmTopicArn"])
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    aws_sdk_eventbridge::Client::new(&sdk)
        .put_rule()
        .name(format!("doctor{suffix}-to-shop"))
        .event_bus_name(format!("doctor{suffix}-payments"))
        .event_pattern(r#"{"detail-type":[{"prefix":"payment."}]}"#)
        .send()
        .await
        .unwrap();
    // A reconciler run's summary line, as the function logs it.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let group = format!("/aws/lambda/doctor{suffix}-reconciler");
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("run")
        .send()
        .await
        .unwrap();
    let log_run = |level: &'static str| {
        let logs = logs.clone();
        let group = group.clone();
        async move {
            logs.put_log_events()
                .log_group_name(group)
                .log_stream_name("run")
                .log_events(
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(shared::clock::now_ms())
                        .message(format!(
                            r#"{{"level":"{level}","message":"reconciler run","summary":"{{}}"}}"#
                        ))
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    log_run("INFO").await;
    let mut params = deployment.clone();
    params
        .parameters
        .insert("CitypayCustomerId".into(), "99".into());

    let report = doctor::run(&aws, &params).await.unwrap();
    print!("{}", report.render());
    assert_eq!(failed(&report), vec!["ccpayment-v2 activation ping"]);
    assert!(
        report.render().contains("answered 401"),
        "{}",
        report.render()
    );

    fill(
        format!("doctor{suffix}/ccpayment-v2"),
        json(V2_ID, V2_SECRET),
    )
    .await;
    let report = doctor::run(&aws, &params).await.unwrap();
    print!("{}", report.render());
    assert!(report.passed(), "{}", report.render());

    // Then the stream mapping is switched off, and a run fails: both seen.
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let mappings = lambda
        .list_event_source_mappings()
        .function_name(format!("doctor{suffix}-publisher"))
        .send()
        .await
        .unwrap();
    let uuid = mappings.event_source_mappings()[0]
        .uuid()
        .unwrap()
        .to_string();
    lambda
        .update_event_source_mapping()
        .uuid(uuid)
        .enabled(false)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    log_run("ERROR").await;
    let report = doctor::run(&aws, &params).await.unwrap();
    print!("{}", report.render());
    assert_eq!(
        failed(&report),
        vec!["stream to publisher", "reconciler last run"]
    );
    assert!(report.render().contains("the last run failed"));

    // No probe stored or quarantined anything, and no secret was printed.
    let items = dynamodb.scan().table_name(&table).send().await.unwrap();
    assert_eq!(items.count(), 0, "{:?}", items.items());
    let json = serde_json::to_string(&report).unwrap();
    for secret in [
        V1_SECRET,
        V2_SECRET,
        ALCHEMY_TOKEN,
        CITYPAY_TOKEN,
        "citypay-api-token",
    ] {
        assert!(!json.contains(secret) && !report.render().contains(secret));
    }
}
