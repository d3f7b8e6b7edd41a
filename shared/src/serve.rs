//! The Lambda entry shared by every webhook function: logging, then one receiver
//! built at cold start serving every invocation.

use lambda_http::{service_fn, Error, Request};

use crate::provider::Provider;
use crate::receiver::Receiver;

/// Runs the Lambda loop for provider `P`. Configuration errors surface as an init
/// failure, before any delivery is accepted.
pub async fn run<P: Provider>() -> Result<(), Error> {
    crate::logging::init();
    let receiver = Receiver::<P>::from_env().await?;
    let receiver = &receiver;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(receiver.handle(req).await)
    }))
    .await
}

/// The Lambda loop of the HTTP API's IAM-authorized routes. One binary serves two
/// functions, each with its own role: `API_ROUTES=lookup` (the default) answers
/// the payments lookup and holds read access only; `API_ROUTES=unresolved` answers
/// the operator's list and its acknowledge, and holds what those need.
pub async fn run_lookup() -> Result<(), Error> {
    crate::logging::init();
    let config = crate::config::StoreConfig::from_env()?;
    let routes = crate::config::optional("API_ROUTES").unwrap_or_else(|| "lookup".into());
    let unresolved = match routes.as_str() {
        "lookup" => false,
        "unresolved" => true,
        other => {
            return Err(crate::config::ConfigError::Invalid {
                name: "API_ROUTES",
                reason: format!("`{other}`: lookup or unresolved"),
            }
            .into())
        }
    };
    let client = crate::store::dynamodb_client().await;
    let store = crate::store::Store::new(client, config.table_name, config.event_ttl_days);
    let store = &store;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(if unresolved {
            crate::unresolved_api::handle(store, &req, crate::clock::now_ms()).await
        } else {
            crate::lookup::handle(store, &req).await
        })
    }))
    .await
}
