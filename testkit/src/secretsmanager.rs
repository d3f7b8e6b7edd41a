//! AWS Secrets Manager's `GetSecretValue` (JSON 1.1 protocol): `POST /` with
//! `X-Amz-Target: secretsmanager.GetSecretValue` and `{"SecretId": ...}`; an unknown
//! id answers 400 `ResourceNotFoundException`. A request signed with the access key
//! id `as-<Function>` is recorded as that function's call (`crate::calls`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug, Clone, Default)]
struct Secrets(Arc<Mutex<HashMap<String, String>>>);

impl Respond for Secrets {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let id = body["SecretId"].as_str().unwrap_or_default().to_string();
        let function = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(crate::calls::role_of_access_key);
        if let Some(function) = function {
            crate::calls::record(
                &function,
                "Secrets Manager",
                "GetSecretValue",
                &crate::calls::touched("GetSecretValue", &body),
            );
        }
        let value = self.0.lock().ok().and_then(|m| m.get(&id).cloned());
        match value {
            Some(v) => ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/x-amz-json-1.1")
                .set_body_json(json!({"ARN": id, "Name": id, "SecretString": v, "VersionId": "v1", "VersionStages": ["AWSCURRENT"], "CreatedDate": 1_767_225_600})),
            None => ResponseTemplate::new(400)
                .insert_header("Content-Type", "application/x-amz-json-1.1")
                .set_body_json(json!({"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."})),
        }
    }
}

#[derive(Debug)]
pub struct FakeSecretsManager {
    server: MockServer,
    secrets: Secrets,
}

impl FakeSecretsManager {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let secrets = Secrets::default();
        Mock::given(method("POST"))
            .and(header("x-amz-target", "secretsmanager.GetSecretValue"))
            .respond_with(secrets.clone())
            .mount(&server)
            .await;
        Self { server, secrets }
    }

    pub fn endpoint(&self) -> String {
        self.server.uri()
    }

    pub fn put(&self, id: &str, value: &str) {
        if let Ok(mut m) = self.secrets.0.lock() {
            m.insert(id.to_string(), value.to_string());
        }
    }
}
