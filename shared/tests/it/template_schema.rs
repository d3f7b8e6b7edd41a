//! `template.yaml` declares the same table the code writes to and the local stack
//! creates: same keys, same index, same TTL attribute, and it keeps its data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_yaml::Value;
use shared::registry::ALL;
use shared::store::schema;

fn template() -> Value {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn table(t: &Value) -> &Value {
    let resources = t["Resources"].as_mapping().unwrap();
    let tables: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::DynamoDB::Table")
        .collect();
    assert_eq!(tables.len(), 1, "one table");
    tables[0]
}

fn pairs(list: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[a].as_str().unwrap().to_string(),
                e[b].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn table_matches_the_code() {
    let t = template();
    let table = table(&t);
    let props = &table["Properties"];
    let mut expected: Vec<(String, String)> = schema::ATTRIBUTES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    expected.sort();
    assert_eq!(
        pairs(
            &props["AttributeDefinitions"],
            "AttributeName",
            "AttributeType"
        ),
        expected
    );
    assert_eq!(
        pairs(&props["KeySchema"], "AttributeName", "KeyType"),
        vec![
            (schema::PK.into(), "HASH".into()),
            (schema::SK.into(), "RANGE".into())
        ]
    );
    let gsis = props["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(gsis.len(), 2);
    assert_eq!(gsis[0]["IndexName"], schema::OPEN_INDEX);
    assert_eq!(
        pairs(&gsis[0]["KeySchema"], "AttributeName", "KeyType"),
        vec![
            (schema::OPEN_PK.into(), "HASH".into()),
            (schema::OPEN_SINCE.into(), "RANGE".into())
        ]
    );
    assert_eq!(gsis[0]["Projection"]["ProjectionType"], "INCLUDE");
    let projected: Vec<&str> = gsis[0]["Projection"]["NonKeyAttributes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        projected,
        schema::OPEN_PROJECTION,
        "the open index projects what the code reads, and no body"
    );
    assert!(!projected.contains(&"body"));
    assert_eq!(gsis[1]["IndexName"], schema::CHANGED_INDEX);
    assert_eq!(
        pairs(&gsis[1]["KeySchema"], "AttributeName", "KeyType"),
        vec![
            (schema::CHANGED_AT.into(), "RANGE".into()),
            (schema::CHANGED_PK.into(), "HASH".into())
        ]
    );
    assert_eq!(
        gsis[1]["Projection"]["ProjectionType"], "KEYS_ONLY",
        "a replay reads the latest item itself"
    );
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"],
        schema::TTL_ATTRIBUTE
    );
    assert_eq!(props["TimeToLiveSpecification"]["Enabled"], true);
}

#[test]
fn table_keeps_payment_records() {
    let t = template();
    let table = table(&t);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);
    assert_eq!(
        table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
}

/// Every provider in `shared::registry::ALL` is deployed as the list says.
#[test]
fn every_receiver_is_routed_and_built_with_cargo_lambda() {
    let t = template();
    for p in ALL {
        let resource = p.resource;
        let package = p.function;
        let f = &t["Resources"][resource];
        assert_built_by_makefile(&t, resource, package);
        assert_eq!(
            f["Properties"]["CodeUri"],
            format!("functions/{package}").as_str()
        );
        assert!(
            std::path::Path::new(&format!(
                "{}/../functions/{package}/Cargo.toml",
                env!("CARGO_MANIFEST_DIR")
            ))
            .exists(),
            "{package} is a workspace package"
        );
        let event = &f["Properties"]["Events"]["Notification"]["Properties"];
        assert_eq!(event["Path"], p.route, "{resource}");
        assert_eq!(event["Method"], "POST");
    }
    assert_eq!(t["Globals"]["Function"]["Architectures"][0], "arm64");
    assert_eq!(t["Globals"]["Function"]["Runtime"], "provided.al2023");
    assert_eq!(t["Globals"]["Function"]["Handler"], "bootstrap");
}

/// Every provider has its rows on the dashboard, and so has every queue no API can
/// confirm.
#[test]
fn the_dashboard_shows_every_provider() {
    let t = template();
    let mut body = Vec::new();
    strings(
        &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"],
        &mut body,
    );
    let body = body.join("\n");
    for p in ALL {
        let name = p.name;
        for metric in ["Stored", "Latency", "Duplicate", "Rejected"] {
            assert!(
                body.contains(&format!(r#"["${{Ns}}","{metric}","Provider","{name}""#)),
                "dashboard: no {metric} row for {name}"
            );
        }
    }
    for category in shared::unresolved::Category::ALL {
        let category = category.as_str();
        for metric in ["Unresolved", "UnresolvedOverdue"] {
            assert!(
                body.contains(&format!(
                    r#"["${{Ns}}","{metric}","Component","reconciler","Category","{category}"]"#
                )),
                "dashboard: no {metric} row for {category}"
            );
        }
    }
}

/// CloudWatch refuses a dashboard whose body is not JSON, and the deploy with it.
#[test]
fn the_dashboard_body_is_json_and_shows_the_reconciler_metrics() {
    let t = template();
    let mut texts = Vec::new();
    strings(
        &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"],
        &mut texts,
    );
    let body = texts
        .iter()
        .find(|s| s.trim_start().starts_with("{\"widgets\""))
        .expect("the dashboard body");
    // `${...}` substitutions become plain strings, as CloudFormation makes them.
    let mut plain = String::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find("${") {
        plain.push_str(&rest[..i]);
        let end = rest[i..].find('}').expect("a closed substitution");
        plain.push('X');
        rest = &rest[i + end + 1..];
    }
    plain.push_str(rest);
    let parsed: serde_json::Value =
        serde_json::from_str(&plain).unwrap_or_else(|e| panic!("dashboard body is not JSON: {e}"));
    assert!(parsed["widgets"].as_array().is_some_and(|w| !w.is_empty()));
    for metric in [
        "ResendCalls",
        "Unconfirmed",
        "V2Checked",
        "V2Updated",
        "V2Unconfirmed",
        "V2ResendCalls",
        "V2UnverifiedHeld",
        "V2SweepRequests",
        "V2FoundBySweep",
        "V2SweepBehind",
    ] {
        assert!(
            body.contains(&format!("\"{metric}\"")),
            "dashboard: no {metric} row"
        );
    }
}

#[test]
fn reconciler_runs_on_a_schedule_one_at_a_time() {
    let t = template();
    let f = &t["Resources"]["ReconcilerFunction"];
    assert_built_by_makefile(&t, "ReconcilerFunction", "reconciler");
    assert_eq!(f["Properties"]["CodeUri"], "functions/reconciler");
    assert_eq!(f["Properties"]["ReservedConcurrentExecutions"], 1);
    let schedule = &f["Properties"]["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert_eq!(
        t["Parameters"]["ReconcilerSchedule"]["Default"],
        "rate(5 minutes)"
    );
    assert_eq!(t["Parameters"]["ResendDailyCap"]["MaxValue"], 25);
    assert!(
        matches!(
            f["Properties"]["DeadLetterQueue"]["TargetArn"],
            Value::Tagged(_)
        ),
        "failed async runs go to the DLQ"
    );
}

fn functions(t: &Value) -> Vec<(String, &Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect()
}

/// What `!If [condition, value, !Ref AWS::NoValue]` deploys when its provider is on.
fn deployed(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) if t.tag == "If" => &t.value[1],
        _ => v,
    }
}

/// `ccpayment-v2` → `CcpaymentV2`: how the template names a provider's switch.
fn pascal(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A merchant who uses one provider deploys nothing of the others: each provider's
/// function, secrets and outputs hang on its own switch, on by default.
#[test]
fn each_provider_can_be_switched_off() {
    let t = template();
    for p in ALL {
        let name = pascal(p.name);
        let param = &t["Parameters"][format!("Enable{name}").as_str()];
        assert_eq!(param["Default"], "true", "Enable{name}");
        let condition = format!("{name}On");
        assert!(
            !t["Conditions"][condition.as_str()].is_null(),
            "no condition {condition}"
        );
        assert_eq!(t["Resources"][p.resource]["Condition"], condition.as_str());
        for secret in p.secrets {
            assert_eq!(
                t["Resources"][*secret]["Condition"],
                condition.as_str(),
                "{secret}"
            );
        }
        let outputs = t["Outputs"].as_mapping().unwrap();
        for (key, out) in outputs {
            let key = key.as_str().unwrap();
            if key.starts_with(&name) && !key.starts_with(&format!("{name}V")) {
                assert_eq!(out["Condition"], condition.as_str(), "output {key}");
            }
        }
    }
    // The reconciler reads the CCPayment secret only when it exists.
    let r = &t["Resources"]["ReconcilerFunction"]["Properties"];
    let arn = &r["Environment"]["Variables"]["CCPAYMENT_SECRET_ARN"];
    assert!(matches!(arn, Value::Tagged(t) if t.tag == "If"), "{arn:?}");
}

/// Every string anywhere under `v`, tags (`!Sub`, `!GetAtt`...) included.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(seq) => seq.iter().for_each(|x| strings(x, out)),
        Value::Mapping(m) => m.iter().for_each(|(k, x)| {
            strings(k, out);
            strings(x, out);
        }),
        Value::Tagged(t) => strings(&t.value, out),
        _ => {}
    }
}

#[test]
fn every_function_has_a_route_or_a_schedule() {
    let t = template();
    let fns = functions(&t);
    assert_eq!(
        fns.len(),
        ALL.len() + 4,
        "one function per provider, the reconciler, the lookup, the operator's list and the publisher"
    );
    for (name, f) in fns {
        let events = f["Properties"]["Events"].as_mapping().unwrap();
        assert!(
            events.values().any(|e| e["Type"] == "HttpApi"
                || e["Type"] == "ScheduleV2"
                || e["Type"] == "DynamoDB"),
            "{name} has neither a route, a schedule nor a stream"
        );
        let package = f["Properties"]["CodeUri"]
            .as_str()
            .and_then(|c| c.strip_prefix("functions/"))
            .unwrap_or_else(|| panic!("{name}: CodeUri outside functions/"));
        assert_built_by_makefile(&t, name.as_str(), package);
    }
}

/// `sam build` runs the Makefile's `build-<resource>` target in the repository
/// root; it must copy this function's own binary, built with every other one.
fn assert_built_by_makefile(t: &serde_yaml::Value, resource: &str, package: &str) {
    let meta = &t["Resources"][resource]["Metadata"];
    assert_eq!(
        meta["BuildMethod"], "makefile",
        "{resource}: missing from template.yaml, or not built by the Makefile"
    );
    assert_eq!(meta["ContextPath"], ".", "{resource}");
    assert_eq!(meta["WorkingDirectory"], ".", "{resource}");
    let makefile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Makefile")).unwrap();
    let target = format!("build-{resource}:\n\t$(call artifact,{package})\n");
    assert!(makefile.contains(&target), "Makefile lacks {target:?}");
    let functions = makefile
        .split("FUNCTIONS :=")
        .nth(1)
        .and_then(|rest| rest.split("\nLAMBDA_DIR").next())
        .unwrap();
    assert!(
        functions.split_whitespace().any(|f| f == package),
        "{package} is not in the Makefile's FUNCTIONS"
    );
}

#[test]
fn no_iam_statement_has_a_wildcard() {
    let t = template();
    let mut statements = Vec::new();
    for (name, f) in functions(&t) {
        for policy in f["Properties"]["Policies"].as_sequence().unwrap() {
            assert!(
                policy.is_mapping(),
                "{name}: only inline policies, no managed or SAM policy templates"
            );
            for st in policy["Statement"].as_sequence().unwrap() {
                statements.push((name.clone(), deployed(st).clone()));
            }
        }
    }
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        assert!(
            !r["Type"].as_str().unwrap().starts_with("AWS::IAM::"),
            "{name:?}: no hand-written IAM resources to review separately"
        );
    }
    assert!(statements.len() >= 8);
    for (name, st) in statements {
        assert_eq!(st["Effect"], "Allow", "{name}");
        let mut found = Vec::new();
        strings(&st["Action"], &mut found);
        strings(&st["Resource"], &mut found);
        assert!(
            !found.is_empty(),
            "{name}: statement without action or resource"
        );
        for s in found {
            // The one exception: the objects of a bucket this stack owns (the
            // stream mapping names its failure records itself).
            if s == "${PublisherFailures.Arn}/*" {
                continue;
            }
            assert!(!s.contains('*'), "{name}: wildcard in {s:?}");
        }
    }
}

#[test]
fn each_function_reads_only_its_own_secret() {
    let t = template();
    let mut expect: Vec<(&str, Vec<String>)> = ALL
        .iter()
        .map(|p| {
            (
                p.resource,
                p.secrets.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    expect.push((
        "ReconcilerFunction",
        vec![
            "CcpaymentSecret".to_string(),
            "CcpaymentV2Secret".to_string(),
            "CitypayAccessToken".to_string(),
        ],
    ));
    for (function, secrets) in expect {
        let f = &t["Resources"][function];
        let mut refs = Vec::new();
        for policy in f["Properties"]["Policies"].as_sequence().unwrap() {
            for st in policy["Statement"].as_sequence().unwrap() {
                let st = deployed(st);
                let mut actions = Vec::new();
                strings(&st["Action"], &mut actions);
                if actions.iter().any(|a| a.starts_with("secretsmanager:")) {
                    assert_eq!(actions, vec!["secretsmanager:GetSecretValue".to_string()]);
                    strings(&st["Resource"], &mut refs);
                }
            }
        }
        assert_eq!(refs, secrets, "{function}");
    }
}

#[test]
fn every_alarm_notifies_the_topic() {
    let t = template();
    let alarms: Vec<_> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    assert!(alarms.len() >= 8, "alarms went missing");
    // Each alarm is explained for the operator it wakes up.
    let operations =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/alarms.md")).unwrap();
    for (name, a) in alarms {
        let name_text = name.as_str().unwrap();
        assert!(
            operations.contains(&format!("| `{name_text}` |")),
            "docs/alarms.md's alarm table has no row for {name_text}"
        );
        let mut actions = Vec::new();
        strings(&a["Properties"]["AlarmActions"], &mut actions);
        assert_eq!(actions, vec!["AlarmTopic".to_string()], "{name:?}");
    }
}

#[test]
fn the_lookup_is_signed_and_the_webhooks_are_not() {
    let t = template();
    assert_eq!(
        t["Resources"]["WebhookApi"]["Properties"]["Auth"]["EnableIamAuthorizer"],
        true
    );
    let (mut lookups, mut unresolved) = (0, 0);
    for (name, f) in functions(&t) {
        let events = f["Properties"]["Events"].as_mapping().unwrap();
        for e in events.values().filter(|e| e["Type"] == "HttpApi") {
            let p = &e["Properties"];
            let path = p["Path"].as_str().unwrap();
            if path.starts_with("/webhooks/") {
                // A provider cannot sign with SigV4: each delivery authenticates itself.
                assert!(p.get("Auth").is_none(), "{name} {path}");
                assert_eq!(p["Method"], "POST", "{name} {path}");
            } else if path.starts_with("/unresolved") {
                // The operator's list, on a function of its own (its own role).
                assert_eq!(name, "UnresolvedApiFunction", "{path}");
                assert_eq!(p["Auth"]["Authorizer"], "AWS_IAM", "{path}");
                assert_eq!(
                    f["Properties"]["Environment"]["Variables"]["API_ROUTES"],
                    "unresolved"
                );
                let method = if path.ends_with("/acknowledge") {
                    "POST"
                } else {
                    "GET"
                };
                assert_eq!(p["Method"], method, "{path}");
                unresolved += 1;
            } else {
                assert_eq!(name, "PaymentsApiFunction", "{path}");
                assert_eq!(p["Auth"]["Authorizer"], "AWS_IAM", "{path}");
                assert_eq!(p["Method"], "GET", "{path}");
                let parsed = shared::lookup::Lookup::from_path(
                    &path
                        .replace("{merchant_ref}", "m")
                        .replace("{provider}", "ccpayment")
                        .replace("{record_id}", "r")
                        .replace("{user_ref}", "u"),
                );
                assert!(parsed.is_ok(), "{path}: {parsed:?}");
                lookups += 1;
            }
        }
    }
    assert_eq!(lookups, 3);
    assert_eq!(
        unresolved, 2,
        "the list and its acknowledge, each its own route"
    );
    // The merchant's grant reaches the lookup, never the operator's list.
    let mut arn = Vec::new();
    strings(&t["Outputs"]["PaymentsLookupInvokeArn"]["Value"], &mut arn);
    assert!(arn[0].ends_with("/GET/payments/*"), "{arn:?}");
}

#[test]
fn the_stream_mapping_can_never_block_a_shard_for_a_day() {
    let t = template();
    assert_eq!(
        t["Resources"]["PaymentsTable"]["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    let f = &t["Resources"]["PublisherFunction"]["Properties"];
    let e = &f["Events"]["Stream"]["Properties"];
    let param = |v: &Value| -> i64 {
        let Value::Tagged(tag) = v else {
            return v.as_i64().unwrap();
        };
        let name = tag.value.as_str().unwrap();
        t["Parameters"][name]["Default"].as_i64().unwrap()
    };
    let retries = param(&e["MaximumRetryAttempts"]);
    assert!((0..=10_000).contains(&retries), "bounded: {retries}");
    let age = param(&e["MaximumRecordAgeInSeconds"]);
    assert!((60..86_400).contains(&age), "{age}");
    // Paced retries outlast the age bound: a bus outage shorter than it loses nothing.
    let pause = f["Environment"]["Variables"]["PUBLISH_REFUSAL_PAUSE_SECS"]
        .as_i64()
        .unwrap();
    assert!(retries * pause >= age, "{retries} × {pause} s < {age} s");
    assert!(
        f["Timeout"].as_i64().unwrap() >= pause + 20,
        "the pause fits the timeout"
    );
    assert_eq!(e["BisectBatchOnFunctionError"], true);
    assert_eq!(e["ParallelizationFactor"], 1, "per-payment order");
    assert_eq!(e["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    let mut dest = Vec::new();
    strings(
        &e["DestinationConfig"]["OnFailure"]["Destination"],
        &mut dest,
    );
    assert_eq!(dest, ["PublisherFailures.Arn"]);
    assert_eq!(
        t["Resources"]["PublisherFailures"]["Type"], "AWS::S3::Bucket",
        "keeps the whole failed invocation, not only its position"
    );
    // The filter passes payment changes, and nothing else reaches the function.
    let pattern: serde_json::Value = serde_json::from_str(
        e["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pattern["eventName"],
        serde_json::json!(["INSERT", "MODIFY"])
    );
    assert_eq!(
        pattern["dynamodb"]["NewImage"]["item_type"]["S"],
        serde_json::json!([shared::store::payment::ITEM_TYPE])
    );
    let vars = &f["Environment"]["Variables"];
    let mut bus = Vec::new();
    strings(&vars["EVENT_BUS_NAME"], &mut bus);
    assert_eq!(bus, ["PaymentEventBus"]);
}

#[test]
fn the_ordered_queue_is_opt_in_fifo_and_fed_by_the_publisher() {
    let t = template();
    assert_eq!(t["Parameters"]["EnableOrderedQueue"]["Default"], "false");
    let q = &t["Resources"]["PaymentEventsOrdered"];
    assert_eq!(q["Type"], "AWS::SQS::Queue");
    assert_eq!(q["Condition"], "OrderedQueueOn");
    assert_eq!(q["Properties"]["FifoQueue"], true);
    assert_eq!(
        q["Properties"]["ContentBasedDeduplication"], false,
        "the publisher gives each message its event_id"
    );
    let f = &t["Resources"]["PublisherFunction"]["Properties"];
    let mut url = Vec::new();
    strings(
        &f["Environment"]["Variables"]["ORDERED_QUEUE_URL"],
        &mut url,
    );
    assert_eq!(url, ["OrderedQueueOn", "PaymentEventsOrdered", ""]);
    let mut policy = Vec::new();
    strings(&f["Policies"], &mut policy);
    let send = policy.iter().position(|s| s == "sqs:SendMessage").unwrap();
    assert_eq!(
        policy.get(send.saturating_sub(4)..send + 3).unwrap(),
        [
            "OrderedQueueOn",
            "Effect",
            "Allow",
            "Action",
            "sqs:SendMessage",
            "Resource",
            "PaymentEventsOrdered.Arn"
        ]
    );
    assert_eq!(
        t["Outputs"]["PaymentEventsOrderedQueueUrl"]["Condition"],
        "OrderedQueueOn"
    );
}

/// The IAM actions one recorded call needs (service authorization reference:
/// a transaction is authorized per item action; a batch read as BatchGetItem).
fn needed_actions(service: &str, operation: &str, part: Option<&str>) -> Vec<&'static str> {
    match (service, operation, part) {
        ("DynamoDB", "GetItem", _) => vec!["dynamodb:GetItem"],
        ("DynamoDB", "PutItem", _) => vec!["dynamodb:PutItem"],
        ("DynamoDB", "UpdateItem", _) => vec!["dynamodb:UpdateItem"],
        ("DynamoDB", "DeleteItem", _) => vec!["dynamodb:DeleteItem"],
        ("DynamoDB", "Query", _) => vec!["dynamodb:Query"],
        ("DynamoDB", "Scan", _) => vec!["dynamodb:Scan"],
        ("DynamoDB", "BatchGetItem", _) => vec!["dynamodb:BatchGetItem"],
        ("DynamoDB", "BatchWriteItem", _) => vec!["dynamodb:BatchWriteItem"],
        ("DynamoDB", "TransactWriteItems", Some("Put")) => vec!["dynamodb:PutItem"],
        ("DynamoDB", "TransactWriteItems", Some("Update")) => vec!["dynamodb:UpdateItem"],
        ("DynamoDB", "TransactWriteItems", Some("Delete")) => vec!["dynamodb:DeleteItem"],
        ("DynamoDB", "TransactWriteItems", Some("ConditionCheck")) => {
            vec!["dynamodb:ConditionCheckItem"]
        }
        ("DynamoDB", "TransactGetItems", Some("Get")) => vec!["dynamodb:GetItem"],
        ("EventBridge", "PutEvents", _) => vec!["events:PutEvents"],
        // A batch is authorized as SendMessage.
        ("SQS", "SendMessage" | "SendMessageBatch", _) => vec!["sqs:SendMessage"],
        ("Secrets Manager", "GetSecretValue", _) => vec!["secretsmanager:GetSecretValue"],
        ("CloudFormation", "DescribeStacks", _) => vec!["cloudformation:DescribeStacks"],
        ("CloudWatch Logs", "FilterLogEvents", _) => vec!["logs:FilterLogEvents"],
        ("EventBridge", "ListRules", _) => vec!["events:ListRules"],
        ("Lambda", "ListEventSourceMappings", _) => vec!["lambda:ListEventSourceMappings"],
        ("SNS", "ListSubscriptionsByTopic", _) => vec!["sns:ListSubscriptionsByTopic"],
        ("execute-api", "Invoke", _) => vec!["execute-api:Invoke"],
        other => panic!("no IAM mapping for {other:?}: add it to needed_actions"),
    }
}

/// Granted actions no test can perform, and why.
const NOT_EXERCISED: &[(&str, &str, &str, &str)] = &[
    (
        "PublisherFunction",
        "s3:PutObject",
        "bucket/*",
        "written by Lambda's stream mapping (its on-failure destination) with the function's role, not by the code",
    ),
    (
        "PublisherFunction",
        "s3:ListBucket",
        "bucket",
        "the on-failure destination's check of the bucket, by Lambda with the function's role",
    ),
];

/// A policy resource as the recorder names it: `table`, `index/open`, `bus`,
/// `queue`, `bucket`, `bucket/*`, `secret/<logical id>`.
fn resource_name(t: &Value, v: &Value) -> String {
    let kind_of = |logical: &str| match t["Resources"][logical]["Type"].as_str().unwrap_or_default()
    {
        "AWS::DynamoDB::Table" => "table",
        "AWS::Events::EventBus" => "bus",
        "AWS::SQS::Queue" => "queue",
        "AWS::S3::Bucket" => "bucket",
        other => panic!("{logical}: no resource kind for {other}"),
    };
    match v {
        Value::Tagged(tag) if tag.tag == "GetAtt" => {
            let text = tag.value.as_str().unwrap();
            kind_of(text.split('.').next().unwrap()).to_string()
        }
        Value::Tagged(tag) if tag.tag == "Ref" => {
            let logical = tag.value.as_str().unwrap();
            assert_eq!(
                t["Resources"][logical]["Type"], "AWS::SecretsManager::Secret",
                "{logical}"
            );
            format!("secret/{logical}")
        }
        Value::Tagged(tag) if tag.tag == "Sub" => {
            let text = tag.value.as_str().unwrap();
            let (head, rest) = text.trim_start_matches("${").split_once(".Arn}").unwrap();
            match (kind_of(head), rest.strip_prefix("/index/")) {
                ("table", Some(index)) => format!("index/{index}"),
                (kind, _) => format!("{kind}{rest}"),
            }
        }
        other => panic!("unexpected policy resource {other:?}"),
    }
}

/// Every (action, resource) a function's own policies grant, with every provider on.
fn grants(t: &Value, function: &Value) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
        out.extend(statement_grants(policy, |r| resource_name(t, r)));
    }
    out
}

/// The operator's command-line tool acts as `ops-<command>`: its policy is
/// `docs/operator-permissions/<command>.json`.
const OPS_PREFIX: &str = "ops-";

fn operator_policies() -> std::collections::BTreeMap<String, Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operator-permissions");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_str().unwrap().to_string();
            let doc = serde_yaml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, doc)
        })
        .collect()
}

/// An operator policy's resource as the recorder names it; `*` in a name stands
/// for what a `${...}` placeholder is filled with.
fn operator_resource(arn: &str) -> String {
    let filled = |text: &str| {
        let mut out = String::new();
        let mut rest = text;
        while let Some((head, tail)) = rest.split_once("${") {
            out.push_str(head);
            out.push('*');
            rest = tail.split_once('}').unwrap().1;
        }
        out + rest
    };
    match arn {
        "*" => "*".into(),
        "${AlarmTopicArn}" => "topic".into(),
        "${PaymentEventBusArn}" => "bus".into(),
        "${PaymentsLookupInvokeArn}" => "route/GET/payments/*".into(),
        "${UnresolvedListInvokeArn}" => "route/GET/unresolved".into(),
        a if a.contains(":dynamodb:") => match a.split_once("/index/") {
            Some((_, index)) => format!("index/{index}"),
            None => "table".into(),
        },
        a if a.contains(":sqs:") => "queue".into(),
        a if a.contains(":cloudformation:") => "stack".into(),
        a if a.contains(":logs:") => "log-group".into(),
        a if a.contains(":secretsmanager:") => {
            format!("secret/{}", filled(a.split(":secret:").nth(1).unwrap()))
        }
        other => panic!("no resource kind for {other}"),
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// Every (action, resource) one policy document's statements grant.
fn statement_grants(
    policy: &Value,
    resource: impl Fn(&Value) -> String,
) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for statement in policy["Statement"].as_sequence().unwrap() {
        let statement = deployed(statement);
        assert_eq!(statement["Effect"], "Allow");
        let actions: Vec<&str> = match &statement["Action"] {
            Value::String(a) => vec![a.as_str()],
            list => list
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect(),
        };
        let resources: Vec<&Value> = match &statement["Resource"] {
            Value::Sequence(list) => list.iter().collect(),
            one => vec![one],
        };
        for a in &actions {
            for r in &resources {
                out.insert((a.to_string(), resource(r)));
            }
        }
    }
    out
}

/// Every `${...}` in the operator's policies is a pseudo parameter or one of the
/// stack's outputs, so an operator can fill each from `describe-stacks`.
#[test]
fn operator_policies_name_only_the_stacks_outputs() {
    let t = template();
    let policies = operator_policies();
    assert!(policies.contains_key("stack") && policies.contains_key("doctor"));
    for (name, doc) in &policies {
        let text = serde_json::to_string(
            &serde_yaml::from_value::<serde_json::Value>(doc.clone()).unwrap(),
        )
        .unwrap();
        let mut rest = text.as_str();
        while let Some((_, tail)) = rest.split_once("${") {
            let (placeholder, after) = tail.split_once('}').unwrap();
            assert!(
                placeholder.starts_with("AWS::") || !t["Outputs"][placeholder].is_null(),
                "{name}.json: ${{{placeholder}}} is no output of the stack"
            );
            rest = after;
        }
        statement_grants(doc, |r| operator_resource(r.as_str().unwrap()));
    }
}

/// Run by `scripts/test.sh` after every other test, over the calls they recorded
/// (`testkit::calls`): each call a function's code made is granted by its policy on
/// the resource it touched, and each grant is used by some call or listed in
/// `NOT_EXERCISED` with its reason. The same for each command of the operator's
/// tool against its policy in `docs/operator-permissions/`.
#[test]
#[ignore = "reads the calls the whole suite recorded; scripts/test.sh runs it last"]
fn every_recorded_call_is_granted_and_every_grant_is_used() {
    use std::collections::{BTreeMap, BTreeSet};
    let dir = std::env::var(testkit::calls::DIR_VAR)
        .expect("AWS_CALLS_DIR: the directory the suite recorded its calls in");
    let mut calls: BTreeSet<(String, String, String, String, Option<String>)> = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            calls.insert((
                s("function"),
                s("service"),
                s("operation"),
                s("resource"),
                v["part"].as_str().map(str::to_string),
            ));
        }
    }
    let t = template();
    // Who may call what: each function by its policies, each command by its file.
    let mut granted: BTreeMap<String, BTreeSet<(String, String)>> = functions(&t)
        .into_iter()
        .map(|(name, f)| {
            let g = grants(&t, f);
            (name, g)
        })
        .collect();
    for (command, doc) in operator_policies() {
        granted.insert(
            format!("{OPS_PREFIX}{command}"),
            statement_grants(&doc, |r| operator_resource(r.as_str().unwrap())),
        );
    }
    let mut used: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut problems = Vec::new();
    println!(
        "{:28} {:16} {:24} {:36} needs",
        "function or command", "service", "operation", "resource"
    );
    for (function, service, operation, resource, part) in &calls {
        let Some(grants) = granted.get(function) else {
            problems.push(format!(
                "{function}: recorded, but no such function in template.yaml \
                 (nor docs/operator-permissions/<command>.json for ops-<command>)"
            ));
            continue;
        };
        let op = match part {
            Some(p) => format!("{operation}.{p}"),
            None => operation.clone(),
        };
        let needed = needed_actions(service, operation, part.as_deref());
        println!(
            "{function:28} {service:16} {op:24} {resource:36} {}",
            needed.join(", ")
        );
        for action in needed {
            let matching: Vec<&(String, String)> = grants
                .iter()
                .filter(|(a, r)| a == action && glob(r, resource))
                .collect();
            if matching.is_empty() {
                problems.push(format!(
                    "{function} performs {service} {op} on {resource}: {action} is not granted on it"
                ));
            }
            for grant in matching {
                used.entry(function.clone())
                    .or_default()
                    .insert(grant.clone());
            }
        }
    }
    for (name, grants) in &granted {
        for (action, resource) in grants {
            let performed = used
                .get(name)
                .is_some_and(|u| u.contains(&(action.clone(), resource.clone())));
            let excused = NOT_EXERCISED
                .iter()
                .any(|(f, a, r, _)| f == name && a == action && r == resource);
            if !performed && !excused {
                problems.push(format!(
                    "{name} is granted {action} on {resource}, which no test performs: \
                     remove it, or list it in NOT_EXERCISED with the reason"
                ));
            }
            if performed && excused {
                problems.push(format!(
                    "{name}: {action} on {resource} is performed; drop it from NOT_EXERCISED"
                ));
            }
        }
    }
    for (f, a, r, why) in NOT_EXERCISED {
        println!("{f:28} granted, not exercised here: {a} on {r} ({why})");
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Every category the reconciler pages for has its parameter (defaulting to the
/// code's default), its condition and its alarm on `UnresolvedNeedsAHuman` with
/// that category; `PAGE_AFTER_HOURS` passes each parameter under its category.
#[test]
fn each_paging_category_has_its_limit_parameter_and_alarm() {
    use shared::reconcile::paging;
    let t = template();
    let sub = t["Resources"]["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
        ["PAGE_AFTER_HOURS"]
        .clone();
    let Value::Tagged(tag) = sub else {
        panic!("PAGE_AFTER_HOURS is a !Sub")
    };
    assert_eq!(tag.tag, "Sub");
    let text = tag.value.as_str().unwrap();
    let defaults = paging::parse(paging::DEFAULT).unwrap();
    let mut seen = Vec::new();
    for part in text.split(',') {
        let (category, param) = part.split_once('=').unwrap();
        let param = param.trim_start_matches("${").trim_end_matches('}');
        let name = param.strip_suffix("PageAfterHours").unwrap();
        let default = t["Parameters"][param]["Default"].as_i64().unwrap();
        let code = defaults
            .iter()
            .find(|(c, _)| c.as_str() == category)
            .map(|(_, secs)| secs / 3600);
        assert_eq!(Some(default), code, "{param}: the code's default differs");
        assert_eq!(
            t["Parameters"][param]["MinValue"], 0,
            "{param}: 0 never pages"
        );
        let alarm = &t["Resources"][format!("{name}NeedsAHumanAlarm").as_str()];
        assert_eq!(alarm["Condition"], format!("{name}PagingOn").as_str());
        assert!(!t["Conditions"][format!("{name}PagingOn").as_str()].is_null());
        let p = &alarm["Properties"];
        assert_eq!(p["MetricName"], "UnresolvedNeedsAHuman");
        assert_eq!(p["Dimensions"][1]["Name"], "Category");
        assert_eq!(p["Dimensions"][1]["Value"], category);
        assert_eq!(p["Threshold"], 1);
        seen.push(category.to_string());
    }
    let all: Vec<String> = defaults
        .iter()
        .map(|(c, _)| c.as_str().to_string())
        .collect();
    assert_eq!(seen, all, "every paging category is in the template");
}
