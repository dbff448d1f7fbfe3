//! `scim-sync explain` for a person: the five steps, one short block each.

use std::fmt::Write as _;

use serde_json::Value;

use crate::explain::Explanation;

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn reason(v: &Value) -> String {
    format!("{} [{}]", s(&v["text"]), s(&v["code"]))
}

/// The explanation as text: source, scope, mapping, match, actions.
pub fn explanation_text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", e.kind, e.who);

    out.push_str("1. source\n");
    let entry = &e.source["entry"];
    if entry.is_null() {
        let _ = writeln!(out, "   not found in the directory's scope");
    } else {
        let _ = writeln!(out, "   dn: {}", s(&entry["dn"]));
        for key in [
            "sAMAccountName",
            "userPrincipalName",
            "objectSid",
            "objectGUID",
            "cn",
            "givenName",
            "sn",
            "displayName",
            "mail",
        ] {
            if let Some(v) = entry.get(key).and_then(Value::as_str) {
                let _ = writeln!(out, "   {key}: {v}");
            }
        }
    }
    if !e.source["state"].is_null() {
        let _ = writeln!(out, "   state: {}", reason(&e.source["state"]));
    }
    for f in e.source["skippedByReader"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "   skipped by the reader: {}", reason(f));
    }

    out.push_str("2. scope\n");
    let _ = writeln!(out, "   {}", reason(&e.scope["reason"]));
    if let Some(chain) = e.scope["chain"]["text"].as_str() {
        let _ = writeln!(out, "   chain: {chain}");
    }
    if let Some(chain) = e.scope["excludedBy"]["chain"]["text"].as_str() {
        let _ = writeln!(out, "   excluded through: {chain}");
    }
    for g in e.scope["syncedGroups"].as_array().into_iter().flatten() {
        let path = g["path"]["text"].as_str().unwrap_or("(path not found)");
        let _ = writeln!(out, "   synced group {}: {path}", s(&g["name"]));
    }
    for m in e.scope["members"].as_array().into_iter().flatten() {
        let name = m["userPrincipalName"]
            .as_str()
            .unwrap_or(s(&m["sAMAccountName"]));
        match m["path"]["text"].as_str() {
            Some(path) => {
                let _ = writeln!(out, "   member {name}: {path}");
            }
            None => {
                let _ = writeln!(out, "   member {name}");
            }
        }
    }

    out.push_str("3. mapping\n");
    if !e.mapping["rejected"].is_null() {
        let _ = writeln!(out, "   skipped: {}", reason(&e.mapping["rejected"]));
    } else if let Some(attrs) = e.mapping["attributes"].as_object() {
        for (k, v) in attrs {
            let _ = writeln!(out, "   {k}: {v}");
        }
    } else {
        out.push_str("   nothing to map\n");
    }

    out.push_str("4. match\n");
    let anchored = e.matched["byAnchor"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if anchored.is_empty() {
        out.push_str("   no Identity Center object carries its anchor\n");
    }
    for m in &anchored {
        let name = m["userName"].as_str().unwrap_or(s(&m["displayName"]));
        let _ = writeln!(out, "   by anchor: {name} (id {})", s(&m["id"]));
    }
    for key in ["holdersOfItsNames", "holdersOfItsName"] {
        for h in e.matched[key].as_array().into_iter().flatten() {
            let name = h["userName"]
                .as_str()
                .or(h["displayName"].as_str())
                .unwrap_or("?");
            let _ = writeln!(out, "   holds its name: {name} (id {})", s(&h["id"]));
        }
    }
    for c in e.matched["conflicts"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "   conflict: {}", reason(c));
    }

    out.push_str("5. actions\n");
    let ops = e.actions["operations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if ops.is_empty() {
        out.push_str("   none planned\n");
    }
    for op in &ops {
        let _ = writeln!(out, "   {}: {}", s(&op["op"]), reason(&op["reason"]));
    }
    for op in e.actions["withheld"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "   withheld {}: {}",
            s(&op["op"]),
            reason(&op["reason"])
        );
    }
    for f in e.actions["withheldBecause"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let _ = writeln!(out, "   held back: {}", reason(f));
    }
    for f in e.actions["findings"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "   ! {}", reason(f));
    }
    out
}
