//! The one way this project calls a provider's API: TLS unless the API is on this
//! machine (the loopback fakes), and never a redirect. A redirect would carry the
//! request's `Sign`, `Appid` or bearer header to wherever the answer points, and a
//! plain-HTTP base would send them in clear text.

use std::net::IpAddr;
use std::time::Duration;

pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("payment-webhooks/1")
        .build()
        .map_err(|e| e.to_string())
}

/// `base` without its trailing `/`, if it is `https://…`, or `http://` to a
/// loopback address.
pub fn base_url(base: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(base.trim()).map_err(|e| format!("`{base}`: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "`{base}` must be an https:// URL (http:// only to a loopback address)"
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{base}` must not carry credentials"));
    }
    Ok(base.trim().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls_or_loopback() {
        assert_eq!(
            base_url("https://v2-order-api.citypay.io/").unwrap(),
            "https://v2-order-api.citypay.io"
        );
        assert!(base_url("http://127.0.0.1:9100").is_ok());
        assert!(base_url("http://[::1]:9100").is_ok());
        assert!(base_url("http://localhost:9100").is_ok());
        for bad in [
            "http://v2-order-api.citypay.io",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "https://user:pw@example.com",
            "not a url",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:9/stolen"),
            )
            .mount(&server)
            .await;
        let resp = client(Duration::from_secs(2))
            .unwrap()
            .get(server.uri())
            .header("Sign", "secret-derived")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 302, "answered as is, not followed");
    }
}
