//! Wiring only: the shared Citypay receiver, built once per cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve::run(shared::citypay::CitypayReceiver::from_env()).await
}
