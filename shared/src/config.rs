//! Settings read once per cold start from the environment.

use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub fn required(name: &'static str) -> Result<String, ConfigError> {
    optional(name).ok_or(ConfigError::Missing(name))
}

/// Unset and empty are the same: SAM parameters often default to "".
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn parse_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

/// Where deliveries are written and how long event items are kept.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub table_name: String,
    pub event_ttl_days: u32,
}

impl StoreConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            event_ttl_days: event_ttl_days()?,
        })
    }
}

/// How long event items are kept: the dedupe horizon.
pub fn event_ttl_days() -> Result<u32, ConfigError> {
    let days = parse_or("EVENT_TTL_DAYS", 90u32)?;
    if days == 0 {
        return Err(ConfigError::Invalid {
            name: "EVENT_TTL_DAYS",
            reason: "must be at least 1".into(),
        });
    }
    Ok(days)
}
