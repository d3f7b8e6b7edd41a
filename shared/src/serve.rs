//! The Lambda entry shared by every webhook function: logging, then one receiver
//! built at cold start serving every invocation.

use std::future::Future;

use lambda_http::{service_fn, Body, Error, Request, Response};

/// A provider's receiver: answers one delivery, never fails, never panics.
pub trait Receiver: Send + Sync + 'static {
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send;
}

impl Receiver for crate::ccpayment::CcpaymentReceiver {
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::ccpayment::CcpaymentReceiver::handle(self, req)
    }
}

impl Receiver for crate::alchemypay::AlchemypayReceiver {
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::alchemypay::AlchemypayReceiver::handle(self, req)
    }
}

impl Receiver for crate::citypay::CitypayReceiver {
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send {
        crate::citypay::CitypayReceiver::handle(self, req)
    }
}

/// Runs the Lambda loop. Configuration errors surface as an init failure, before
/// any delivery is accepted.
pub async fn run<R, F>(build: F) -> Result<(), Error>
where
    R: Receiver,
    F: Future<Output = Result<R, crate::config::ConfigError>>,
{
    crate::logging::init();
    let receiver: &'static R = Box::leak(Box::new(build.await?));
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(receiver.handle(req).await)
    }))
    .await
}
