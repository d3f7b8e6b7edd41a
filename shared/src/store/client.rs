use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;

/// A client with deadlines that fit inside a webhook answer: a provider that waits
/// on a hung connection gives up and retries anyway, so fail fast and answer 5xx.
/// `AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local.
pub async fn dynamodb_client() -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(800))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(7))
        .build();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    Client::new(&config)
}
