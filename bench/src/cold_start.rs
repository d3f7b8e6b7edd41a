//! Cold start of a function binary: from process start to its first
//! `GET /2018-06-01/runtime/invocation/next` on a minimal local Runtime API, which
//! is the moment a Lambda runtime is ready for its first event.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::bodies::{APP_ID, APP_SECRET, PATH_TOKEN};
use crate::stats::{ms, percentiles};

#[derive(Debug, thiserror::Error)]
pub enum ColdError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0} did not ask for an event within 10 s")]
    Timeout(String),
    #[error("{0} sent {1} instead of asking for an event (init failed?)")]
    Unexpected(String, String),
}

#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub ready: Duration,
    /// Peak resident memory when ready.
    pub rss_kib: u64,
}

/// Starts `binary` with `env` on top of the Lambda runtime's own variables and
/// waits for its first request to the Runtime API.
pub async fn once(binary: &Path, env: &[(String, String)]) -> Result<Start, ColdError> {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let io = |what: &str, e| ColdError::Io(format!("{name}: {what}"), e);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| io("bind", e))?;
    let addr = listener.local_addr().map_err(|e| io("addr", e))?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| io("spawn", e))?;
    let first = tokio::time::timeout(Duration::from_secs(10), first_request(&listener)).await;
    let ready = started.elapsed();
    let rss_kib = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let line = match first {
        Err(_) => return Err(ColdError::Timeout(name)),
        Ok(r) => r.map_err(|e| io("read", e))?,
    };
    if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
        Ok(Start { ready, rss_kib })
    } else {
        Err(ColdError::Unexpected(name, line))
    }
}

/// The request line of the first request, once its head has arrived.
async fn first_request(listener: &TcpListener) -> std::io::Result<String> {
    let (mut sock, _) = listener.accept().await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    Ok(String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string())
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub const FUNCTIONS: [&str; 5] = [
    "ccpayment-webhook",
    "ccpayment-v2-webhook",
    "alchemypay-webhook",
    "citypay-webhook",
    "reconciler",
];

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every function binary in `dir`, `runs` times each with secrets from the
/// environment and from (a loopback) Secrets Manager; prints the table.
pub async fn all(dir: &Path, runs: usize) -> Result<(), String> {
    let sm = testkit::secretsmanager::FakeSecretsManager::start().await;
    let ccpayment_json =
        format!(r#"{{"app_id":"{APP_ID}","app_secret":"{APP_SECRET}","app_secret_previous":""}}"#);
    sm.put("arn:bench:ccpayment", &ccpayment_json);
    sm.put("arn:bench:token", PATH_TOKEN);
    let common = [
        ("TABLE_NAME", "bench-cold-start"),
        ("CITYPAY_API_BASE", "http://127.0.0.1:9"),
        ("CCPAYMENT_API_BASE", "http://127.0.0.1:9"),
        ("RUST_LOG", "info"),
    ];
    let from_env = |f: &str| -> Vec<(&str, &str)> {
        match f {
            "ccpayment-webhook" | "reconciler" => vec![
                ("CCPAYMENT_APP_ID", APP_ID),
                ("CCPAYMENT_APP_SECRET", APP_SECRET),
            ],
            "ccpayment-v2-webhook" => vec![
                ("CCPAYMENT_V2_APP_ID", APP_ID),
                ("CCPAYMENT_V2_APP_SECRET", APP_SECRET),
            ],
            "alchemypay-webhook" => vec![("ALCHEMYPAY_PATH_TOKEN", PATH_TOKEN)],
            _ => vec![("CITYPAY_PATH_TOKEN", PATH_TOKEN)],
        }
    };
    let endpoint = sm.endpoint();
    let from_sm = |f: &str| -> Vec<(&str, &str)> {
        let arn = match f {
            "ccpayment-webhook" | "reconciler" => ("CCPAYMENT_SECRET_ARN", "arn:bench:ccpayment"),
            "ccpayment-v2-webhook" => ("CCPAYMENT_V2_SECRET_ARN", "arn:bench:ccpayment"),
            "alchemypay-webhook" => ("ALCHEMYPAY_PATH_TOKEN_SECRET_ARN", "arn:bench:token"),
            _ => ("CITYPAY_PATH_TOKEN_SECRET_ARN", "arn:bench:token"),
        };
        vec![arn, ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str())]
    };
    println!(
        "\ncold start: process start to first GET /runtime/invocation/next on a local Runtime API ({runs} runs each, after 1 discarded), binaries in {}",
        dir.display()
    );
    println!(
        "{:20} {:28} {:>8} {:>8} {:>8}  {:>9}",
        "function", "secrets", "p50 ms", "min", "max", "peak RSS"
    );
    for f in FUNCTIONS {
        let binary = dir.join(f);
        if !binary.is_file() {
            println!("{f:20} missing: {}", binary.display());
            continue;
        }
        for (how, extra) in [
            ("environment", from_env(f)),
            ("Secrets Manager (loopback)", from_sm(f)),
        ] {
            let mut vars = env(&common);
            vars.extend(env(&extra));
            let mut ready = Vec::with_capacity(runs);
            let mut rss = 0;
            for i in 0..=runs {
                let s = once(&binary, &vars).await.map_err(|e| e.to_string())?;
                if i > 0 {
                    ready.push(s.ready);
                    rss = rss.max(s.rss_kib);
                }
            }
            let p = percentiles(&ready).map_or(Duration::ZERO, |p| p.p50);
            let min = ready.iter().min().copied().unwrap_or_default();
            let max = ready.iter().max().copied().unwrap_or_default();
            println!(
                "{f:20} {how:28} {:8.2} {:8.2} {:8.2}  {:6.1} MiB",
                ms(p),
                ms(min),
                ms(max),
                rss as f64 / 1024.0
            );
        }
    }
    Ok(())
}
