//! Wiring only: configuration and clients once per cold start, then the shared handler.

use lambda_http::{run, service_fn, Error, Request};
use shared::ccpayment::CcpaymentReceiver;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let receiver: &'static CcpaymentReceiver =
        Box::leak(Box::new(CcpaymentReceiver::from_env().await?));
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(receiver.handle(req).await)
    }))
    .await
}
