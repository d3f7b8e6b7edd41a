//! The AWS clients the commands use, built once from the shared configuration. The
//! tests build them one by one (each pointed at its stand-in, and recording the
//! calls each command makes, to hold against `docs/operator-permissions/`).

use aws_config::SdkConfig;

#[derive(Debug, Clone)]
pub struct Clients {
    /// The configuration the lookup probe signs its SigV4 request with.
    pub sdk: SdkConfig,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            cloudformation: aws_sdk_cloudformation::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            eventbridge: aws_sdk_eventbridge::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
        }
    }
}
