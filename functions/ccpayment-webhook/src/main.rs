//! Wiring only: the shared receiver for Ccpayment, built once per cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve::run::<shared::ccpayment::Ccpayment>().await
}
