//! Secrets come from Secrets Manager at cold start: the fetch against a loopback
//! fake of `GetSecretValue`, and what is done with the values.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use shared::ccpayment::credentials;
use shared::secrets;
use testkit::secretsmanager::FakeSecretsManager;

async fn client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "local", "local", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&conf)
}

#[tokio::test]
async fn ccpayment_credentials_and_path_tokens_are_read_from_secrets_manager() {
    let fake = FakeSecretsManager::start().await;
    let sm = client(&fake.endpoint()).await;
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stack/ccpayment-AbCdEf";
    fake.put(arn, r#"{"app_id":"202302010636261620672405236006912","app_secret":"s-new","app_secret_previous":"s-old","app_secret_previous_until":"2027-01-01T00:00:00Z"}"#);
    let json = secrets::fetch(&sm, "CCPAYMENT_SECRET_ARN", arn)
        .await
        .unwrap();
    let accounts = credentials::parse(&json, "CCPAYMENT_SECRET_ARN").unwrap();
    let creds = accounts
        .get("202302010636261620672405236006912")
        .unwrap()
        .clone();
    assert_eq!(creds.app_id, "202302010636261620672405236006912");
    assert_eq!(creds.secret.expose(), "s-new");
    assert_eq!(creds.previous_secret.unwrap().expose(), "s-old");
    assert_eq!(creds.previous_until, Some(1_798_761_600));

    let token_arn =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:stack/alchemypay-path-token-XyZ";
    fake.put(token_arn, "Zq3kT9vX2mB7nL4pR8sW1yC6dF0gH5jK");
    assert_eq!(
        secrets::fetch(&sm, "ALCHEMYPAY_PATH_TOKEN_SECRET_ARN", token_arn)
            .await
            .unwrap()
            .expose(),
        "Zq3kT9vX2mB7nL4pR8sW1yC6dF0gH5jK"
    );
}

#[tokio::test]
async fn a_missing_secret_or_the_template_placeholder_stops_the_cold_start() {
    let fake = FakeSecretsManager::start().await;
    let sm = client(&fake.endpoint()).await;
    let err = secrets::fetch(&sm, "CCPAYMENT_SECRET_ARN", "arn:missing")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CCPAYMENT_SECRET_ARN") && err.contains("ResourceNotFoundException"),
        "{err}"
    );
    fake.put(
        "arn:placeholder",
        r#"{"app_id":"REPLACE_ME","app_secret":"REPLACE_ME","app_secret_previous":""}"#,
    );
    let json = secrets::fetch(&sm, "CCPAYMENT_SECRET_ARN", "arn:placeholder")
        .await
        .unwrap();
    let err = credentials::parse(&json, "CCPAYMENT_SECRET_ARN")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not filled in yet"), "{err}");
}

/// Each receiver reads, at cold start, the secret its template environment variable
/// names: the read goes through the same `secrets::fetch` as the function's, signed
/// as that function, so the policy check (`template_schema.rs`) sees the call.
#[tokio::test]
async fn each_receiver_reads_the_secret_its_template_variable_names() {
    let template: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap(),
    )
    .unwrap();
    let fake = FakeSecretsManager::start().await;
    for (function, variable) in [
        ("CcpaymentWebhookFunction", credentials::V1_ENV.arn),
        (
            "CcpaymentV2WebhookFunction",
            shared::ccpayment_v2::receiver::ENV.arn,
        ),
        (
            "AlchemypayWebhookFunction",
            "ALCHEMYPAY_PATH_TOKEN_SECRET_ARN",
        ),
        ("CitypayWebhookFunction", "CITYPAY_PATH_TOKEN_SECRET_ARN"),
    ] {
        let value =
            &template["Resources"][function]["Properties"]["Environment"]["Variables"][variable];
        let serde_yaml::Value::Tagged(tagged) = value else {
            panic!("{function}: {variable} is not a !Ref to a secret: {value:?}");
        };
        let secret = tagged.value.as_str().unwrap();
        assert_eq!(
            template["Resources"][secret]["Type"], "AWS::SecretsManager::Secret",
            "{function}: {variable}"
        );
        let arn = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret}-AbCdEf");
        fake.put(&arn, "filled");
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(fake.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                format!("{}{function}", testkit::calls::ACCESS_KEY_PREFIX),
                "local",
                None,
                None,
                "test",
            ))
            .load()
            .await;
        let sm = aws_sdk_secretsmanager::Client::new(&conf);
        let value = secrets::fetch(&sm, variable, &arn).await.unwrap();
        assert_eq!(value.expose(), "filled");
    }
}
