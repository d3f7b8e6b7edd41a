//! Wiring only: the stream publisher, built once per cold start, run per batch.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::publish::Publisher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let publisher: &'static Publisher = Box::leak(Box::new(Publisher::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<DynamoDbEventResponse, Error>(publisher.handle(event.payload).await?)
    }))
    .await
}
