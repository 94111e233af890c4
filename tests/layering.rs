//! The layering of the library (see `src/lib.rs`, "# Layout"): every `crate::…` path of every
//! module goes to its own top-level module or to one of a lower layer, and the top-level modules
//! import each other without a cycle. A failure names the file, the line and the import.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, bottom up; a module may import from its own layer (without a cycle) and from lower
/// ones.
const LAYERS: &[(&str, &[&str])] = &[
    ("the vocabulary", &["model"]),
    ("the configuration", &["config"]),
    ("what every layer uses", &["fetch", "metrics", "schedule", "templates"]),
    ("the store", &["store"]),
    ("the outbox", &["outbox"]),
    ("the sources", &["sources"]),
    ("the decisions", &["compatibility", "digest", "notices", "triage"]),
    ("the sinks", &["sinks"]),
    ("the HTTP server", &["http"]),
    ("the service assembly", &["service"]),
    ("the command line", &["cli"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/`: `src/sinks/jira/sink.rs` -> [sinks, jira, sink].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.with_extension("").iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The top-level modules named by the `crate::` and escaping `super::` paths of `text`, with
/// their line numbers, for a file of module path `path`.
fn imports(text: &str, path: &[String]) -> Vec<(usize, String, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            let after = &rest[i + "crate::".len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push((n + 1, name, code.trim().to_owned()));
            }
        }
        let mut rest = code;
        while let Some(i) = rest.find("super::") {
            let tail = &rest[i..];
            let segments: Vec<&str> = tail.split("::").collect();
            let ups = segments.iter().take_while(|s| **s == "super").count();
            // `super` of a file's module is its parent; escaping the top-level module names another.
            // (Inline `mod tests` blocks add a level: only a known top-level module counts.)
            if ups >= path.len() {
                let name: String =
                    segments.get(ups).map(|s| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()).unwrap_or_default();
                if layer_of(&name).is_some() {
                    found.push((n + 1, name, code.trim().to_owned()));
                }
            }
            rest = &rest[i + "super::".len() * ups.max(1)..];
        }
    }
    found
}

#[test]
fn imports_go_only_downwards_and_never_round_in_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let path = module_path(rel);
        let Some(top) = path.first().cloned() else { continue };
        if top == "main" || top == "lib" {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            violations.push(format!("src/{}: module `{top}` is in no layer of tests/layering.rs", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name, code) in imports(&text, &path) {
            if name == top {
                continue;
            }
            match layer_of(&name) {
                None => violations.push(format!("src/{}:{line}: `{code}` names `{name}`, in no layer", rel.display())),
                Some(l) if l > own => violations.push(format!(
                    "src/{}:{line}: `{code}`: {} (`{top}`) imports from {} (`{name}`), a layer above",
                    rel.display(),
                    LAYERS[own].0,
                    LAYERS[l].0
                )),
                Some(_) => {
                    graph.entry(top.clone()).or_default().insert(name);
                }
            }
        }
    }
    assert!(violations.is_empty(), "imports that go up:\n{}", violations.join("\n"));
    // A cycle among the top-level modules (possible only within one layer).
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, trail)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    panic!("a cycle of imports between top-level modules: {} -> {start}", trail.join(" -> "));
                }
                if seen.insert(next.clone()) {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
    }
}

#[test]
fn an_upward_import_is_caught() {
    let found = imports(
        "use crate::triage::plan::Incident;\nlet x = crate::model::Timestamp::now();\n",
        &["store".to_owned(), "incidents".to_owned()],
    );
    let names: Vec<&str> = found.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(names, ["triage", "model"]);
    assert!(layer_of("triage") > layer_of("store"), "so `use crate::triage` in store/ is a violation");
    let escaped = imports("use super::super::outbox::Action;\n", &["sinks".to_owned(), "jira".to_owned()]);
    assert_eq!(escaped.iter().map(|(_, n, _)| n.as_str()).collect::<Vec<_>>(), ["outbox"]);
    assert!(imports("use super::sink::marker;\n", &["sinks".to_owned(), "jira".to_owned()]).is_empty());
}
