//! The reference docs name everything a deployer can set or will see: every
//! environment variable the code reads and every template parameter is in
//! `docs/configuration.md`, and every metric the code emits or the template's
//! alarms and dashboard read is in `docs/alarms.md`.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.ends_with("tests") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals of the code before its unit tests, comments left out.
fn literals(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(|line| line.split('"').skip(1).step_by(2))
        .map(str::to_string)
        .collect()
}

/// Literals shaped like an environment variable (`UPPER_CASE`, at least one underscore).
fn env_shaped_literals(text: &str) -> Vec<String> {
    literals(text)
        .into_iter()
        .filter(|piece| {
            piece.contains('_')
                && piece.starts_with(|c: char| c.is_ascii_uppercase())
                && piece
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// Literals of that shape that are not environment variables: providers' status
/// words, field names and the secrets' placeholder.
const NOT_VARIABLES: &[&str] = &[
    "IN_PROGRESS",
    "PAID_UNCONFIRMED",
    "OVER_PAID",
    "UNDER_PAID",
    "RECORD_ID",
    "USER_REF",
    "REPLACE_ME",
];

fn documented(doc: &str, name: &str) -> bool {
    doc.contains(&format!("`{name}`"))
}

#[test]
fn every_environment_variable_the_code_reads_is_in_the_configuration_reference() {
    let doc = read("docs/configuration.md");
    let mut files = Vec::new();
    for dir in ["shared/src", "functions", "ops/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut names: Vec<String> = files
        .iter()
        .flat_map(|f| env_shaped_literals(&std::fs::read_to_string(f).unwrap()))
        .filter(|n| !NOT_VARIABLES.contains(&n.as_str()))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 50, "too few found: {names:?}");
    let missing: Vec<&String> = names.iter().filter(|n| !documented(&doc, n)).collect();
    assert!(
        missing.is_empty(),
        "read by the code, not in docs/configuration.md: {missing:?}"
    );
}

fn template() -> Value {
    serde_yaml::from_str(&read("template.yaml")).unwrap()
}

#[test]
fn every_template_parameter_and_function_variable_is_in_the_configuration_reference() {
    let doc = read("docs/configuration.md");
    let t = template();
    let mut missing = Vec::new();
    let params = t["Parameters"].as_mapping().unwrap();
    assert!(params.len() >= 30);
    for (name, p) in params {
        let name = name.as_str().unwrap();
        // A row of the parameter table: its name, then its default.
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")));
        let default = match &p["Default"] {
            Value::String(s) if s.is_empty() => "empty".to_string(),
            Value::String(s) => format!("`{s}`"),
            Value::Number(n) => format!("`{n}`"),
            other => format!("{other:?}"),
        };
        match row {
            None => missing.push(format!("parameter {name}")),
            Some(row) if !row.contains(&format!("| {default} |")) => {
                missing.push(format!("parameter {name}: default {default}, row {row}"));
            }
            Some(_) => {}
        }
    }
    let mut variables = Vec::new();
    if let Some(v) = t["Globals"]["Function"]["Environment"]["Variables"].as_mapping() {
        variables.extend(v.keys().filter_map(|k| k.as_str().map(str::to_string)));
    }
    for r in t["Resources"].as_mapping().unwrap().values() {
        if let Some(v) = r["Properties"]["Environment"]["Variables"].as_mapping() {
            variables.extend(v.keys().filter_map(|k| k.as_str().map(str::to_string)));
        }
    }
    variables.sort();
    variables.dedup();
    assert!(variables.len() >= 20, "{variables:?}");
    for name in variables.iter().filter(|n| !documented(&doc, n)) {
        missing.push(format!("function variable {name}"));
    }
    assert!(
        missing.is_empty(),
        "in template.yaml, not in docs/configuration.md:\n{}",
        missing.join("\n")
    );
}

fn metric_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("MetricName") {
                    if let Some(name) = v.as_str() {
                        out.push(name.to_string());
                    }
                }
                metric_names(v, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| metric_names(v, out)),
        Value::Tagged(t) => metric_names(&t.value, out),
        _ => {}
    }
}

#[test]
fn every_metric_the_alarms_and_dashboard_read_is_in_the_alarms_doc() {
    let doc = read("docs/alarms.md");
    let t = template();
    let mut names = Vec::new();
    metric_names(&t["Resources"], &mut names);
    // The dashboard's widgets name metrics as `["<namespace>", "<metric>", …]`, or
    // `[".", "<metric>", …]` for the row's namespace again.
    let raw = read("template.yaml");
    let body = raw
        .split("DashboardBody")
        .nth(1)
        .and_then(|b| b.split("\nOutputs:").next())
        .unwrap_or_default();
    for group in body.split("[\"").skip(1) {
        let group = group.split(']').next().unwrap_or_default();
        let parts: Vec<&str> = group.split("\",\"").collect();
        if let (Some(ns), Some(metric)) = (parts.first(), parts.get(1)) {
            let metric = metric.trim_end_matches('"');
            if (*ns == "${Ns}" || *ns == "." || ns.starts_with("AWS/"))
                && metric.starts_with(|c: char| c.is_ascii_alphanumeric())
            {
                names.push(metric.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    assert!(names.len() >= 10, "{names:?}");
    let missing: Vec<&String> = names.iter().filter(|n| !documented(&doc, n)).collect();
    assert!(
        missing.is_empty(),
        "read by an alarm or the dashboard, not in docs/alarms.md: {missing:?}"
    );
}

/// Quoted `CamelCase` words in the code of every file that emits metrics: the
/// metrics' names and their dimensions' names.
fn emitted_names() -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root().join("shared/src"), &mut files);
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .contains(".emit(")
        {
            continue;
        }
        out.extend(literals(&text).into_iter().filter(|piece| {
            piece.starts_with(|c: char| c.is_ascii_uppercase())
                && piece.chars().any(|c| c.is_ascii_lowercase())
                && piece.chars().all(|c| c.is_ascii_alphanumeric())
        }));
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_metric_the_code_emits_and_its_dimensions_are_in_the_alarms_doc() {
    let doc = read("docs/alarms.md");
    let names = emitted_names();
    assert!(names.len() >= 40, "too few found: {names:?}");
    let missing: Vec<&String> = names.iter().filter(|n| !documented(&doc, n)).collect();
    assert!(
        missing.is_empty(),
        "emitted by the code, not in docs/alarms.md: {missing:?}"
    );
}

#[test]
fn the_literal_reader_finds_names_in_code_only() {
    let text = "let a = optional(\"TABLE_NAME\");\n// \"IN_COMMENT\"\nlet b = \"lower_case\";\n#[cfg(test)]\nconst X: &str = \"ONLY_TESTS\";\n";
    assert_eq!(env_shaped_literals(text), ["TABLE_NAME"]);
}
