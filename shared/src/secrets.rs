//! Secrets from AWS Secrets Manager, read once per cold start. A function finds a
//! secret through `<NAME>_SECRET_ARN`; without it, `<NAME>` itself is read from the
//! environment (the local stack and the tests).

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::Deserialize;

use crate::config::{self, ConfigError};
use crate::secret::Secret;

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

/// CCPayment's credentials: from the secret named by `CCPAYMENT_SECRET_ARN`, else
/// from `CCPAYMENT_APP_ID` / `CCPAYMENT_APP_SECRET` / `CCPAYMENT_APP_SECRET_PREVIOUS`;
/// `None` when neither is configured.
pub async fn ccpayment_from_env() -> Result<Option<crate::ccpayment::Credentials>, ConfigError> {
    if let Some(arn) = config::optional("CCPAYMENT_SECRET_ARN") {
        let json = fetch(&client().await, "CCPAYMENT_SECRET_ARN", &arn).await?;
        return ccpayment_credentials(&json).map(Some);
    }
    let Some(app_id) = config::optional("CCPAYMENT_APP_ID") else {
        return Ok(None);
    };
    Ok(Some(crate::ccpayment::Credentials {
        app_id,
        secret: Secret::new(config::required("CCPAYMENT_APP_SECRET")?),
        previous_secret: config::optional("CCPAYMENT_APP_SECRET_PREVIOUS").map(Secret::new),
    }))
}

/// The CCPayment secret: `{"app_id": "...", "app_secret": "...", "app_secret_previous": ""}`.
#[derive(Deserialize)]
struct CcpaymentJson {
    app_id: String,
    app_secret: String,
    #[serde(default)]
    app_secret_previous: String,
}

impl std::fmt::Debug for CcpaymentJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CcpaymentJson(<redacted>)")
    }
}

/// App ID, secret and previous secret from the secret's JSON; a placeholder left in
/// place is refused, so a half-configured stack fails at start, not per delivery.
pub fn ccpayment_credentials(json: &Secret) -> Result<crate::ccpayment::Credentials, ConfigError> {
    const NAME: &str = "CCPAYMENT_SECRET_ARN";
    let parsed: CcpaymentJson =
        serde_json::from_str(json.expose()).map_err(|_| ConfigError::Invalid {
            name: NAME,
            reason:
                "the secret must be JSON with app_id, app_secret and optionally app_secret_previous"
                    .into(),
        })?;
    for (field, value) in [
        ("app_id", &parsed.app_id),
        ("app_secret", &parsed.app_secret),
    ] {
        if value.trim().is_empty() || value == PLACEHOLDER {
            return Err(ConfigError::Invalid {
                name: NAME,
                reason: format!(
                    "`{field}` is not filled in yet (see README, 'Filling the secrets')"
                ),
            });
        }
    }
    let previous = parsed.app_secret_previous.trim();
    Ok(crate::ccpayment::Credentials {
        app_id: parsed.app_id,
        secret: Secret::new(parsed.app_secret),
        previous_secret: (!previous.is_empty() && previous != PLACEHOLDER)
            .then(|| Secret::new(previous)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ccpayment_secret_json() {
        let c = ccpayment_credentials(&Secret::new(
            r#"{"app_id":"a1","app_secret":"s1","app_secret_previous":""}"#,
        ))
        .unwrap();
        assert_eq!((c.app_id.as_str(), c.secret.expose()), ("a1", "s1"));
        assert!(c.previous_secret.is_none());
        let r = ccpayment_credentials(&Secret::new(
            r#"{"app_id":"a1","app_secret":"s2","app_secret_previous":"s1"}"#,
        ))
        .unwrap();
        assert_eq!(r.previous_secret.unwrap().expose(), "s1");
    }

    #[test]
    fn placeholders_and_garbage_are_refused_without_echoing_the_secret() {
        for bad in [
            r#"{"app_id":"REPLACE_ME","app_secret":"REPLACE_ME"}"#,
            r#"{"app_id":"a1","app_secret":""}"#,
            r#"{"app_id":"a1"}"#,
            "hunter2-not-json",
        ] {
            let err = ccpayment_credentials(&Secret::new(bad))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("CCPAYMENT_SECRET_ARN"), "{err}");
        }
    }
}
