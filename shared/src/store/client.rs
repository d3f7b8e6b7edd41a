use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use tokio::sync::OnceCell;

static SDK_CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

/// The AWS configuration of this process, loaded once (credentials chain, region)
/// and shared by every client built at cold start. Its deadlines fit inside a
/// webhook answer: a provider that waits on a hung connection gives up and retries
/// anyway, so fail fast and answer 5xx.
pub async fn sdk_config() -> &'static SdkConfig {
    SDK_CONFIG
        .get_or_init(|| async {
            let timeouts = TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(800))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(7))
                .build();
            aws_config::defaults(BehaviorVersion::latest())
                .timeout_config(timeouts)
                .retry_config(RetryConfig::standard().with_max_attempts(3))
                .load()
                .await
        })
        .await
}

/// `AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local.
pub async fn dynamodb_client() -> Client {
    Client::new(sdk_config().await)
}
