//! Wiring only: the payments lookup on the HTTP API, built once per cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve::run_lookup().await
}
