//! Wiring only: the shared Alchemypay receiver, built once per cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve::run(shared::alchemypay::AlchemypayReceiver::from_env()).await
}
