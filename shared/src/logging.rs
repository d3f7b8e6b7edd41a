//! JSON logs, one object per line, as CloudWatch Logs Insights reads them.

use tracing_subscriber::EnvFilter;

/// The production filter: `RUST_LOG`-style directives, with the HTTP and SDK
/// layers capped at `info` whatever is asked, so no request or response body (which
/// can hold an e-mail) is ever logged by them.
pub fn filter(directives: &str) -> EnvFilter {
    let mut f = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    for cap in [
        "aws_smithy_runtime=info",
        "aws_smithy_runtime_api=info",
        "aws_smithy_http_client=info",
        "aws_sdk_dynamodb=info",
        "aws_sigv4=info",
        "aws_config=info",
        "hyper=info",
        "hyper_util=info",
        "reqwest=info",
        "h2=info",
        "rustls=info",
    ] {
        if let Ok(d) = cap.parse() {
            f = f.add_directive(d);
        }
    }
    f
}

pub fn init() {
    init_to(std::io::stdout);
}

/// The production format and filter, written to `writer` (the benchmark discards it,
/// so a delivery's cost includes formatting its log line).
pub fn init_to<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
    // A second init (a runtime that already set one) is not an error worth failing on.
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter(&directives))
        .with_writer(writer)
        .try_init();
}
