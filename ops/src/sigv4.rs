//! A SigV4-signed request to the lookup API (IAM-authorized routes of the HTTP
//! API), as the merchant's systems send one.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;

/// `GET url` signed for `execute-api` with the configuration's credentials and
/// region: the answer's status and body.
pub async fn signed_get(
    client: &reqwest::Client,
    sdk: &SdkConfig,
    url: &str,
) -> Result<(u16, String), String> {
    let credentials = sdk
        .credentials_provider()
        .ok_or("no AWS credentials")?
        .provide_credentials()
        .await
        .map_err(|e| format!("no AWS credentials: {e}"))?;
    let identity: Identity = credentials.into();
    let region = sdk.region().map(|r| r.to_string()).ok_or("no AWS region")?;
    let params = SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("execute-api")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(url)
        .body(())
        .map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut request);
    let mut builder = client.get(url);
    for (name, value) in request.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let response = builder.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}
