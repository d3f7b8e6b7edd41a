//! The architecture picture is current with `template.yaml`: every function, route,
//! bus, queue, bucket, table and schema registry the template declares is in the first Mermaid
//! block of `docs/architecture.md`, and the README shows that same picture.

use serde_yaml::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The first ```mermaid block of a Markdown text.
fn first_mermaid(text: &str) -> Option<&str> {
    let start = text.find("```mermaid\n")? + "```mermaid\n".len();
    let len = text[start..].find("```")?;
    Some(&text[start..start + len])
}

/// What the picture must name: logical ids of the resources that carry data or
/// code, and every HTTP route as `METHOD /path`.
fn must_be_drawn(template: &Value) -> Vec<String> {
    const DRAWN: &[&str] = &[
        "AWS::Serverless::Function",
        "AWS::Serverless::HttpApi",
        "AWS::Events::EventBus",
        "AWS::SQS::Queue",
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::EventSchemas::Registry",
    ];
    let mut out = Vec::new();
    for (id, r) in template["Resources"].as_mapping().unwrap() {
        let ty = r["Type"].as_str().unwrap_or_default();
        if DRAWN.contains(&ty) {
            out.push(id.as_str().unwrap().to_string());
        }
        if let Some(events) = r["Properties"]["Events"].as_mapping() {
            for e in events.values().filter(|e| e["Type"] == "HttpApi") {
                let p = &e["Properties"];
                out.push(format!(
                    "{} {}",
                    p["Method"].as_str().unwrap(),
                    p["Path"].as_str().unwrap()
                ));
            }
        }
    }
    out
}

#[test]
fn the_architecture_picture_shows_everything_the_template_deploys() {
    let template: Value = serde_yaml::from_str(&read("template.yaml")).unwrap();
    let doc = read("docs/architecture.md");
    let picture = first_mermaid(&doc).expect("docs/architecture.md has a Mermaid picture");
    let wanted = must_be_drawn(&template);
    assert!(
        wanted.len() >= 15,
        "the template's functions and routes: {wanted:?}"
    );
    // A route is a label of its own, or one line of a `<br/>`-separated label,
    // after an optional "SigV4: ".
    let labels: Vec<String> = picture
        .replace("<br/>", "\n")
        .replace(['"', '[', ']'], "\n")
        .lines()
        .map(|l| l.trim().trim_start_matches("SigV4: ").to_string())
        .collect();
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| {
            if w.contains(" /") {
                !labels.contains(w)
            } else {
                !picture.contains(w.as_str())
            }
        })
        .collect();
    assert!(
        missing.is_empty(),
        "in template.yaml, not in the picture of docs/architecture.md: {missing:?}"
    );
    let readme = read("README.md");
    assert_eq!(
        first_mermaid(&readme),
        Some(picture),
        "the README shows the architecture doc's picture"
    );
}

#[test]
fn a_route_or_function_left_out_of_the_picture_is_found() {
    let template: Value = serde_yaml::from_str(
        "Resources:\n  NewFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        Get:\n          Type: HttpApi\n          Properties:\n            Method: GET\n            Path: /new\n",
    )
    .unwrap();
    assert_eq!(must_be_drawn(&template), ["NewFunction", "GET /new"]);
}
