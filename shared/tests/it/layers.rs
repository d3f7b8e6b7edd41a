//! The layers of `shared`, as `docs/architecture.md` names them: every module
//! imports only modules of the layers below its own, so no two modules can import
//! each other. Read from the sources' text (`crate::<module>` anywhere in a file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Module → layer, from the table under "## Layers" in the architecture doc.
fn layers() -> BTreeMap<String, usize> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let section = doc
        .split("\n## Layers")
        .nth(1)
        .expect("docs/architecture.md has a \"## Layers\" section");
    let mut out = BTreeMap::new();
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(layer) = cells.get(1).and_then(|c| c.parse::<usize>().ok()) else {
            continue;
        };
        for module in cells[2].split('`').skip(1).step_by(2) {
            assert!(
                out.insert(module.to_string(), layer).is_none(),
                "{module} is in two layers"
            );
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file's code (not its comments) names as `crate::<module>`.
fn imports(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_str();
    let mut out: Vec<String> = text
        .match_indices("crate::")
        .filter(|(i, _)| !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .filter(|m: &String| !m.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_module_imports_only_the_layers_below_its_own() {
    let layers = layers();
    let src = root().join("shared/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut seen = Vec::new();
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let Some(&own) = layers.get(&module) else {
            wrong.push(format!(
                "{}: module `{module}` is in no layer of docs/architecture.md",
                rel.display()
            ));
            continue;
        };
        seen.push(module.clone());
        let text = std::fs::read_to_string(file).unwrap();
        for target in imports(&text) {
            if target == module {
                continue;
            }
            match layers.get(&target) {
                Some(&theirs) if theirs < own => {}
                Some(&theirs) => wrong.push(format!(
                    "{}: `{module}` (layer {own}) imports `{target}` (layer {theirs})",
                    rel.display()
                )),
                None => wrong.push(format!(
                    "{}: imports `{target}`, which is in no layer",
                    rel.display()
                )),
            }
        }
    }
    for module in layers.keys() {
        if !seen.contains(module) {
            wrong.push(format!(
                "docs/architecture.md names `{module}`, which shared/src lacks"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_import_reader_sees_uses_and_paths_and_nothing_else() {
    let text = "use crate::store::{Store, Item};\nlet x = crate::clock::now_ms();\n/// see crate::registry::ALL\nlet y = mycrate::nothing;\n";
    assert_eq!(imports(text), ["clock", "store"]);
}
