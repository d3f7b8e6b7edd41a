//! Records the AWS calls each function's code makes while the tests run it, for the
//! test that holds them against the function's IAM policy in `template.yaml`.
//!
//! A client acting for a function carries [`Recorder`] (an SDK interceptor): before
//! each request is sent it notes the function (its logical id in the template), the
//! service, the operation and the resources the request names: the table and
//! index, each item of a transaction, the bus, the queue, the secret. Loopback fakes
//! that cannot carry an interceptor record the same from the request they receive
//! (see [`role_of_access_key`]).
//!
//! Records go to `$AWS_CALLS_DIR/<pid>.jsonl` (set by `scripts/test.sh`), one line
//! per distinct call; without that variable nothing is written.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use aws_sdk_dynamodb::config::{ConfigBag, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde_json::{json, Value};

/// Where the records go, when set.
pub const DIR_VAR: &str = "AWS_CALLS_DIR";

/// An access key id `as-<Function>` makes a fake record its calls for `<Function>`.
pub const ACCESS_KEY_PREFIX: &str = "as-";

/// One resource a call names: `table`, `index/<name>`, `bus`, `queue`,
/// `secret/<name>`, `stack`, `topic`, `log-group`, `*` for an action IAM grants on
/// no resource, `?` for an operation this module does not know yet (so the policy
/// test fails on it rather than missing it); with the item action for a
/// transaction's parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Touched {
    pub resource: String,
    pub part: Option<String>,
}

/// The interceptor: every request a client sends is recorded for `function`.
#[derive(Debug, Clone)]
pub struct Recorder {
    function: &'static str,
}

impl Recorder {
    pub fn new(function: &'static str) -> Self {
        Self { function }
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(meta) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let body: Value = context
            .request()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        record(
            self.function,
            meta.service(),
            meta.name(),
            &touched(meta.name(), &body),
        );
        Ok(())
    }
}

/// An SDK client that can be copied with a [`Recorder`] added: every request of
/// the copy is recorded for `function` (a template logical id, or `ops-<command>`
/// for the operator's command line).
pub trait RecordAs: Sized {
    fn record_as(&self, function: &'static str) -> Self;
}

macro_rules! record_as {
    ($($sdk:ident),*) => {$(
        impl RecordAs for $sdk::Client {
            fn record_as(&self, function: &'static str) -> Self {
                $sdk::Client::from_conf(
                    self.config()
                        .to_builder()
                        .interceptor(Recorder::new(function))
                        .build(),
                )
            }
        }
    )*};
}

record_as!(
    aws_sdk_cloudformation,
    aws_sdk_cloudwatchlogs,
    aws_sdk_dynamodb,
    aws_sdk_eventbridge,
    aws_sdk_lambda,
    aws_sdk_secretsmanager,
    aws_sdk_sns,
    aws_sdk_sqs
);

/// The function a request's SigV4 access key id names (`as-<Function>`), if any.
pub fn role_of_access_key(authorization: &str) -> Option<String> {
    let key = authorization
        .split("Credential=")
        .nth(1)?
        .split('/')
        .next()?;
    key.strip_prefix(ACCESS_KEY_PREFIX).map(str::to_string)
}

/// The secret's name in an ARN (`…:secret:<name>-AbCdEf`) or a plain name.
fn secret_name(id: &str) -> String {
    match id.split(":secret:").nth(1) {
        Some(rest) => match rest.rsplit_once('-') {
            Some((name, suffix)) if suffix.len() == 6 => name.to_string(),
            _ => rest.to_string(),
        },
        None => id.to_string(),
    }
}

/// What a request's JSON body names. Tables, buses and queues have one kind each
/// in the template, so their test names do not matter; secrets are told apart
/// by name (tests name them after the template's resources).
pub fn touched(operation: &str, body: &Value) -> Vec<Touched> {
    let plain = |resource: String| Touched {
        resource,
        part: None,
    };
    let mut out = Vec::new();
    match operation {
        "TransactWriteItems" | "TransactGetItems" => {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                if let Some((part, _)) = item.as_object().and_then(|o| o.iter().next()) {
                    out.push(Touched {
                        resource: "table".into(),
                        part: Some(part.clone()),
                    });
                }
            }
        }
        "BatchGetItem" | "BatchWriteItem" => out.push(plain("table".into())),
        "PutEvents" => out.push(plain("bus".into())),
        "SendMessage" | "SendMessageBatch" => out.push(plain("queue".into())),
        "GetSecretValue" => out.push(plain(format!(
            "secret/{}",
            secret_name(body["SecretId"].as_str().unwrap_or_default())
        ))),
        "DescribeStacks" => out.push(plain("stack".into())),
        "ListSubscriptionsByTopic" => out.push(plain("topic".into())),
        "FilterLogEvents" => out.push(plain("log-group".into())),
        "ListRules" | "ListEventSourceMappings" => out.push(plain("*".into())),
        _ => {
            if body.get("TableName").is_some() {
                match body["IndexName"].as_str() {
                    Some(index) => out.push(plain(format!("index/{index}"))),
                    None => out.push(plain("table".into())),
                }
            }
        }
    }
    if out.is_empty() {
        out.push(plain("?".into()));
    }
    out
}

fn seen() -> &'static Mutex<HashSet<String>> {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Appends one line per distinct (function, service, operation, resource, part).
pub fn record(function: &str, service: &str, operation: &str, touched: &[Touched]) {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let lines: Vec<String> = touched
        .iter()
        .map(|t| {
            json!({
                "function": function,
                "service": service,
                "operation": operation,
                "resource": t.resource,
                "part": t.part,
            })
            .to_string()
        })
        .collect();
    let Ok(mut seen) = seen().lock() else {
        return;
    };
    let new: Vec<&String> = lines.iter().filter(|l| seen.insert((*l).clone())).collect();
    if new.is_empty() {
        return;
    }
    let path = std::path::Path::new(&dir).join(format!("{}.jsonl", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        for line in new {
            let _ = writeln!(f, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_name_each_item_action_and_queries_their_index() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}},
            {"ConditionCheck": {"TableName": "t"}}]});
        let parts: Vec<Option<String>> = touched("TransactWriteItems", &body)
            .into_iter()
            .map(|t| t.part)
            .collect();
        assert_eq!(
            parts,
            vec![
                Some("Put".into()),
                Some("Update".into()),
                Some("ConditionCheck".into())
            ]
        );
        let q = touched("Query", &json!({"TableName": "t", "IndexName": "open"}));
        assert_eq!(q[0].resource, "index/open");
        let s = touched(
            "GetSecretValue",
            &json!({"SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:CcpaymentSecret-AbCdEf"}),
        );
        assert_eq!(s[0].resource, "secret/CcpaymentSecret");
        assert_eq!(
            role_of_access_key("AWS4-HMAC-SHA256 Credential=as-ReconcilerFunction/20261204/us-east-1/secretsmanager/aws4_request, SignedHeaders=host"),
            Some("ReconcilerFunction".into())
        );
    }
}
