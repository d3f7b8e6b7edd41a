//! Each check: what it reads, what counts as healthy, what to do otherwise.

use std::time::Duration;

use shared::secret::Secret;

use super::check::Check;
use crate::clients::Clients;
use crate::deployment::Deployment;
use crate::error::{aws_error, OpsError};

/// How a provider's deliveries are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// App ID and App Secret: the secret holds the accounts.
    Signed,
    /// The last path segment: the secret holds it.
    PathToken,
}

#[derive(Debug)]
struct Provider {
    name: &'static str,
    switch: &'static str,
    url: &'static str,
    secret: &'static str,
    auth: Auth,
}

const PROVIDERS: [Provider; 4] = [
    Provider {
        name: "ccpayment",
        switch: "EnableCcpayment",
        url: "CcpaymentWebhookUrl",
        secret: "CcpaymentSecretName",
        auth: Auth::Signed,
    },
    Provider {
        name: "ccpayment-v2",
        switch: "EnableCcpaymentV2",
        url: "CcpaymentV2WebhookUrl",
        secret: "CcpaymentV2SecretName",
        auth: Auth::Signed,
    },
    Provider {
        name: "alchemypay",
        switch: "EnableAlchemypay",
        url: "AlchemypayWebhookUrl",
        secret: "AlchemypayPathTokenSecretName",
        auth: Auth::PathToken,
    },
    Provider {
        name: "citypay",
        switch: "EnableCitypay",
        url: "CitypayCallbackUrl",
        secret: "CitypayPathTokenSecretName",
        auth: Auth::PathToken,
    },
];

const COMMON_OUTPUTS: [&str; 7] = [
    "TableName",
    "PaymentEventBusName",
    "AlarmTopicArn",
    "PaymentsLookupUrl",
    "UnresolvedUrl",
    "ReconcilerFunctionName",
    "PublisherFunctionName",
];

const CITYPAY_ACCESS_TOKEN: &str = "CitypayAccessTokenSecretName";

/// A path segment no deployment uses as its token: of the right shape, so the
/// function compares it (and refuses it) rather than failing on its form.
const PROBE_TOKEN: &str = "doctor-probe-never-a-path-token-0000";

fn on(d: &Deployment, p: &Provider) -> bool {
    d.parameters.get(p.switch).map(String::as_str) != Some("false")
}

/// The stack outputs every later check reads.
pub fn outputs(d: &Deployment) -> Check {
    let mut wanted: Vec<&str> = COMMON_OUTPUTS.to_vec();
    for p in PROVIDERS.iter().filter(|p| on(d, p)) {
        wanted.extend([p.url, p.secret]);
        if p.name == "citypay" {
            wanted.push(CITYPAY_ACCESS_TOKEN);
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|o| !d.outputs.contains_key(*o))
        .collect();
    if missing.is_empty() {
        Check::pass("stack outputs", format!("{} present", wanted.len()))
    } else {
        Check::fail(
            "stack outputs",
            format!("missing: {}", missing.join(", ")),
            "deploy the stack again (sam build && sam deploy); an output still missing after a \
             successful deploy means the stack is older than this tool",
        )
    }
}

/// The clients and settings every probe shares.
#[derive(Debug)]
pub struct Probe<'a> {
    d: &'a Deployment,
    aws: &'a Clients,
    http: reqwest::Client,
}

fn brief(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(100).collect()
}

impl<'a> Probe<'a> {
    pub fn new(aws: &'a Clients, d: &'a Deployment) -> Result<Self, OpsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(OpsError::cannot)?;
        Ok(Self { d, aws, http })
    }

    fn output(&self, name: &str) -> Option<&str> {
        self.d.outputs.get(name).map(String::as_str)
    }

    async fn secret_value(&self, name: &str) -> Result<Secret, String> {
        let out = self
            .aws
            .secrets
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| format!("cannot read it: {}", aws_error(&e)))?;
        out.secret_string()
            .map(Secret::new)
            .ok_or_else(|| "it holds no string".to_string())
    }

    /// Every enabled provider's secret is filled and of the right shape; never printed.
    pub async fn secrets(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for p in PROVIDERS.iter().filter(|p| on(self.d, p)) {
            let check = format!("secret {}", p.name);
            let Some(name) = self.output(p.secret) else {
                out.push(Check::fail(
                    check,
                    "no secret name in the outputs",
                    "see 'stack outputs'",
                ));
                continue;
            };
            let verdict = match self.secret_value(name).await {
                Err(e) => Err(e),
                Ok(value) => match p.auth {
                    Auth::Signed => shared::ccpayment::credentials::parse(&value, "secret")
                        .map(|a| format!("{name}: {} account(s)", a.len()))
                        .map_err(|e| match e {
                            shared::config::ConfigError::Invalid { reason, .. } => reason,
                            other => other.to_string(),
                        }),
                    Auth::PathToken => shared::intake::path_token_shape(value.expose().trim())
                        .map(|()| format!("{name}: a path token of the right shape"))
                        .map_err(str::to_string),
                },
            };
            out.push(match verdict {
                Ok(detail) => Check::pass(check, detail),
                Err(e) => Check::fail(
                    check,
                    format!("{name}: {e}"),
                    format!(
                        "fill it: aws secretsmanager put-secret-value --secret-id {name} \
                         --secret-string '...' (docs/operations.md, 'Filling the secrets'), or switch the \
                         provider off ({}=false)",
                        p.switch
                    ),
                ),
            });
            if p.name == "citypay" {
                out.push(self.citypay_access().await);
            }
        }
        out
    }

    async fn citypay_access(&self) -> Check {
        let check = "citypay access token and id";
        let customer = self
            .d
            .parameters
            .get("CitypayCustomerId")
            .is_some_and(|c| !c.trim().is_empty());
        let Some(name) = self.output(CITYPAY_ACCESS_TOKEN) else {
            return Check::fail(
                check,
                "no secret name in the outputs",
                "see 'stack outputs'",
            );
        };
        let token = match self.secret_value(name).await {
            Ok(v) => {
                let t = v.expose().trim();
                !t.is_empty() && t != shared::secrets::PLACEHOLDER
            }
            Err(_) => false,
        };
        match (token, customer) {
            (true, true) => Check::pass(check, format!("{name} filled, CitypayCustomerId set")),
            _ => Check::fail(
                check,
                format!(
                    "{}{}",
                    if token {
                        ""
                    } else {
                        "the access token is not filled (no order-history sweep); "
                    },
                    if customer {
                        ""
                    } else {
                        "CitypayCustomerId is empty (no order is confirmed)"
                    }
                )
                .trim_end_matches("; ")
                .to_string(),
                format!(
                    "put CityPay's API access token in {name}; deploy with CitypayCustomerId set \
                     (the customer cabinet shows it)"
                ),
            ),
        }
    }

    /// Each webhook route reaches its own function: a probe it refuses itself
    /// (unsigned, or a wrong path token), never one it would store.
    pub async fn routes(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for p in PROVIDERS.iter().filter(|p| on(self.d, p)) {
            let check = format!("route {}", p.name);
            let Some(url) = self.output(p.url) else {
                out.push(Check::fail(
                    check,
                    "no URL in the outputs",
                    "see 'stack outputs'",
                ));
                continue;
            };
            let target = match p.auth {
                Auth::Signed => url.to_string(),
                Auth::PathToken => format!(
                    "{}{PROBE_TOKEN}",
                    url.trim_end_matches('/').to_string() + "/"
                ),
            };
            let answer = self
                .http
                .post(&target)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await;
            out.push(match answer {
                Err(e) => Check::fail(check, format!("no answer: {e}"), "is the API deployed, and reachable from here?"),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    let own = (status == 401 && body.starts_with("unauthorized:"))
                        || (status == 403 && body.starts_with("forbidden:"));
                    if own {
                        Check::pass(check, format!("the function answered {status} ({})", brief(&body)))
                    } else {
                        let fix = match status {
                            404 => "the API has no such route: deploy the stack again".to_string(),
                            500..=599 => format!(
                                "the function fails: read its log (an init error names the setting; a secret not filled is the usual one), see 'secret {}'",
                                p.name
                            ),
                            _ => "the route does not reach this provider's function: compare the API's routes with template.yaml".to_string(),
                        };
                        Check::fail(check, format!("answered {status} ({})", brief(&body)), fix)
                    }
                }
            });
        }
        out
    }

    /// CCPayment v2's signed activation ping: answered `Success`, stored nowhere.
    pub async fn v2_ping(&self) -> Check {
        let check = "ccpayment-v2 activation ping";
        let Some(p) = PROVIDERS.iter().find(|p| p.name == "ccpayment-v2") else {
            return Check::fail(check, "no such provider", "a bug of this tool");
        };
        if !on(self.d, p) {
            return Check::pass(check, "CCPayment v2 is switched off");
        }
        let (Some(url), Some(name)) = (self.output(p.url), self.output(p.secret)) else {
            return Check::fail(
                check,
                "no URL or secret in the outputs",
                "see 'stack outputs'",
            );
        };
        let accounts = match self.secret_value(name).await.and_then(|v| {
            shared::ccpayment::credentials::parse(&v, "secret").map_err(|e| e.to_string())
        }) {
            Ok(a) => a,
            Err(_) => {
                return Check::fail(
                    check,
                    "cannot sign: the secret is not filled",
                    "see 'secret ccpayment-v2'",
                )
            }
        };
        let Some(account) = accounts.iter().next() else {
            return Check::fail(
                check,
                "no account in the secret",
                "see 'secret ccpayment-v2'",
            );
        };
        let body = br#"{"type":"ActivateWebhookURL"}"#;
        let timestamp = shared::clock::now_unix().to_string();
        let sign = shared::ccpayment_v2::signature::sign(
            &account.app_id,
            account.secret.expose(),
            &timestamp,
            body,
        );
        let answer = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("Appid", &account.app_id)
            .header("Timestamp", &timestamp)
            .header("Sign", sign)
            .body(body.to_vec())
            .send()
            .await;
        match answer {
            Err(e) => Check::fail(
                check,
                format!("no answer: {e}"),
                "is the API reachable from here?",
            ),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                if status == 200 && text.trim() == "Success" {
                    Check::pass(check, "answered Success")
                } else {
                    Check::fail(
                        check,
                        format!("answered {status} ({})", brief(&text)),
                        "CCPayment's activation would fail the same way: check the secret against \
                         the v2 Developer page and the function's log",
                    )
                }
            }
        }
    }

    /// A SigV4-signed lookup of a reference nobody uses: the function's 404.
    pub async fn lookup(&self) -> Check {
        let check = "lookup (SigV4)";
        let Some(base) = self.output("PaymentsLookupUrl") else {
            return Check::fail(check, "no lookup URL in the outputs", "see 'stack outputs'");
        };
        let reference = format!("doctor-{:016x}", rand_u64());
        let url = format!("{}/{reference}", base.trim_end_matches('/'));
        match crate::sigv4::signed_get(&self.http, &self.aws.sdk, &url).await {
            Err(e) => Check::fail(check, e, "this tool signs with your AWS credentials: configure them"),
            Ok((404, body)) if !body.contains("\"message\"") => {
                Check::pass(check, "a random reference: the function's 404")
            }
            Ok((status, body)) => Check::fail(
                check,
                format!("answered {status} ({})", brief(&body)),
                match status {
                    403 => "your credentials may not call the lookup: allow execute-api:Invoke on PaymentsLookupInvokeArn",
                    _ => "the lookup route does not reach its function: deploy the stack again and read the function's log",
                },
            ),
        }
    }

    /// A SigV4-signed read of the operator's list: its function's page (read only).
    pub async fn unresolved_list(&self) -> Check {
        let check = "operator's list (SigV4)";
        let Some(base) = self.output("UnresolvedUrl") else {
            return Check::fail(check, "no list URL in the outputs", "see 'stack outputs'");
        };
        let url = format!("{}?limit=1", base.trim_end_matches('/'));
        match crate::sigv4::signed_get(&self.http, &self.aws.sdk, &url).await {
            Err(e) => Check::fail(check, e, "this tool signs with your AWS credentials: configure them"),
            Ok((200, body)) => match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(page) if page.get("counts").is_some() => {
                    let total: u64 = page
                        .get("counts")
                        .and_then(serde_json::Value::as_object)
                        .map(|c| {
                            c.values()
                                .filter_map(|v| v.get("total")?.as_u64())
                                .sum()
                        })
                        .unwrap_or(0);
                    Check::pass(check, format!("the function's page: {total} unresolved"))
                }
                _ => Check::fail(
                    check,
                    format!("answered 200 without the list ({})", brief(&body)),
                    "the route does not reach the list's function: deploy the stack again",
                ),
            },
            Ok((status, body)) => Check::fail(
                check,
                format!("answered {status} ({})", brief(&body)),
                match status {
                    403 => "your credentials may not read the list: allow execute-api:Invoke on UnresolvedListInvokeArn",
                    _ => "the route does not reach the list's function: deploy the stack again and read the function's log",
                },
            ),
        }
    }

    /// The publisher's stream mapping is enabled: otherwise no event leaves.
    pub async fn stream_mapping(&self) -> Check {
        let check = "stream to publisher";
        let Some(function) = self.output("PublisherFunctionName") else {
            return Check::fail(
                check,
                "no publisher name in the outputs",
                "see 'stack outputs'",
            );
        };
        match self
            .aws
            .lambda
            .list_event_source_mappings()
            .function_name(function)
            .send()
            .await
        {
            Err(e) => Check::fail(
                check,
                format!("cannot list its mappings: {}", aws_error(&e)),
                "allow lambda:ListEventSourceMappings, or look in the Lambda console",
            ),
            Ok(out) => {
                let states: Vec<String> = out
                    .event_source_mappings()
                    .iter()
                    .map(|m| m.state().unwrap_or("unknown").to_string())
                    .collect();
                if states.iter().any(|s| s == "Enabled") {
                    Check::pass(check, "the mapping is Enabled")
                } else {
                    Check::fail(
                        check,
                        if states.is_empty() { "no mapping".to_string() } else { format!("mapping state: {}", states.join(", ")) },
                        "no payment event leaves the table: enable the mapping (aws lambda update-event-source-mapping --enabled) or deploy again",
                    )
                }
            }
        }
    }

    /// Someone receives the alarms.
    pub async fn alarm_subscription(&self) -> Check {
        let check = "alarm subscription";
        let Some(topic) = self.output("AlarmTopicArn") else {
            return Check::fail(
                check,
                "no alarm topic in the outputs",
                "see 'stack outputs'",
            );
        };
        match self
            .aws
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(topic)
            .send()
            .await
        {
            Err(e) => Check::fail(
                check,
                format!("cannot list its subscriptions: {}", aws_error(&e)),
                "allow sns:ListSubscriptionsByTopic, or look in the SNS console",
            ),
            Ok(out) => {
                let subs = out.subscriptions();
                let confirmed: Vec<&str> = subs
                    .iter()
                    .filter(|s| s.subscription_arn().is_some_and(|a| a.starts_with("arn:")))
                    .map(|s| s.protocol().unwrap_or("?"))
                    .collect();
                if confirmed.is_empty() {
                    Check::fail(
                        check,
                        format!("{} subscription(s), none confirmed", subs.len()),
                        "alarms reach nobody: set AlarmEmail and confirm AWS's mail, or subscribe your pager to AlarmTopicArn",
                    )
                } else {
                    Check::pass(
                        check,
                        format!("{} confirmed ({})", confirmed.len(), confirmed.join(", ")),
                    )
                }
            }
        }
    }

    /// At least one rule on the bus: otherwise events go nowhere.
    pub async fn bus_rules(&self) -> Check {
        let check = "rules on the bus";
        let Some(bus) = self.output("PaymentEventBusName") else {
            return Check::fail(check, "no bus in the outputs", "see 'stack outputs'");
        };
        match self
            .aws
            .eventbridge
            .list_rules().event_bus_name(bus).send().await {
            Err(e) => Check::fail(
                check,
                format!("cannot list its rules: {}", aws_error(&e)),
                "allow events:ListRules, or look in the EventBridge console",
            ),
            Ok(out) if out.rules().is_empty() => Check::fail(
                check,
                format!("bus {bus} has no rule"),
                "payment events go nowhere: add a rule for detail-type payment.* to your systems (docs/payments.md, 'Events out')",
            ),
            Ok(out) => Check::pass(check, format!("{} rule(s) on {bus}", out.rules().len())),
        }
    }

    /// The reconciler's last run, from its own summary line: each run logs one
    /// `"reconciler run"` line, at INFO when every step went well, ERROR otherwise.
    pub async fn reconciler_ran(&self) -> Check {
        let check = "reconciler last run";
        if self
            .d
            .parameters
            .get("ReconcilerEnabled")
            .map(String::as_str)
            == Some("false")
        {
            return Check::pass(
                check,
                "the schedule is switched off (ReconcilerEnabled=false)",
            );
        }
        let Some(function) = self.output("ReconcilerFunctionName") else {
            return Check::fail(
                check,
                "no reconciler name in the outputs",
                "see 'stack outputs'",
            );
        };
        let since_ms = (shared::clock::now_unix() - 30 * 60) * 1000;
        let mut latest: Option<(i64, String)> = None;
        let mut token = None;
        for _ in 0..20 {
            let page = self
                .aws
                .logs
                .filter_log_events()
                .log_group_name(format!("/aws/lambda/{function}"))
                .filter_pattern("\"reconciler run\"")
                .start_time(since_ms)
                .set_next_token(token)
                .send()
                .await;
            let page = match page {
                Ok(p) => p,
                // A function that never ran has no log group yet.
                Err(e)
                    if aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata::code(&e)
                        == Some("ResourceNotFoundException") =>
                {
                    break;
                }
                Err(e) => return Check::fail(
                    check,
                    format!("cannot read its log: {}", aws_error(&e)),
                    "allow logs:FilterLogEvents on its log group, or read the log in the console",
                ),
            };
            for event in page.events() {
                let at = event.timestamp().unwrap_or(0);
                if latest.as_ref().is_none_or(|(t, _)| at > *t) {
                    latest = Some((at, event.message().unwrap_or_default().to_string()));
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let Some((_, line)) = latest else {
            return Check::fail(
                check,
                "no run in the last 30 minutes",
                "check the schedule (ReconcilerSchedule, ReconcilerEnabled) and the function's log",
            );
        };
        let run: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        match run.get("level").and_then(serde_json::Value::as_str) {
            Some("INFO") => Check::pass(check, "ran in the last 30 minutes, every step went well"),
            _ => Check::fail(
                check,
                "the last run failed",
                "its log line \"reconciler run\" lists the failing steps in `errors` (docs/alarms.md)",
            ),
        }
    }
}

/// A reference no one has: 64 random bits from the clock and the process.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
