//! The benchmark still runs, and what it checks of every delivery holds: each is
//! answered 2xx (the benchmark stops otherwise), sends no read, and a new or
//! duplicate notification costs one `TransactWriteItems`. Timings are not checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn a_short_run_answers_every_delivery_with_no_read() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "run with scripts/test.sh, which starts DynamoDB Local"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--deliveries",
            "4",
            "--warmup",
            "2",
            "--cpu-calls",
            "20",
            "--events",
            "30",
            "--events-delayed",
            "20",
            "--open-records",
            "200",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("full:"))
        .collect();
    assert_eq!(full.len(), 11, "one line per scenario:\n{stdout}");
    for line in &full {
        assert!(line.ends_with("| reads: 0"), "a delivery read: {line}");
    }
    let after = |name: &str| {
        let mut lines = stdout.lines().skip_while(|l| *l != name);
        lines.nth(1).unwrap_or_default().to_string()
    };
    for one_round_trip in [
        "ccpayment new",
        "ccpayment duplicate",
        "ccpayment-v2 new",
        "ccpayment-v2 duplicate",
        "alchemypay new",
        "alchemypay duplicate",
        "citypay deposit new",
        "citypay deposit duplicate",
        "citypay order new",
        "citypay order duplicate",
    ] {
        let line = after(one_round_trip);
        assert!(
            line.contains("full: 1.00 TransactWriteItems |"),
            "{one_round_trip}: {line}"
        );
    }
    assert!(after("ccpayment out-of-order").contains("full: 2.00 TransactWriteItems |"));
    for row in [
        "ccpayment",
        "ccpayment-v2",
        "alchemypay",
        "citypay deposit",
        "citypay order",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(row) && l.contains("µs CPU")),
            "no CPU figure for {row}:\n{stdout}"
        );
    }
    // Every change stored at load became one event, in batched PutEvents.
    assert!(
        stdout.contains("at load: 30 changes, 30 events, "),
        "events out:\n{stdout}"
    );
    assert!(
        stdout.contains("arrival to event on the queue, 20 changes"),
        "every timed change arrived:\n{stdout}"
    );
}
