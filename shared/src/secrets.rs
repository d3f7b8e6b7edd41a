//! Secrets from AWS Secrets Manager, read once per cold start. A function finds a
//! secret through `<NAME>_SECRET_ARN`; without it, `<NAME>` itself is read from the
//! environment (the local stack and the tests).

use crate::config::{self, ConfigError};
use crate::secret::Secret;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// What the template writes into a secret the operator must fill.
pub const PLACEHOLDER: &str = "REPLACE_ME";

/// Built from the process's one AWS configuration (see `store::sdk_config`).
pub async fn client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(crate::store::sdk_config().await)
}

pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    name: &'static str,
    arn: &str,
) -> Result<Secret, ConfigError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| ConfigError::Invalid {
            name,
            reason: format!("cannot read the secret: {}", DisplayErrorContext(&e)),
        })?;
    out.secret_string()
        .map(Secret::new)
        .ok_or(ConfigError::Invalid {
            name,
            reason: "the secret has no string value".into(),
        })
}

/// `<name>` from Secrets Manager when `<name>_SECRET_ARN` is set, else from the environment.
pub async fn string(
    name: &'static str,
    arn_var: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    match config::optional(arn_var) {
        Some(arn) => fetch(&client().await, arn_var, &arn).await.map(Some),
        None => Ok(config::optional(name).map(Secret::new)),
    }
}
