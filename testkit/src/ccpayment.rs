//! CCPayment's v1.0 `/webhook/resend` and `/bill/info`, as documented: signed
//! requests, signed `code: 10000` answers, and for resend at most one call a
//! minute, 25 a (UTC) day and windows of at most one hour. A call over a limit is
//! refused, and counted as a violation so a test can assert there were none.
//!
//! The fake keeps the provider's webhook log: each notification's first sending
//! time and whether its delivery finally succeeded. An accepted resend queues the
//! matching notifications for the test to deliver again.
//!
//! Several accounts (shops) can share the fake: [`FakeCcpayment::add_account`]. Each
//! request is checked with the secret of the account its `Appid` names, answered
//! signed for that account, and held to the limits of that account alone; a resend
//! only queues that account's notifications.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub id: usize,
    pub app_id: String,
    pub sent_at: i64,
    pub order_type: String,
    pub state: DeliveryState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendCall {
    pub app_id: String,
    pub at: i64,
    pub start: i64,
    pub end: i64,
    pub result: String,
    pub accepted: bool,
    pub refusal: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    log: Vec<Sent>,
    calls: Vec<ResendCall>,
    violations: Vec<String>,
    redeliveries: VecDeque<usize>,
    orders: HashMap<String, String>,
    fail_next_resends: u32,
    tamper_answers: bool,
    /// Accounts beside the first: `(app id, secret)`.
    more_accounts: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Shared {
    app_id: String,
    secret: String,
    clock: Arc<AtomicI64>,
    state: Arc<Mutex<State>>,
}

pub fn sign(app_id: &str, secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(secret.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

impl Shared {
    fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    fn secret_of(&self, app_id: &str) -> Option<String> {
        if app_id == self.app_id {
            return Some(self.secret.clone());
        }
        let st = self.state.lock().ok()?;
        st.more_accounts
            .iter()
            .find(|(id, _)| id == app_id)
            .map(|(_, s)| s.clone())
    }

    fn answer(&self, app_id: &str, body: Value) -> ResponseTemplate {
        let bytes = body.to_string().into_bytes();
        let ts = self.now().to_string();
        let secret = self.secret_of(app_id).unwrap_or_default();
        let mut sig = sign(app_id, &secret, &ts, &bytes);
        if self
            .state
            .lock()
            .map(|st| st.tamper_answers)
            .unwrap_or(false)
        {
            sig = sign(app_id, "not-the-secret", &ts, &bytes);
        }
        ResponseTemplate::new(200)
            .insert_header("Appid", app_id)
            .insert_header("Timestamp", ts.as_str())
            .insert_header("Sign", sig.as_str())
            .insert_header("Content-Type", "application/json")
            .set_body_bytes(bytes)
    }

    fn refuse(code: i64, msg: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({"code": code, "msg": msg, "data": null}))
    }

    /// The request's own signature, as CCPayment checks it: the account it is from.
    fn authentic(&self, req: &Request) -> Option<String> {
        let h = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let ts: i64 = h("timestamp").parse().unwrap_or(0);
        let app_id = h("appid");
        let secret = self.secret_of(&app_id)?;
        ((self.now() - ts).abs() <= 120
            && h("sign") == sign(&app_id, &secret, &h("timestamp"), &req.body))
        .then_some(app_id)
    }
}

struct Resend(Shared);
struct BillInfo(Shared);

impl Respond for Resend {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let s = &self.0;
        let Some(app_id) = s.authentic(req) else {
            return Shared::refuse(10_009, "sign verify failed");
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let now = s.now();
        let start = body["start_timestamp"].as_i64().unwrap_or(0);
        let end = body["end_timestamp"].as_i64().unwrap_or(start + 3600);
        let result = body["webhook_result"]
            .as_str()
            .unwrap_or("Failed")
            .to_string();
        let kind = body["transaction_type"]
            .as_str()
            .unwrap_or("All Type")
            .to_string();
        let Ok(mut st) = s.state.lock() else {
            return ResponseTemplate::new(500);
        };
        let accepted: Vec<i64> = st
            .calls
            .iter()
            .filter(|c| c.accepted && c.app_id == app_id)
            .map(|c| c.at)
            .collect();
        let same_day = accepted
            .iter()
            .filter(|t| t.div_euclid(86_400) == now.div_euclid(86_400))
            .count();
        let refusal = if end <= start || end - start > 3600 {
            Some("window longer than one hour")
        } else if accepted.last().is_some_and(|last| now - last < 60) {
            Some("more than one call a minute")
        } else if same_day >= 25 {
            Some("more than 25 calls a day")
        } else {
            None
        };
        let mut call = ResendCall {
            app_id: app_id.clone(),
            at: now,
            start,
            end,
            result: result.clone(),
            accepted: false,
            refusal: None,
        };
        if let Some(why) = refusal {
            st.violations.push(format!("{why} at {now}"));
            call.refusal = Some(why.to_string());
            st.calls.push(call);
            return Shared::refuse(11_004, why);
        }
        if st.fail_next_resends > 0 {
            st.fail_next_resends -= 1;
            call.refusal = Some("service error".into());
            st.calls.push(call);
            return Shared::refuse(224_066, "Service error, pleaser try again");
        }
        let matching: Vec<usize> = st
            .log
            .iter()
            .filter(|n| n.app_id == app_id && n.sent_at >= start && n.sent_at < end)
            .filter(|n| result == "All Result" || n.state == DeliveryState::Failed)
            .filter(|n| kind == "All Type" || n.order_type == kind)
            .map(|n| n.id)
            .collect();
        st.redeliveries.extend(matching.iter().copied());
        call.accepted = true;
        st.calls.push(call);
        drop(st);
        s.answer(&app_id, json!({"code": 10000, "msg": "success", "data": {"resend_count": matching.len().to_string()}}))
    }
}

impl Respond for BillInfo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let s = &self.0;
        let Some(app_id) = s.authentic(req) else {
            return Shared::refuse(10_009, "sign verify failed");
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let ids: Vec<String> = body["merchant_order_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() || ids.len() > 100 {
            return Shared::refuse(10_008, "merchant_order_ids must hold 1 to 100 ids");
        }
        let orders = s
            .state
            .lock()
            .map(|st| st.orders.clone())
            .unwrap_or_default();
        let data: Vec<Value> = ids
            .iter()
            .filter_map(|id| {
                let status = orders.get(id)?;
                Some(json!({
                    "order_detail": {"merchant_order_id": id, "status": status, "chain": "BSC", "crypto": "USDT", "order_amount": "10", "created": 1_767_225_600},
                    "trade_list": [],
                    "refund_list": []
                }))
            })
            .collect();
        s.answer(
            &app_id,
            json!({"code": 10000, "msg": "success", "data": data}),
        )
    }
}

#[derive(Debug)]
pub struct FakeCcpayment {
    server: MockServer,
    shared: Shared,
}

impl FakeCcpayment {
    /// `clock` is the provider's notion of now (Unix seconds), shared with the test.
    pub async fn start(app_id: &str, secret: &str, clock: Arc<AtomicI64>) -> Self {
        Self::mount(MockServer::start().await, app_id, secret, clock).await
    }

    /// On a given listener, e.g. a fixed port for the local stack.
    pub async fn start_on(
        listener: std::net::TcpListener,
        app_id: &str,
        secret: &str,
        clock: Arc<AtomicI64>,
    ) -> Self {
        Self::mount(
            MockServer::builder().listener(listener).start().await,
            app_id,
            secret,
            clock,
        )
        .await
    }

    async fn mount(server: MockServer, app_id: &str, secret: &str, clock: Arc<AtomicI64>) -> Self {
        let shared = Shared {
            app_id: app_id.to_string(),
            secret: secret.to_string(),
            clock,
            state: Arc::new(Mutex::new(State::default())),
        };
        Mock::given(method("POST"))
            .and(path("/webhook/resend"))
            .respond_with(Resend(shared.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/bill/info"))
            .respond_with(BillInfo(shared.clone()))
            .mount(&server)
            .await;
        Self { server, shared }
    }

    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut st = match self.shared.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut st)
    }

    /// Another account served by the same API.
    pub fn add_account(&self, app_id: &str, secret: &str) {
        self.with(|st| {
            st.more_accounts
                .push((app_id.to_string(), secret.to_string()))
        });
    }

    /// Records a notification of the first account in the provider's log; returns its id.
    pub fn sent(&self, sent_at: i64, order_type: &str) -> usize {
        let app_id = self.shared.app_id.clone();
        self.sent_for(&app_id, sent_at, order_type)
    }

    /// Records a notification of `app_id`'s account; returns its id.
    pub fn sent_for(&self, app_id: &str, sent_at: i64, order_type: &str) -> usize {
        self.with(|st| {
            let id = st.log.len();
            st.log.push(Sent {
                id,
                app_id: app_id.to_string(),
                sent_at,
                order_type: order_type.to_string(),
                state: DeliveryState::Pending,
            });
            id
        })
    }

    pub fn set_state(&self, id: usize, state: DeliveryState) {
        self.with(|st| {
            if let Some(n) = st.log.get_mut(id) {
                n.state = state;
            }
        });
    }

    pub fn take_redeliveries(&self) -> Vec<usize> {
        self.with(|st| st.redeliveries.drain(..).collect())
    }

    pub fn calls(&self) -> Vec<ResendCall> {
        self.with(|st| st.calls.clone())
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|st| st.violations.clone())
    }

    /// The next `n` resend calls within the limits answer a service error.
    pub fn fail_next_resends(&self, n: u32) {
        self.with(|st| st.fail_next_resends = n);
    }

    /// Answers are signed with the wrong secret, as a tampering proxy would leave them.
    pub fn tamper_answers(&self, on: bool) {
        self.with(|st| st.tamper_answers = on);
    }

    pub fn set_order(&self, merchant_order_id: &str, status: &str) {
        self.with(|st| {
            st.orders
                .insert(merchant_order_id.to_string(), status.to_string());
        });
    }

    pub async fn requests_to(&self, wanted: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == wanted)
            .count()
    }
}
