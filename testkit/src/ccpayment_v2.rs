//! CCPayment's API v2 record and order APIs, as documented: requests signed with
//! HMAC-SHA256 (refused with code 11005 otherwise), answers
//! `{"code":10000,"msg":"success","data":{...}}` signed the same way.
//!
//! A record's answer is whatever a test set with [`FakeCcpaymentV2::set_record`];
//! otherwise it follows the record id's prefix, so the local stack works without
//! set-up: `processing-` Processing, `failed-` Failed, `risky-` Success flagged as
//! risky, `slow-` answers after 5 s, `fail-` HTTP 500, `missing-` code 11003,
//! anything else Success, 10 USDT.
//!
//! `/webhook/resend` takes up to 50 record ids or a window of at most an hour. v2
//! documents no limit for it; the fake holds it to v1's (one call a minute, 25 a
//! day, by the request's own `Timestamp`), refusing with code 11004 and counting a
//! violation. A record id answered 11004 models the generic rate limit.
//!
//! The list APIs (`get{App,User}{Deposit,Withdraw}RecordList`) list the records a
//! test filed with [`FakeCcpaymentV2::list_record`], created in `[startAt, endAt]`,
//! newest first, 20 a page with an opaque `nextId`; a range over 90 days is refused
//! with 11008. With [`FakeCcpaymentV2::pace_lists`] two list requests closer than
//! the given interval (in real time) are refused with 11004 and counted as a
//! violation; [`FakeCcpaymentV2::rate_limit_lists`] refuses the next n with 11004.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The v2 signature, written again from the documentation rather than taken from
/// the code under test: an independent oracle.
pub fn sign(app_id: &str, secret: &str, timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(app_id.as_bytes());
    mac.update(timestamp.as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRecord {
    pub status: String,
    pub amount: String,
    pub coin_symbol: String,
    pub order_id: Option<String>,
    pub risky: bool,
    /// What CCPayment credits an invoice for it, in the invoice's pricing currency
    /// (`paidValue`); `None`: the amount itself.
    pub paid_value: Option<String>,
}

impl FakeRecord {
    pub fn success(amount: &str) -> Self {
        Self {
            status: "Success".into(),
            amount: amount.into(),
            coin_symbol: "USDT".into(),
            order_id: None,
            risky: false,
            paid_value: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordAnswer {
    Record(FakeRecord),
    Slow(Duration, FakeRecord),
    HttpError(u16),
    Code(i64, String),
}

fn by_prefix(record_id: &str) -> RecordAnswer {
    let ok = FakeRecord::success("10");
    match record_id.split('-').next().unwrap_or_default() {
        "processing" => RecordAnswer::Record(FakeRecord {
            status: "Processing".into(),
            ..ok
        }),
        "failed" => RecordAnswer::Record(FakeRecord {
            status: "Failed".into(),
            ..ok
        }),
        "risky" => RecordAnswer::Record(FakeRecord { risky: true, ..ok }),
        "slow" => RecordAnswer::Slow(Duration::from_secs(5), ok),
        "fail" => RecordAnswer::HttpError(500),
        "missing" => RecordAnswer::Code(11_003, "record not found".into()),
        _ => RecordAnswer::Record(ok),
    }
}

/// A merchant order (`getAppOrderInfo`) or invoice (`getInvoiceOrderInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOrder {
    pub invoice: bool,
    pub amount_due: String,
    /// Record ids paid against it; their amounts and statuses come from the records.
    pub payments: Vec<String>,
}

/// One `/webhook/resend` call as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendCall {
    pub at: i64,
    pub record_ids: Vec<String>,
    pub window: Option<(i64, i64)>,
    pub accepted: bool,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<String, RecordAnswer>,
    orders: HashMap<String, FakeOrder>,
    refused_signatures: usize,
    resends: Vec<ResendCall>,
    violations: Vec<String>,
    /// `(list path, record id, created at)`.
    listed: Vec<(String, String, i64)>,
    list_pace: Option<Duration>,
    last_list: Option<Instant>,
    list_requests: usize,
    rate_limited_lists: usize,
}

const PAGE: usize = 20;
const MAX_LIST_RANGE: i64 = 90 * 86_400;

#[derive(Debug, Clone)]
struct Shared {
    app_id: String,
    secret: String,
    state: Arc<Mutex<State>>,
}

impl Shared {
    fn authentic(&self, req: &Request) -> bool {
        let h = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        h("appid") == self.app_id
            && h("sign") == sign(&self.app_id, &self.secret, &h("timestamp"), &req.body)
    }

    /// Signed with the caller's own `Timestamp`: a server whose clock agrees with
    /// the caller's, which is what tests in virtual time need.
    fn answer(&self, req: &Request, data: Value) -> ResponseTemplate {
        let bytes = json!({"code": 10000, "msg": "success", "data": data})
            .to_string()
            .into_bytes();
        let ts = req
            .headers
            .get("timestamp")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let sig = sign(&self.app_id, &self.secret, &ts, &bytes);
        ResponseTemplate::new(200)
            .insert_header("Appid", self.app_id.as_str())
            .insert_header("Timestamp", ts.as_str())
            .insert_header("Sign", sig.as_str())
            .insert_header("Content-Type", "application/json")
            .set_body_bytes(bytes)
    }

    fn refuse(code: i64, msg: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({"code": code, "msg": msg, "data": null}))
    }

    fn record_answer(&self, id: &str) -> RecordAnswer {
        self.state
            .lock()
            .ok()
            .and_then(|st| st.records.get(id).cloned())
            .unwrap_or_else(|| by_prefix(id))
    }

    fn record_json(id: &str, r: &FakeRecord, withdrawal: bool) -> Value {
        let mut v = json!({
            "recordId": id,
            "coinId": 1280,
            "coinSymbol": r.coin_symbol,
            "chain": "TRX",
            "amount": r.amount,
            "status": r.status,
            "txId": format!("0x{id}"),
        });
        if withdrawal {
            v["withdrawType"] = json!("Network");
            v["fee"] = json!({"coinId": 1280, "coinSymbol": r.coin_symbol, "amount": "1"});
        } else {
            v["serviceFee"] = json!("0.05");
            v["arrivedAt"] = json!(1_767_225_600);
            v["isFlaggedAsRisky"] = json!(r.risky);
        }
        if let Some(o) = &r.order_id {
            v["orderId"] = json!(o);
        }
        v
    }

    fn list(&self, req: &Request, path: &str, body: &Value) -> ResponseTemplate {
        let start = body["startAt"].as_i64().unwrap_or(i64::MIN);
        let end = body["endAt"].as_i64().unwrap_or(i64::MAX);
        let after = body["nextId"].as_str().map(str::to_string);
        let Ok(mut st) = self.state.lock() else {
            return ResponseTemplate::new(500);
        };
        st.list_requests += 1;
        let now = Instant::now();
        let too_soon = st
            .list_pace
            .zip(st.last_list)
            .is_some_and(|(pace, last)| now.duration_since(last) < pace);
        st.last_list = Some(now);
        if too_soon {
            st.violations
                .push(format!("two list requests within the pace ({path})"));
            return Self::refuse(11_004, "rate limit");
        }
        if st.rate_limited_lists > 0 {
            st.rate_limited_lists -= 1;
            return Self::refuse(11_004, "rate limit");
        }
        if end - start > MAX_LIST_RANGE {
            st.violations.push(format!("range over 90 days ({path})"));
            return Self::refuse(11_008, "query range too large");
        }
        let mut rows: Vec<(i64, String)> = st
            .listed
            .iter()
            .filter(|(p, _, at)| p == path && *at >= start && *at <= end)
            .map(|(_, id, at)| (*at, id.clone()))
            .collect();
        drop(st);
        // Newest first; ties by id, so paging is stable.
        rows.sort_by(|a, b| b.cmp(a));
        let from = match &after {
            Some(id) => match rows.iter().position(|(_, r)| r == id) {
                Some(i) => i + 1,
                None => return Self::refuse(11_000, "unknown nextId"),
            },
            None => 0,
        };
        let page: Vec<&(i64, String)> = rows.iter().skip(from).take(PAGE).collect();
        let more = rows.len() > from + PAGE;
        let withdrawal = path.contains("Withdraw");
        let records: Vec<Value> = page
            .iter()
            .map(|(at, id)| {
                let r = match self.record_answer(id) {
                    RecordAnswer::Record(r) | RecordAnswer::Slow(_, r) => r,
                    _ => FakeRecord::success("10"),
                };
                let mut v = Shared::record_json(id, &r, withdrawal);
                v["createdAt"] = json!(at);
                v
            })
            .collect();
        let mut data = json!({ "records": records });
        if more {
            if let Some((_, last)) = page.last() {
                data["nextId"] = json!(last);
            }
        }
        self.answer(req, data)
    }

    fn order(&self, req: &Request, id: &str, invoice: bool) -> ResponseTemplate {
        let Some(order) = self
            .state
            .lock()
            .ok()
            .and_then(|st| st.orders.get(id).cloned())
            .filter(|o| o.invoice == invoice)
        else {
            return Self::refuse(11_003, "order not found");
        };
        let paid: Vec<Value> = order
            .payments
            .iter()
            .filter_map(|rid| match self.record_answer(rid) {
                RecordAnswer::Record(r) | RecordAnswer::Slow(_, r) => Some(if invoice {
                    json!({"recordId": rid, "coinSymbol": r.coin_symbol, "paidAmount": r.amount, "paidValue": r.paid_value.clone().unwrap_or_else(|| r.amount.clone()), "status": r.status, "isFlaggedAsRisky": r.risky})
                } else {
                    json!({"recordId": rid, "amount": r.amount, "serviceFee": "0.05", "status": r.status, "isFlaggedAsRisky": r.risky})
                }),
                _ => None,
            })
            .collect();
        if invoice {
            self.answer(req, json!({"orderId": id, "price": order.amount_due, "priceSymbol": "USD", "expiredAt": 4_102_444_800_i64, "paidList": paid}))
        } else {
            self.answer(req, json!({"amountToPay": order.amount_due, "coinSymbol": "USDT", "expiredAt": 4_102_444_800_i64, "paidList": paid}))
        }
    }
}

struct Api(Shared);

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let s = &self.0;
        if !s.authentic(req) {
            if let Ok(mut st) = s.state.lock() {
                st.refused_signatures += 1;
            }
            return Shared::refuse(11_005, "VerifySignFailed");
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let path = req.url.path().trim_start_matches('/');
        match path {
            "getAppDepositRecord"
            | "getUserDepositRecord"
            | "getAppWithdrawRecord"
            | "getUserWithdrawRecord" => {
                let Some(id) = body["recordId"].as_str() else {
                    return Shared::refuse(11_000, "recordId is required");
                };
                let withdrawal = path.contains("Withdraw");
                match s.record_answer(id) {
                    RecordAnswer::Record(r) => s.answer(
                        req,
                        json!({"record": Shared::record_json(id, &r, withdrawal)}),
                    ),
                    RecordAnswer::Slow(d, r) => s
                        .answer(
                            req,
                            json!({"record": Shared::record_json(id, &r, withdrawal)}),
                        )
                        .set_delay(d),
                    RecordAnswer::HttpError(code) => ResponseTemplate::new(code),
                    RecordAnswer::Code(code, msg) => Shared::refuse(code, &msg),
                }
            }
            "webhook/resend" => {
                let at: i64 = req
                    .headers
                    .get("timestamp")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let ids: Vec<String> = body["recordIds"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let window = body["startTimestamp"]
                    .as_i64()
                    .map(|start| (start, body["endTimestamp"].as_i64().unwrap_or(start + 3600)));
                let Ok(mut st) = s.state.lock() else {
                    return ResponseTemplate::new(500);
                };
                let accepted: Vec<i64> = st
                    .resends
                    .iter()
                    .filter(|c| c.accepted)
                    .map(|c| c.at)
                    .collect();
                let refusal = if ids.len() > 50 {
                    Some("more than 50 record ids")
                } else if ids.is_empty() && window.is_none_or(|(a, b)| b <= a || b - a > 3600) {
                    Some("window longer than one hour")
                } else if accepted.last().is_some_and(|last| at - last < 60) {
                    Some("more than one call a minute")
                } else if accepted.iter().filter(|t| **t > at - 86_400).count() >= 25 {
                    Some("more than 25 calls a day")
                } else {
                    None
                };
                let call = ResendCall {
                    at,
                    record_ids: ids.clone(),
                    window: if ids.is_empty() { window } else { None },
                    accepted: refusal.is_none(),
                };
                st.resends.push(call);
                if let Some(why) = refusal {
                    st.violations.push(format!("{why} at {at}"));
                    return Shared::refuse(11_004, why);
                }
                drop(st);
                s.answer(req, json!({"resendCount": ids.len()}))
            }
            "getAppDepositRecordList"
            | "getAppWithdrawRecordList"
            | "getUserDepositRecordList"
            | "getUserWithdrawRecordList" => s.list(req, path, &body),
            "getAppOrderInfo" | "getInvoiceOrderInfo" => match body["orderId"].as_str() {
                Some(id) => s.order(req, id, path == "getInvoiceOrderInfo"),
                None => Shared::refuse(11_000, "orderId is required"),
            },
            _ => ResponseTemplate::new(404),
        }
    }
}

#[derive(Debug)]
pub struct FakeCcpaymentV2 {
    server: MockServer,
    shared: Shared,
}

impl FakeCcpaymentV2 {
    pub async fn start(app_id: &str, secret: &str) -> Self {
        Self::mount(MockServer::start().await, app_id, secret).await
    }

    /// On a given listener, e.g. a fixed port for the local stack.
    pub async fn start_on(listener: std::net::TcpListener, app_id: &str, secret: &str) -> Self {
        Self::mount(
            MockServer::builder().listener(listener).start().await,
            app_id,
            secret,
        )
        .await
    }

    async fn mount(server: MockServer, app_id: &str, secret: &str) -> Self {
        let shared = Shared {
            app_id: app_id.to_string(),
            secret: secret.to_string(),
            state: Arc::new(Mutex::new(State::default())),
        };
        Mock::given(method("POST"))
            .respond_with(Api(shared.clone()))
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

    pub fn set_record(&self, record_id: &str, answer: RecordAnswer) {
        self.with(|st| st.records.insert(record_id.to_string(), answer));
    }

    pub fn set_order(&self, order_id: &str, order: FakeOrder) {
        self.with(|st| st.orders.insert(order_id.to_string(), order));
    }

    /// Files `record_id` in a list API (`getAppDepositRecordList`...), created at
    /// `created_at`; its content is the record API's answer for it.
    pub fn list_record(&self, list_path: &str, record_id: &str, created_at: i64) {
        self.with(|st| {
            st.listed.push((
                list_path.trim_start_matches('/').to_string(),
                record_id.to_string(),
                created_at,
            ))
        });
    }

    /// Refuses (and counts) list requests closer together than `pace`.
    pub fn pace_lists(&self, pace: Duration) {
        self.with(|st| st.list_pace = Some(pace));
    }

    /// Answers the next `n` list requests with 11004.
    pub fn rate_limit_lists(&self, n: usize) {
        self.with(|st| st.rate_limited_lists = n);
    }

    pub fn list_requests(&self) -> usize {
        self.with(|st| st.list_requests)
    }

    pub fn resends(&self) -> Vec<ResendCall> {
        self.with(|st| st.resends.clone())
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|st| st.violations.clone())
    }

    /// Requests refused because their signature did not verify.
    pub fn refused_signatures(&self) -> usize {
        self.with(|st| st.refused_signatures)
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
