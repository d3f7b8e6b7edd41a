//! CityPay's order API, `GET /order/{order_token}` → `{"status":1,"data":{...}}`.
//!
//! Every order belongs to the customer [`CUSTOMER_ID`], has CityPay id 2876 and
//! costs 100 USD unless a test set other facts with [`FakeCityPay::set_order`];
//! its transactions' fiat totals follow its status (CONFIRMED and
//! PAID_UNCONFIRMED 100, OVERPAID 120, UNDERPAID 25, otherwise none).
//! An order's status is whatever a test set with [`FakeCityPay::set`]; otherwise it
//! follows the token's prefix, so the local stack works without set-up:
//! `paid-` CONFIRMED, `overpaid-` OVERPAID, `underpaid-` UNDERPAID, `expired-`
//! EXPIRED, `canceled-` CANCELED, `slow-` answers after 5 s, `fail-` HTTP 500,
//! `missing-` HTTP 404, anything else IN_PROGRESS.
//!
//! The order history as documented: `POST /orders/api/login` `{"token"}` gives a
//! JWT that expires (`jwt_ttl`); `GET /orders/api?page=&limit=` lists the orders
//! added with [`FakeCityPay::add_to_history`], newest first, with the JWT in the
//! one header spelling this fake is set to accept; more than 200 requests a
//! minute or 1,000 an hour are answered 429 and counted as violations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The merchant's CityPay customer id the fake's orders belong to by default.
pub const CUSTOMER_ID: &str = "99";

/// What the order API says of an order beside its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub id: String,
    pub customer_id: String,
    pub amount_fiat: String,
    pub currency: String,
    /// Each transaction's `amountFiat.total`; `None`: the status's default.
    pub paid_fiat: Option<Vec<String>>,
}

impl Default for OrderFacts {
    fn default() -> Self {
        Self {
            id: "2876".into(),
            customer_id: CUSTOMER_ID.into(),
            amount_fiat: "100".into(),
            currency: "USD".into(),
            paid_fiat: None,
        }
    }
}

fn default_paid(code: &str) -> Vec<String> {
    match code {
        "CONFIRMED" | "PAID_UNCONFIRMED" => vec!["100".into()],
        "OVERPAID" => vec!["120".into()],
        "UNDERPAID" => vec!["25".into()],
        _ => Vec::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status(String),
    Slow(Duration, String),
    HttpError(u16),
}

/// Which spelling of the JWT's header the fake accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtHeader {
    /// `bearer_token: <jwt>`, as documented.
    BearerToken,
    /// `Authorization: Bearer <jwt>`.
    Authorization,
}

#[derive(Debug)]
struct HistoryState {
    access_token: String,
    header: JwtHeader,
    jwt_ttl: Duration,
    issued: Vec<(String, Instant)>,
    /// `(token, created_at_ms)`.
    orders: Vec<(String, i64)>,
    /// Every login and page request, for the rate limit.
    requests: Vec<Instant>,
    violations: Vec<String>,
    logins: usize,
    pages: usize,
    /// CityPay's limits, per minute and per hour of wall time.
    limits: (usize, usize),
}

impl Default for HistoryState {
    fn default() -> Self {
        Self {
            access_token: String::new(),
            header: JwtHeader::BearerToken,
            jwt_ttl: Duration::from_secs(3600),
            issued: Vec::new(),
            orders: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            logins: 0,
            pages: 0,
            limits: (200, 1000),
        }
    }
}

impl HistoryState {
    /// Counts the request; `true` when it is over CityPay's limits.
    fn over_limit(&mut self) -> bool {
        let now = Instant::now();
        self.requests
            .retain(|t| now.duration_since(*t) < Duration::from_secs(3600));
        let last_minute = self
            .requests
            .iter()
            .filter(|t| now.duration_since(**t) < Duration::from_secs(60))
            .count();
        self.requests.push(now);
        if last_minute >= self.limits.0 || self.requests.len() > self.limits.1 {
            self.violations.push(format!(
                "{} requests in the last minute, {} in the hour",
                last_minute + 1,
                self.requests.len()
            ));
            return true;
        }
        false
    }
}

#[derive(Debug, Clone, Default)]
struct History {
    state: Arc<Mutex<HistoryState>>,
    orders: Orders,
}

impl Respond for History {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let Ok(mut st) = self.state.lock() else {
            return ResponseTemplate::new(500);
        };
        if st.over_limit() {
            return ResponseTemplate::new(429);
        }
        if req.url.path() == "/orders/api/login" {
            st.logins += 1;
            let token = serde_json::from_slice::<serde_json::Value>(&req.body)
                .ok()
                .and_then(|v| v["token"].as_str().map(str::to_string));
            if token.as_deref() != Some(st.access_token.as_str()) || st.access_token.is_empty() {
                return ResponseTemplate::new(401).set_body_json(
                    json!({"success": false, "data": null, "message": "bad token"}),
                );
            }
            let jwt = format!("jwt-{}", st.logins);
            st.issued.push((jwt.clone(), Instant::now()));
            return ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "data": jwt, "message": null}));
        }
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let presented = match st.header {
            JwtHeader::BearerToken => header("bearer_token"),
            JwtHeader::Authorization => {
                header("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_string))
            }
        };
        let ttl = st.jwt_ttl;
        let valid = presented.is_some_and(|jwt| {
            st.issued
                .iter()
                .any(|(j, at)| *j == jwt && at.elapsed() < ttl)
        });
        if !valid {
            return ResponseTemplate::new(401).set_body_json(json!({"statusCode": 401}));
        }
        st.pages += 1;
        let query = |name: &str| {
            req.url
                .query_pairs()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let (page, limit) = (
            query("page").unwrap_or(0),
            query("limit").unwrap_or(10).max(1),
        );
        let mut orders = st.orders.clone();
        orders.sort_by_key(|o| std::cmp::Reverse(o.1));
        let pages_count = orders.len().div_ceil(limit);
        let items: Vec<serde_json::Value> = orders
            .iter()
            .skip(page * limit)
            .take(limit)
            .map(|(token, created)| {
                let code = match self.orders.answer(token) {
                    Answer::Status(c) | Answer::Slow(_, c) => c,
                    Answer::HttpError(_) => "IN_PROGRESS".into(),
                };
                json!({
                    "id": 1000, "token": token, "createdAtMiliseconds": created,
                    "amount": 0.001, "status": {"code": code, "label": code},
                    "currency": {"abbreviation": "USD"}
                })
            })
            .collect();
        let next = (page + 1 < pages_count).then_some(page + 1);
        ResponseTemplate::new(200).set_body_json(json!({
            "statusCode": 200,
            "data": {
                "items": items,
                "meta": {"totalCount": orders.len(), "pagesCount": pages_count,
                         "currentPage": page, "nextPage": next}
            }
        }))
    }
}

#[derive(Debug, Clone, Default)]
struct Orders {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    expires_at_ms: Arc<Mutex<HashMap<String, i64>>>,
    facts: Arc<Mutex<HashMap<String, OrderFacts>>>,
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

impl Orders {
    fn answer(&self, token: &str) -> Answer {
        self.answers
            .lock()
            .ok()
            .and_then(|a| a.get(token).cloned())
            .unwrap_or_else(|| by_prefix(token))
    }
}

impl Respond for Orders {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let token = req.url.path().trim_start_matches("/order/").to_string();
        let answer = self.answer(&token);
        let expires = self
            .expires_at_ms
            .lock()
            .ok()
            .and_then(|e| e.get(&token).copied())
            .unwrap_or(4_102_444_800_000);
        let facts = self
            .facts
            .lock()
            .ok()
            .and_then(|f| f.get(&token).cloned())
            .unwrap_or_default();
        let number = |t: &str| t.parse::<u64>().map_or_else(|_| json!(t), |n| json!(n));
        let body = |code: &str| {
            let transactions: Vec<serde_json::Value> = facts
                .paid_fiat
                .clone()
                .unwrap_or_else(|| default_paid(code))
                .iter()
                .enumerate()
                .map(|(i, total)| {
                    json!({
                        "id": i + 1, "hash": format!("0xfeed{i}"),
                        "amount": {"base": 0.00196864, "total": 0.001},
                        "amountFiat": {"base": facts.amount_fiat, "total": total,
                                       "underPaid": "0", "overPaid": "0"},
                        "createdAtMiliseconds": 1_767_225_600_000_i64
                    })
                })
                .collect();
            json!({
                "status": 1,
                "data": {
                    "companyName": "Local shop",
                    "id": number(&facts.id),
                    "customerId": number(&facts.customer_id),
                    "token": token,
                    "coin": "Bitcoin",
                    "coinBaseName": "btc",
                    "amountFiat": facts.amount_fiat,
                    "amount": 0.00196864,
                    "currency": {"id": 1, "currency": facts.currency, "abbreviation": facts.currency},
                    "type": "Order",
                    "expiresAt": expires,
                    "expirationTime": 3_600_000,
                    "status": {"code": code, "label": code},
                    "transactions": transactions
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
    history: History,
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
        let history = History {
            state: Arc::default(),
            orders: orders.clone(),
        };
        Mock::given(method("POST"))
            .and(path_regex(r"^/orders/api/login$"))
            .respond_with(history.clone())
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/orders/api$"))
            .respond_with(history.clone())
            .mount(&server)
            .await;
        Self {
            server,
            orders,
            history,
        }
    }

    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    pub fn set(&self, token: &str, answer: Answer) {
        if let Ok(mut a) = self.orders.answers.lock() {
            a.insert(token.to_string(), answer);
        }
    }

    /// The order's id, owner, price and payments, beside its status.
    pub fn set_order(&self, token: &str, facts: OrderFacts) {
        if let Ok(mut f) = self.orders.facts.lock() {
            f.insert(token.to_string(), facts);
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

    fn history(&self) -> std::sync::MutexGuard<'_, HistoryState> {
        match self.history.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The access token a login must present, and the header the JWT must come in.
    pub fn set_access(&self, access_token: &str, header: JwtHeader) {
        let mut h = self.history();
        h.access_token = access_token.to_string();
        h.header = header;
    }

    /// Other limits than CityPay's 200 a minute and 1,000 an hour of wall time: for
    /// a drill in virtual time, which counts its requests per virtual hour itself.
    pub fn set_rate_limits(&self, per_minute: usize, per_hour: usize) {
        self.history().limits = (per_minute, per_hour);
    }

    /// How long a JWT is accepted after its login.
    pub fn set_jwt_ttl(&self, ttl: Duration) {
        self.history().jwt_ttl = ttl;
    }

    /// An order in the history; its status is the order API's answer for it.
    pub fn add_to_history(&self, token: &str, created_at_ms: i64) {
        self.history()
            .orders
            .push((token.to_string(), created_at_ms));
    }

    pub fn logins(&self) -> usize {
        self.history().logins
    }

    /// Pages answered (not refused).
    pub fn history_pages(&self) -> usize {
        self.history().pages
    }

    /// Requests over CityPay's documented limits.
    pub fn violations(&self) -> Vec<String> {
        self.history().violations.clone()
    }
}
