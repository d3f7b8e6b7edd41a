//! Wiring only: the shared reconciler, built once per cold start, run per event.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::reconcile::{Reconciler, Summary};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let reconciler: &'static Reconciler = Box::leak(Box::new(Reconciler::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Summary, Error>(
            reconciler
                .handle(&event.payload, shared::clock::now_unix())
                .await?,
        )
    }))
    .await
}
