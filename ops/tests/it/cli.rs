//! The installed binary as an operator runs it, against DynamoDB Local (the table
//! from TABLE_NAME, as for the local stack): answers, `--json`, exit codes.

use std::process::{Command, Output};

fn ops(table: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payments-ops"))
        .args(args)
        .env("TABLE_NAME", table)
        .env_remove("EVENT_BUS_NAME")
        .env_remove("ORDERED_QUEUE_URL")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn answers_json_and_exit_codes_are_what_the_docs_say() {
    let dynamodb = aws_sdk_dynamodb::Client::new(shared::store::sdk_config().await);
    let table = format!("ops-cli-{}", std::process::id());
    shared::store::schema::create_table(&dynamodb, &table)
        .await
        .unwrap();

    // Every command has its help; a usage error is exit code 2.
    for command in [
        "payment",
        "records",
        "replay",
        "unresolved",
        "acknowledge",
        "rehash",
        "doctor",
        "permissions",
    ] {
        let out = ops(&table, &[command, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", text(&out));
        assert!(text(&out).contains("Usage: payments-ops"), "{}", text(&out));
    }
    assert_eq!(ops(&table, &["no-such-command"]).status.code(), Some(2));
    assert_eq!(
        ops(&table, &["replay", "--ref", "a", "--user", "b"])
            .status
            .code(),
        Some(2),
        "two scopes at once"
    );

    // A negative answer is 1; the empty list is an answer (0), as JSON for scripts.
    let out = ops(&table, &["payment", "no-such-order"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no payment under that reference"));
    let out = ops(&table, &["unresolved", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        list.get("entries").is_some_and(|e| e.as_array().is_some()),
        "{list}"
    );
    let out = ops(&table, &["acknowledge", "ccpayment", "nothing-here"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = ops(&table, &["acknowledge", "no-such-provider", "x"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("unknown provider"));

    // It cannot run without a table, or without a stack for the doctor: 3.
    let out = Command::new(env!("CARGO_BIN_EXE_payments-ops"))
        .args(["unresolved"])
        .env_remove("TABLE_NAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("give --stack NAME, or set TABLE_NAME"));
    // Each command's policy as written; an unknown command is a usage error.
    let out = ops(&table, &["permissions", "replay"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(text(&out).contains("${TableName}"), "{policy}");
    assert_eq!(ops(&table, &["permissions", "nope"]).status.code(), Some(2));
    let files: std::collections::BTreeSet<String> = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/operator-permissions"
    ))
    .unwrap()
    .map(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .replace(".json", "")
    })
    .collect();
    let embedded: std::collections::BTreeSet<String> = payments_ops::permissions::POLICIES
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(files, embedded, "every policy file is in the tool");

    let out = ops(&table, &["doctor"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("give --stack NAME"));
}
