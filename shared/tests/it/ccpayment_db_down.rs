//! With the database gone the receiver answers 5xx, never `success`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::support;

use lambda_http::http::StatusCode;
use shared::metrics::total;
use shared::store::schema;
use support::*;

#[tokio::test]
async fn stopped_database_gets_5xx_and_never_success() {
    let mut db = PrivateDynamo::start().await;
    let client = client_for(&db.endpoint).await;
    schema::create_table(&client, "down").await.unwrap();
    let (rx, docs) = receiver(client, "down");

    let ok = rx
        .handle_at(signed(&fixture("api-deposit"), NOW), NOW)
        .await;
    assert_eq!(
        ok.status(),
        StatusCode::OK,
        "reachable database stores the first one"
    );

    db.stop();
    for name in ["direct-deposit", "api-deposit"] {
        let resp = rx.handle_at(signed(&fixture(name), NOW), NOW).await;
        assert!(
            resp.status().is_server_error(),
            "{name}: got {}",
            resp.status()
        );
        assert_ne!(body_text(&resp), "success");
    }
    assert_eq!(total(&docs, "StoreFailed"), 2.0);
}
