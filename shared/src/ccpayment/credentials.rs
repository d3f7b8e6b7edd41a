//! CCPayment credentials, both API versions: one or more accounts (App ID, App
//! Secret, and the secret before the last rotation). A merchant with several shops
//! has several App IDs; the `Appid` header of a delivery selects one.
//!
//! From the secret named by `<PREFIX>_SECRET_ARN`, else from the environment
//! (`<PREFIX>_APP_ID`, `<PREFIX>_APP_SECRET`, `<PREFIX>_APP_SECRET_PREVIOUS`: one
//! account, for the local stack and the tests).

use serde::Deserialize;

use crate::config::{self, ConfigError};
use crate::secret::Secret;
use crate::secrets::PLACEHOLDER;

#[derive(Debug, Clone)]
pub struct Credentials {
    pub app_id: String,
    pub secret: Secret,
    /// The secret before the last rotation, accepted until `previous_until`.
    pub previous_secret: Option<Secret>,
    /// Unix seconds after which the previous secret is no longer accepted. Read
    /// from configuration it is always set: a rotation has an end.
    pub previous_until: Option<i64>,
}

impl Credentials {
    /// An account with no rotation under way.
    pub fn new(app_id: impl Into<String>, secret: &str) -> Self {
        Self {
            app_id: app_id.into(),
            secret: Secret::new(secret),
            previous_secret: None,
            previous_until: None,
        }
    }

    /// The previous secret, if it is still accepted at `now_unix`.
    pub fn previous_at(&self, now_unix: i64) -> Option<&Secret> {
        let until = self.previous_until.unwrap_or(i64::MAX);
        self.previous_secret.as_ref().filter(|_| now_unix < until)
    }
}

/// Unix seconds or an RFC 3339 time (`2026-12-31T00:00:00Z`).
fn parse_until(name: &'static str, text: &str) -> Result<i64, ConfigError> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    aws_sdk_dynamodb::primitives::DateTime::from_str(
        text,
        aws_sdk_dynamodb::primitives::DateTimeFormat::DateTime,
    )
    .map(|t| t.secs())
    .map_err(|_| ConfigError::Invalid {
        name,
        reason: "the previous secret's end must be Unix seconds or an RFC 3339 time".into(),
    })
}

/// A previous secret needs an end; without one it would be accepted for ever.
fn previous(
    name: &'static str,
    secret: Option<String>,
    until: Option<String>,
) -> Result<(Option<Secret>, Option<i64>), ConfigError> {
    let secret = secret
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != PLACEHOLDER);
    let Some(secret) = secret else {
        return Ok((None, None));
    };
    let until = until
        .filter(|u| !u.trim().is_empty())
        .ok_or(ConfigError::Invalid {
            name,
            reason: "a previous App Secret needs its end (app_secret_previous_until, or \
                     <PREFIX>_APP_SECRET_PREVIOUS_UNTIL): Unix seconds or RFC 3339"
                .into(),
        })?;
    Ok((Some(Secret::new(secret)), Some(parse_until(name, &until)?)))
}

/// Every account of one API version; App IDs are unique.
#[derive(Debug, Clone)]
pub struct Accounts(Vec<Credentials>);

impl Accounts {
    pub fn new(accounts: Vec<Credentials>) -> Result<Self, String> {
        if accounts.is_empty() {
            return Err("no account".into());
        }
        for (i, a) in accounts.iter().enumerate() {
            if accounts.iter().skip(i + 1).any(|b| b.app_id == a.app_id) {
                return Err(format!("App ID {} is listed twice", a.app_id));
            }
        }
        Ok(Self(accounts))
    }

    pub fn one(credentials: Credentials) -> Self {
        Self(vec![credentials])
    }

    /// The account a delivery names in its `Appid` header.
    pub fn get(&self, app_id: &str) -> Option<&Credentials> {
        self.0.iter().find(|a| a.app_id == app_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Credentials> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The environment variables one API version reads its accounts from.
#[derive(Debug, Clone, Copy)]
pub struct EnvNames {
    pub arn: &'static str,
    pub app_id: &'static str,
    pub secret: &'static str,
    pub previous: &'static str,
    pub previous_until: &'static str,
}

pub const V1_ENV: EnvNames = EnvNames {
    arn: "CCPAYMENT_SECRET_ARN",
    app_id: "CCPAYMENT_APP_ID",
    secret: "CCPAYMENT_APP_SECRET",
    previous: "CCPAYMENT_APP_SECRET_PREVIOUS",
    previous_until: "CCPAYMENT_APP_SECRET_PREVIOUS_UNTIL",
};

/// `None` when neither the secret nor the variables are set.
pub async fn from_env(names: EnvNames) -> Result<Option<Accounts>, ConfigError> {
    if let Some(arn) = config::optional(names.arn) {
        let client = crate::secrets::client().await;
        let json = crate::secrets::fetch(&client, names.arn, &arn).await?;
        return parse(&json, names.arn).map(Some);
    }
    let Some(app_id) = config::optional(names.app_id) else {
        return Ok(None);
    };
    let (previous_secret, previous_until) = previous(
        names.previous,
        config::optional(names.previous),
        config::optional(names.previous_until),
    )?;
    Ok(Some(Accounts::one(Credentials {
        app_id,
        secret: Secret::new(config::required(names.secret)?.trim()),
        previous_secret,
        previous_until,
    })))
}

/// One account: `{"app_id": "...", "app_secret": "...", "app_secret_previous": ""}`.
#[derive(Deserialize)]
struct AccountJson {
    app_id: String,
    app_secret: String,
    #[serde(default)]
    app_secret_previous: String,
    #[serde(default)]
    app_secret_previous_until: Option<serde_json::Value>,
}

impl std::fmt::Debug for AccountJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountJson(<redacted>)")
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SecretJson {
    One(AccountJson),
    Several(Vec<AccountJson>),
}

impl std::fmt::Debug for SecretJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretJson(<redacted>)")
    }
}

/// The secret's JSON: one account object, or a list of them. A placeholder left in
/// place is refused, so a half-configured stack fails at start, not per delivery;
/// no error repeats a secret's value.
pub fn parse(json: &Secret, name: &'static str) -> Result<Accounts, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid { name, reason };
    let parsed: SecretJson = serde_json::from_str(json.expose()).map_err(|_| {
        invalid(
            "the secret must be JSON: an object with app_id, app_secret and optionally \
             app_secret_previous, or a list of such objects"
                .into(),
        )
    })?;
    let list = match parsed {
        SecretJson::One(a) => vec![a],
        SecretJson::Several(v) => v,
    };
    let mut accounts = Vec::new();
    for a in list {
        for (field, value) in [("app_id", &a.app_id), ("app_secret", &a.app_secret)] {
            if value.trim().is_empty() || value == PLACEHOLDER {
                return Err(invalid(format!(
                    "`{field}` is not filled in yet (see docs/operations.md, 'Filling the secrets')"
                )));
            }
        }
        let until = a.app_secret_previous_until.as_ref().map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let (previous_secret, previous_until) =
            previous(name, Some(a.app_secret_previous.clone()), until)?;
        accounts.push(Credentials {
            app_id: a.app_id.trim().to_string(),
            // A secret pasted with a newline would refuse every delivery.
            secret: Secret::new(a.app_secret.trim()),
            previous_secret,
            previous_until,
        });
    }
    Accounts::new(accounts).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "CCPAYMENT_SECRET_ARN";

    #[test]
    fn one_account() {
        let a = parse(
            &Secret::new(r#"{"app_id":"a1","app_secret":"s1","app_secret_previous":""}"#),
            NAME,
        )
        .unwrap();
        assert_eq!(a.len(), 1);
        let c = a.get("a1").unwrap();
        assert_eq!(c.secret.expose(), "s1");
        assert!(c.previous_secret.is_none());
        let pasted = parse(
            &Secret::new(
                r#"{"app_id":"a1","app_secret":"s1\n","app_secret_previous":" s0 ","app_secret_previous_until":1800000000}"#,
            ),
            NAME,
        )
        .unwrap();
        let c = pasted.get("a1").unwrap();
        assert_eq!(
            c.secret.expose(),
            "s1",
            "a pasted newline is not the secret"
        );
        assert_eq!(c.previous_secret.as_ref().unwrap().expose(), "s0");
        assert_eq!(c.previous_until, Some(1_800_000_000));
        assert!(c.previous_at(1_799_999_999).is_some());
        assert!(c.previous_at(1_800_000_000).is_none(), "past its end");
        let r = parse(
            &Secret::new(
                r#"{"app_id":"a1","app_secret":"s2","app_secret_previous":"s1","app_secret_previous_until":"2027-01-01T00:00:00Z"}"#,
            ),
            NAME,
        )
        .unwrap();
        assert_eq!(r.get("a1").unwrap().previous_until, Some(1_798_761_600));
        let endless = parse(
            &Secret::new(r#"{"app_id":"a1","app_secret":"s2","app_secret_previous":"s1"}"#),
            NAME,
        );
        assert!(
            endless.is_err(),
            "a previous secret without an end is refused at start"
        );
        assert_eq!(
            r.get("a1")
                .unwrap()
                .previous_secret
                .as_ref()
                .unwrap()
                .expose(),
            "s1"
        );
    }

    #[test]
    fn several_accounts_selected_by_app_id() {
        let a = parse(
            &Secret::new(
                r#"[{"app_id":"shop-a","app_secret":"sa"},{"app_id":"shop-b","app_secret":"sb"}]"#,
            ),
            NAME,
        )
        .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a.get("shop-b").unwrap().secret.expose(), "sb");
        assert!(a.get("shop-c").is_none());
    }

    #[test]
    fn placeholders_duplicates_and_garbage_are_refused_without_echoing_the_secret() {
        for bad in [
            r#"{"app_id":"REPLACE_ME","app_secret":"REPLACE_ME"}"#,
            r#"{"app_id":"a1","app_secret":""}"#,
            r#"{"app_id":"a1","app_secret":" \n"}"#,
            r#"{"app_id":"a1"}"#,
            r#"[]"#,
            r#"[{"app_id":"a1","app_secret":"hunter2"},{"app_id":"a1","app_secret":"hunter2"}]"#,
            "hunter2-not-json",
        ] {
            let err = parse(&Secret::new(bad), NAME).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains(NAME), "{err}");
        }
    }
}
