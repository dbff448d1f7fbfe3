//! The Identity Center layer is a leaf over `model`: it may use `model` and `secret` only, and
//! its files import each other without a cycle. Checked on the source text, so a new `use`
//! that breaks the rule fails here, not in a review.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LAYER: &str = "src/identity_center";
/// Modules of the crate the layer may use.
const ALLOWED: [&str; 2] = ["model", "secret"];

fn sources() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(LAYER);
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("the layer's directory exists") {
        let path = entry.expect("a readable directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a UTF-8 file name")
                .to_string();
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            files.insert(name, text);
        }
    }
    files
}

/// The identifiers following `prefix` in `text` (`crate::model::X` gives `model`).
fn paths_after<'a>(text: &'a str, prefix: &str) -> BTreeSet<&'a str> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
        .collect()
}

#[test]
fn identity_center_uses_only_model_and_secret() {
    let files = sources();
    assert!(files.contains_key("transport"), "the layer was found");
    for (file, text) in &files {
        for module in paths_after(text, "crate::") {
            assert!(
                ALLOWED.contains(&module),
                "{LAYER}/{file}.rs uses crate::{module}; the layer may use only {ALLOWED:?}"
            );
        }
    }
}

#[test]
fn identity_center_files_import_each_other_without_a_cycle() {
    let files = sources();
    let edges: BTreeMap<&str, BTreeSet<&str>> = files
        .iter()
        .map(|(file, text)| {
            let mut targets = paths_after(text, "super::");
            // `use super::{groups, members}` names several at once.
            for (at, _) in text.match_indices("use super::{") {
                let rest = &text[at + "use super::{".len()..];
                let list = &rest[..rest.find('}').unwrap_or(0)];
                targets.extend(list.split(',').map(|s| s.trim()).filter(|s| !s.is_empty()));
            }
            let targets = targets
                .into_iter()
                .filter(|t| files.contains_key(*t) && *t != file.as_str())
                .collect();
            (file.as_str(), targets)
        })
        .collect();
    // `mod.rs` declares every file; tests inside a file (`use super::*`) are not edges.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) {
        match state.get(node) {
            Some(2) => return,
            Some(1) => panic!(
                "import cycle between files: {} -> {node}",
                path.join(" -> ")
            ),
            _ => {}
        }
        state.insert(node, 1);
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, state, path);
        }
        path.pop();
        state.insert(node, 2);
    }
    for file in edges.keys().filter(|f| **f != "mod") {
        visit(file, &edges, &mut state, &mut Vec::new());
    }
}

#[test]
fn only_the_client_file_implements_the_client() {
    for (file, text) in sources() {
        if file != "client" {
            assert!(
                !text.contains("impl ScimClient {") && !text.contains("for ScimClient {"),
                "{LAYER}/{file}.rs implements ScimClient; its operations belong in free \
                 functions over the transport, with the facade in client.rs"
            );
        }
    }
}
