//! The layer rules of docs/architecture.md, checked against the source: every `crate::…`
//! reference in a module's files must name a layer that module may use, and no two sibling
//! files may import each other (directly or through a longer cycle).
//!
//! The allowed table is read from the document itself (between the `layers:begin` and
//! `layers:end` markers), so the document and the check cannot drift apart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `layer -> layers it may use`, from docs/architecture.md.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let start = doc
        .find("<!-- layers:begin -->")
        .expect("layers:begin marker");
    let end = doc.find("<!-- layers:end -->").expect("layers:end marker");
    let mut table = BTreeMap::new();
    for line in doc[start..end].lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `layer` | `a`, `b` | what it is |
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let layer = cells[1].trim_matches('`').to_string();
        let uses = cells[2]
            .split(',')
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty() && s != "—")
            .collect();
        table.insert(layer, uses);
    }
    assert!(
        table.len() >= 8,
        "the layer table has too few rows: {table:?}"
    );
    table
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its trailing `#[cfg(test)]` part: tests
/// may reach anywhere, and doc links are not dependencies.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    if name.ends_with("_tests.rs") || name == "tests.rs" {
        return String::new();
    }
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first path segments after each `prefix` (`crate::` or `super::`), including those
/// inside a braced group (`use crate::{a::X, b::{Y, Z}}` gives `a` and `b`).
fn segments_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| is_ident_char(c) || c == ':') {
            continue; // `super::super::`, or part of a longer path
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut token = String::new();
            let mut at_start = true;
            let mut flush = |token: &mut String| {
                if !token.is_empty() {
                    found.insert(std::mem::take(token));
                }
            };
            for c in group.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        flush(&mut token);
                        at_start = false;
                    }
                    '}' => {
                        depth -= 1;
                        flush(&mut token);
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        flush(&mut token);
                        at_start = true;
                    }
                    c if c.is_whitespace() => {
                        if !token.is_empty() {
                            flush(&mut token);
                            at_start = false;
                        }
                    }
                    c if is_ident_char(c) && depth == 1 && at_start => token.push(c),
                    _ => {
                        flush(&mut token);
                        at_start = false;
                    }
                }
            }
        } else {
            let ident: String = rest.chars().take_while(|c| is_ident_char(*c)).collect();
            if !ident.is_empty() {
                found.insert(ident);
            }
        }
    }
    found
}

/// The layer a file belongs to: its first directory under src/ (or its file stem).
fn layer_of(path: &Path) -> String {
    let rel = path.strip_prefix(repo().join("src")).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn every_module_uses_only_the_layers_the_architecture_allows() {
    let allowed = allowed();
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let layer = layer_of(file);
        if layer == "lib" {
            continue;
        }
        let Some(may_use) = allowed.get(&layer) else {
            violations.push(format!(
                "{}: layer {layer:?} is not in the table",
                file.display()
            ));
            continue;
        };
        for used in segments_after(&code_of(file), "crate::") {
            if used != layer && !may_use.contains(&used) && allowed.contains_key(&used) {
                violations.push(format!(
                    "{} ({layer}) uses crate::{used}, which {layer} may not use",
                    file.strip_prefix(repo()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_two_sibling_files_import_each_other() {
    let mut dirs: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    for f in files {
        dirs.entry(f.parent().unwrap().to_path_buf())
            .or_default()
            .push(f);
    }
    let mut cycles = Vec::new();
    for (dir, files) in &dirs {
        let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().to_string();
        let siblings: BTreeSet<String> = files
            .iter()
            .map(|p| stem(p))
            .chain(
                std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.is_dir())
                    .map(|p| stem(&p)),
            )
            .filter(|s| s != "mod" && s != "lib" && s != "main")
            .collect();
        // Edges between sibling files: `super::x` from a file (not mod.rs) names sibling x.
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in files {
            let me = stem(f);
            if me == "mod" || me == "lib" {
                continue;
            }
            let used = segments_after(&code_of(f), "super::");
            let to: BTreeSet<String> = used
                .into_iter()
                .filter(|u| siblings.contains(u) && *u != me)
                .collect();
            edges.insert(me, to);
        }
        // Depth-first search for a cycle.
        fn visit(
            node: &str,
            edges: &BTreeMap<String, BTreeSet<String>>,
            stack: &mut Vec<String>,
            done: &mut BTreeSet<String>,
            cycles: &mut Vec<String>,
            dir: &Path,
        ) {
            if let Some(pos) = stack.iter().position(|n| n == node) {
                let mut cycle = stack[pos..].to_vec();
                cycle.push(node.to_string());
                cycles.push(format!("{}: {}", dir.display(), cycle.join(" -> ")));
                return;
            }
            if !done.insert(node.to_string()) {
                return;
            }
            stack.push(node.to_string());
            for next in edges.get(node).into_iter().flatten() {
                visit(next, edges, stack, done, cycles, dir);
            }
            stack.pop();
        }
        let mut done = BTreeSet::new();
        for node in edges.keys() {
            visit(node, &edges, &mut Vec::new(), &mut done, &mut cycles, dir);
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between files:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_reference_scanner_sees_grouped_and_plain_paths() {
    let code = "use crate::model::X;\nuse crate::{plan::{A, B}, apply::Writer};\nfn f() { crate::metrics::emit(); super::super::x(); }";
    let found = segments_after(code, "crate::");
    let want: BTreeSet<String> = ["model", "plan", "apply", "metrics"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, want);
    let siblings = segments_after(
        "use super::http::Transport;\nuse super::{pacing, wire::X};",
        "super::",
    );
    let want: BTreeSet<String> = ["http", "pacing", "wire"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(siblings, want);
}
