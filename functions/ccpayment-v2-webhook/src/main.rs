//! Wiring only: the shared receiver for CcpaymentV2, built once per cold start.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::serve::run::<shared::ccpayment_v2::CcpaymentV2>().await
}
