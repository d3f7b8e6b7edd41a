//! Where a deployment's parts are: a stack's outputs and parameters (`--stack`), or
//! the environment (`TABLE_NAME`, `EVENT_BUS_NAME`, `ORDERED_QUEUE_URL`,
//! `EVENT_TTL_DAYS`) for the local stack.

use std::collections::BTreeMap;

use crate::error::OpsError;

#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// The stack's name, when read from one.
    pub stack: Option<String>,
    /// Its ARN (partition, region and account are read from it).
    pub stack_id: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub table: Option<String>,
    pub bus: Option<String>,
    pub queue_url: Option<String>,
    /// How long an acknowledged item is kept: the stack's `EventTtlDays`.
    pub event_ttl_days: u32,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Deployment {
    pub async fn resolve(
        cfn: &aws_sdk_cloudformation::Client,
        stack: Option<&str>,
    ) -> Result<Self, OpsError> {
        match stack {
            Some(name) => Self::of_stack(cfn, name).await,
            None => Ok(Self::from_env()),
        }
    }

    pub fn from_env() -> Self {
        Self {
            table: env("TABLE_NAME"),
            bus: env("EVENT_BUS_NAME"),
            queue_url: env("ORDERED_QUEUE_URL"),
            event_ttl_days: env("EVENT_TTL_DAYS")
                .and_then(|d| d.parse().ok())
                .unwrap_or(90),
            ..Self::default()
        }
    }

    /// `cloudformation:DescribeStacks` on the stack.
    pub async fn of_stack(
        cfn: &aws_sdk_cloudformation::Client,
        name: &str,
    ) -> Result<Self, OpsError> {
        let out = cfn
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| {
                OpsError::CannotRun(format!(
                    "cannot read stack {name}: {}",
                    crate::error::aws_error(&e)
                ))
            })?;
        let stack = out
            .stacks()
            .first()
            .ok_or_else(|| OpsError::CannotRun(format!("no stack named {name}")))?;
        let outputs: BTreeMap<String, String> = stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        let parameters: BTreeMap<String, String> = stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value()?.to_string(),
                ))
            })
            .collect();
        Ok(Self {
            stack: Some(name.to_string()),
            stack_id: stack.stack_id().map(str::to_string),
            table: outputs.get("TableName").cloned(),
            bus: outputs.get("PaymentEventBusName").cloned(),
            queue_url: outputs.get("PaymentEventsOrderedQueueUrl").cloned(),
            event_ttl_days: parameters
                .get("EventTtlDays")
                .and_then(|d| d.parse().ok())
                .unwrap_or(90),
            outputs,
            parameters,
        })
    }

    pub fn table(&self) -> Result<&str, OpsError> {
        self.table.as_deref().ok_or_else(|| {
            OpsError::CannotRun(match &self.stack {
                Some(s) => format!("stack {s} has no output TableName"),
                None => "no table: give --stack NAME, or set TABLE_NAME".into(),
            })
        })
    }

    pub fn bus(&self) -> Result<&str, OpsError> {
        self.bus.as_deref().ok_or_else(|| {
            OpsError::CannotRun(match &self.stack {
                Some(s) => format!("stack {s} has no output PaymentEventBusName"),
                None => "no bus: give --stack NAME, or set EVENT_BUS_NAME".into(),
            })
        })
    }

    /// The store on this deployment's table.
    pub fn store(&self, aws: &crate::clients::Clients) -> Result<shared::store::Store, OpsError> {
        Ok(shared::store::Store::new(
            aws.dynamodb.clone(),
            self.table()?,
            self.event_ttl_days,
        ))
    }
}
