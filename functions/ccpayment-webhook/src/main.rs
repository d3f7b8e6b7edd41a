//! Wiring only: the shared Ccpayment receiver, built once per cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve::run(shared::ccpayment::CcpaymentReceiver::from_env()).await
}
