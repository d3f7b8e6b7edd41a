//! CityPay's order API, `GET /order/{order_token}` → `{"status":1,"data":{...}}`.
//!
//! An order's status is whatever a test set with [`FakeCityPay::set`]; otherwise it
//! follows the token's prefix, so the local stack works without set-up:
//! `paid-` CONFIRMED, `overpaid-` OVERPAID, `underpaid-` UNDERPAID, `expired-`
//! EXPIRED, `canceled-` CANCELED, `slow-` answers after 5 s, `fail-` HTTP 500,
//! `missing-` HTTP 404, anything else IN_PROGRESS.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status(String),
    Slow(Duration, String),
    HttpError(u16),
}

#[derive(Debug, Clone, Default)]
struct Orders {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    expires_at_ms: Arc<Mutex<HashMap<String, i64>>>,
}

fn by_prefix(token: &str) -> Answer {
    let status = |s: &str| Answer::Status(s.to_string());
    match token.split('-').next().unwrap_or_default() {
        "paid" => status("CONFIRMED"),
        "overpaid" => status("OVERPAID"),
        "underpaid" => status("UNDERPAID"),
        "expired" => status("EXPIRED"),
        "canceled" => status("CANCELED"),
        "slow" => Answer::Slow(Duration::from_secs(5), "CONFIRMED".into()),
        "fail" => Answer::HttpError(500),
        "missing" => Answer::HttpError(404),
        _ => status("IN_PROGRESS"),
    }
}

impl Respond for Orders {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let token = req.url.path().trim_start_matches("/order/").to_string();
        let answer = self
            .answers
            .lock()
            .ok()
            .and_then(|a| a.get(&token).cloned())
            .unwrap_or_else(|| by_prefix(&token));
        let expires = self
            .expires_at_ms
            .lock()
            .ok()
            .and_then(|e| e.get(&token).copied())
            .unwrap_or(4_102_444_800_000);
        let body = |code: &str| {
            json!({
                "status": 1,
                "data": {
                    "companyName": "Local shop",
                    "id": 2876,
                    "customerId": 99,
                    "token": token,
                    "coin": "Bitcoin",
                    "coinBaseName": "btc",
                    "amountFiat": "100",
                    "amount": 0.00196864,
                    "currency": {"id": 1, "currency": "US Dollar", "abbreviation": "USD"},
                    "type": "Order",
                    "expiresAt": expires,
                    "expirationTime": 3_600_000,
                    "status": {"code": code, "label": code},
                    "transactions": []
                }
            })
        };
        match answer {
            Answer::Status(code) => ResponseTemplate::new(200).set_body_json(body(&code)),
            Answer::Slow(delay, code) => ResponseTemplate::new(200)
                .set_body_json(body(&code))
                .set_delay(delay),
            Answer::HttpError(status) => ResponseTemplate::new(status),
        }
    }
}

#[derive(Debug)]
pub struct FakeCityPay {
    server: MockServer,
    orders: Orders,
}

impl FakeCityPay {
    /// On a random loopback port.
    pub async fn start() -> Self {
        Self::mount(MockServer::start().await).await
    }

    /// On a given listener, e.g. a fixed port for the local stack.
    pub async fn start_on(listener: std::net::TcpListener) -> Self {
        Self::mount(MockServer::builder().listener(listener).start().await).await
    }

    async fn mount(server: MockServer) -> Self {
        let orders = Orders::default();
        Mock::given(method("GET"))
            .and(path_regex(r"^/order/[^/]+$"))
            .respond_with(orders.clone())
            .mount(&server)
            .await;
        Self { server, orders }
    }

    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    pub fn set(&self, token: &str, answer: Answer) {
        if let Ok(mut a) = self.orders.answers.lock() {
            a.insert(token.to_string(), answer);
        }
    }

    pub fn set_status(&self, token: &str, status: &str) {
        self.set(token, Answer::Status(status.to_string()));
    }

    pub fn set_expires_at_ms(&self, token: &str, at: i64) {
        if let Ok(mut e) = self.orders.expires_at_ms.lock() {
            e.insert(token.to_string(), at);
        }
    }

    /// How many times the order API was asked about `token`.
    pub async fn lookups(&self, token: &str) -> usize {
        let wanted = format!("/order/{token}");
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == wanted)
            .count()
    }
}
