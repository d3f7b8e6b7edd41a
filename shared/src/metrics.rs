//! CloudWatch Embedded Metric Format: one JSON document per line on stdout, which
//! Lambda forwards to CloudWatch Logs and CloudWatch turns into metrics.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

#[derive(Debug, Clone)]
enum Sink {
    Stdout,
    Memory(Arc<Mutex<Vec<Value>>>),
}

#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    sink: Sink,
}

impl Metrics {
    pub fn from_env() -> Self {
        Self {
            namespace: crate::config::optional("METRICS_NAMESPACE")
                .unwrap_or_else(|| "PaymentWebhooks".to_string()),
            sink: Sink::Stdout,
        }
    }

    /// Keeps documents in memory so tests can read what would have been emitted.
    pub fn memory() -> (Self, Arc<Mutex<Vec<Value>>>) {
        let docs = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                namespace: "Test".to_string(),
                sink: Sink::Memory(docs.clone()),
            },
            docs,
        )
    }

    pub fn emit(&self, dimensions: &[(&str, &str)], values: &[(&str, f64, Unit)]) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut doc = Map::new();
        let dim_names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
        let defs: Vec<Value> = values
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    // Also the aggregate over every dimension value, for alarms
                    // that watch all providers at once.
                    "Dimensions": [dim_names, []],
                    "Metrics": defs,
                }]
            }),
        );
        for (k, v) in dimensions {
            doc.insert((*k).to_string(), Value::from(*v));
        }
        for (name, value, _) in values {
            doc.insert((*name).to_string(), json!(value));
        }
        let doc = Value::Object(doc);
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{doc}");
            }
            Sink::Memory(docs) => {
                if let Ok(mut d) = docs.lock() {
                    d.push(doc);
                }
            }
        }
    }
}

/// Sum of one metric over the documents a `Metrics::memory()` collected.
pub fn total(docs: &Arc<Mutex<Vec<Value>>>, name: &str) -> f64 {
    docs.lock()
        .map(|d| d.iter().filter_map(|doc| doc.get(name)?.as_f64()).sum())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_shape() {
        let (m, docs) = Metrics::memory();
        m.emit(
            &[("Provider", "ccpayment")],
            &[("Received", 1.0, Unit::Count)],
        );
        let d = docs.lock().unwrap()[0].clone();
        assert_eq!(d["Provider"], "ccpayment");
        assert_eq!(d["Received"], 1.0);
        let cwm = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cwm["Dimensions"][0][0], "Provider");
        assert_eq!(cwm["Dimensions"][1], serde_json::json!([]));
        assert_eq!(cwm["Metrics"][0]["Name"], "Received");
        assert_eq!(cwm["Metrics"][0]["Unit"], "Count");
        assert_eq!(total(&docs, "Received"), 1.0);
    }
}
