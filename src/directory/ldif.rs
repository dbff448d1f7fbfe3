//! The LDIF source: a directory export (`ldapsearch -LLL`, `ldifde`) read into the same
//! snapshot as a live read, for the local demo and for planning against an export.
//!
//! The export cannot run AD's in-chain rule, so nested membership is computed here from the
//! `member` and `memberOf` values it contains (both are used: exports often carry only one).

use std::path::Path;

use base64::Engine as _;

use crate::model::{DirectorySnapshot, SkippedEntry};

use super::dn::{dn_key, key_is_under, looks_like_dn};
use super::entry::{decode_group, decode_user, RawEntry};
use super::error::DirectoryError;
use super::mapping::AttributeMap;
use super::scope::{assemble, name_has_prefix, GroupCandidate, MembershipGraph, Scope};

/// Reads an LDIF export from a file; see [`read_ldif`].
pub fn read_ldif_file(path: &Path, scope: &Scope) -> Result<DirectorySnapshot, DirectoryError> {
    let bytes = std::fs::read(path).map_err(|source| DirectoryError::LdifFile {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| DirectoryError::LdifSyntax {
        line: 0,
        reason: format!(
            "the file is not UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    read_ldif(&text, scope)
}

/// Builds a snapshot from the text of an LDIF export, with the same scope rules as the LDAP
/// source: users are the (nested) members of the sync group, groups are those under the
/// search base whose name starts with the prefix, with members flattened to users in scope.
pub fn read_ldif(text: &str, scope: &Scope) -> Result<DirectorySnapshot, DirectoryError> {
    read_ldif_with(text, scope, &AttributeMap::active_directory())
}

/// [`read_ldif`] with an explicit attribute profile.
pub fn read_ldif_with(
    text: &str,
    scope: &Scope,
    map: &AttributeMap,
) -> Result<DirectorySnapshot, DirectoryError> {
    scope.validate()?;
    let entries = parse_ldif(text)?;
    let has_class = |e: &RawEntry, classes: &[&str]| {
        e.values(map.object_class).is_some_and(|vals| {
            vals.iter()
                .any(|v| classes.iter().any(|c| v.eq_ignore_ascii_case(c.as_bytes())))
        })
    };
    let is_group = |e: &RawEntry| match e.values(map.object_class) {
        Some(_) => has_class(e, map.group_classes),
        None => e.values(map.group_type).is_some(),
    };
    let is_user = |e: &RawEntry| match e.values(map.object_class) {
        Some(_) => has_class(e, map.user_classes) && !has_class(e, map.non_user_classes),
        None => e.values(map.account_control).is_some() && e.values(map.group_type).is_none(),
    };

    let mut graph = MembershipGraph::default();
    let mut skipped: Vec<SkippedEntry> = Vec::new();
    let mut bad_links: Vec<(String, String)> = Vec::new(); // (group dn key, reason)
    for e in &entries {
        if is_group(e) {
            graph.touch(&e.dn);
            let (members, complete) = ranged_values(e, map.member);
            match members {
                Ok(ms) => ms.iter().for_each(|m| graph.add(&e.dn, m)),
                Err(r) => bad_links.push((dn_key(&e.dn), r)),
            }
            if let Some(range) = complete.err() {
                bad_links.push((
                    dn_key(&e.dn),
                    format!("the export holds only {range} of its members (a ranged read was cut short); export with ldifde or a client that follows member;range"),
                ));
            }
        }
        match e.texts(map.member_of) {
            Ok(groups) => groups.iter().for_each(|g| graph.add(g, &e.dn)),
            Err(r) => bad_links.push((dn_key(&e.dn), r)),
        }
    }

    let sync_key = resolve_sync_group(&entries, scope, map, &is_group)?;
    let reachable = graph.transitive_members(&sync_key);

    let mut users = Vec::new();
    for e in entries
        .iter()
        .filter(|e| is_user(e) && reachable.contains(&dn_key(&e.dn)))
    {
        match decode_user(e, map) {
            Ok(u) => users.push(u),
            Err(s) => skipped.push(s),
        }
    }

    let base_key = dn_key(&scope.group_search_base);
    let mut groups = Vec::new();
    for e in entries
        .iter()
        .filter(|e| is_group(e) && key_is_under(&dn_key(&e.dn), &base_key))
    {
        match decode_group(e, map) {
            Ok(g) if name_has_prefix(&g.name, &scope.group_prefix) => {
                let key = dn_key(&g.dn);
                match bad_links.iter().find(|(k, _)| *k == key) {
                    Some((_, reason)) => skipped.push(SkippedEntry {
                        dn: g.dn,
                        anchor: Some(g.object_guid),
                        reason: reason.clone(),
                    }),
                    None => groups.push(GroupCandidate { group: g }),
                }
            }
            Ok(_) => {}
            Err(s) => {
                let name = e
                    .text(map.group_name)
                    .ok()
                    .flatten()
                    .or_else(|| super::dn::first_rdn_value(&e.dn))
                    .unwrap_or_default();
                if name_has_prefix(&name, &scope.group_prefix) {
                    skipped.push(s);
                }
            }
        }
    }
    Ok(assemble(users, groups, &graph, skipped))
}

/// Values of a possibly ranged attribute (`member;range=0-1499`): the values, and `Err(range)`
/// when the export stopped before the end marker `*`.
fn ranged_values(e: &RawEntry, name: &str) -> (Result<Vec<String>, String>, Result<(), String>) {
    let mut values = Vec::new();
    let mut complete = Ok(());
    let prefix = format!("{name};range=");
    for (attr, vals) in &e.attrs {
        let lower = attr.to_ascii_lowercase();
        let plain = lower == name.to_ascii_lowercase();
        let ranged = lower.starts_with(&prefix.to_ascii_lowercase());
        if !plain && !ranged {
            continue;
        }
        if ranged && !lower.ends_with("-*") {
            complete = Err(attr[prefix.len()..].to_string());
        }
        for v in vals {
            match String::from_utf8(v.clone()) {
                Ok(s) => values.push(s),
                Err(_) => return (Err(format!("a {name} value is not valid UTF-8")), complete),
            }
        }
    }
    (Ok(values), complete)
}

/// Finds the sync group by DN, `sAMAccountName` or `cn` (case-insensitive), as the LDAP
/// source does; returns its DN key.
fn resolve_sync_group(
    entries: &[RawEntry],
    scope: &Scope,
    map: &AttributeMap,
    is_group: &dyn Fn(&RawEntry) -> bool,
) -> Result<String, DirectoryError> {
    let wanted = scope.sync_group.trim();
    let matches: Vec<&RawEntry> = if looks_like_dn(wanted) {
        let key = dn_key(wanted);
        entries
            .iter()
            .filter(|e| is_group(e) && dn_key(&e.dn) == key)
            .collect()
    } else {
        let lower = wanted.to_lowercase();
        entries
            .iter()
            .filter(|e| is_group(e))
            .filter(|e| {
                let cn = e
                    .text(map.group_name)
                    .ok()
                    .flatten()
                    .or_else(|| super::dn::first_rdn_value(&e.dn));
                let sam = e.text(map.account_name).ok().flatten();
                [cn, sam]
                    .iter()
                    .flatten()
                    .any(|v| v.to_lowercase() == lower)
            })
            .collect()
    };
    match matches.as_slice() {
        [] => Err(DirectoryError::SyncGroupNotFound {
            name: wanted.to_string(),
            base: "the LDIF export".into(),
        }),
        [one] => Ok(dn_key(&one.dn)),
        many => Err(DirectoryError::SyncGroupAmbiguous {
            name: wanted.to_string(),
            dns: many.iter().map(|e| e.dn.clone()).collect(),
        }),
    }
}

/// Parses LDIF content records (RFC 2849): folded lines, comments, `::` base64 values,
/// an optional `version:` line, `changetype: add` (as ldifde writes it) and CRLF endings.
/// Records without a DN (ldapsearch's `search:`/`result:` trailer) are ignored.
pub(crate) fn parse_ldif(text: &str) -> Result<Vec<RawEntry>, DirectoryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Unfold: a line starting with one space continues the previous line.
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = line.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            match lines.last_mut() {
                Some((_, prev)) if !prev.is_empty() => prev.push_str(cont),
                _ => {
                    return Err(DirectoryError::LdifSyntax {
                        line: i + 1,
                        reason: "a continuation line (starting with a space) follows nothing"
                            .into(),
                    })
                }
            }
            continue;
        }
        in_comment = line.starts_with('#');
        if !in_comment {
            lines.push((i + 1, line.to_string()));
        }
    }

    let mut entries = Vec::new();
    let mut current: Option<RawEntry> = None;
    let mut skipping = false;
    for (no, line) in lines {
        if line.trim().is_empty() {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            skipping = false;
            continue;
        }
        if skipping {
            continue;
        }
        let (attr, value) = parse_line(no, &line)?;
        match current.as_mut() {
            None if attr.eq_ignore_ascii_case("dn") => {
                let dn = String::from_utf8(value).map_err(|_| DirectoryError::LdifSyntax {
                    line: no,
                    reason: "the DN is not valid UTF-8".into(),
                })?;
                current = Some(RawEntry { dn, attrs: vec![] });
            }
            None if attr.eq_ignore_ascii_case("version") && entries.is_empty() => {}
            None => skipping = true, // a record without a DN: ldapsearch's search/result trailer
            Some(e) => {
                if attr.eq_ignore_ascii_case("changetype") {
                    if !value.eq_ignore_ascii_case(b"add") {
                        return Err(DirectoryError::LdifSyntax {
                            line: no,
                            reason: "only content records (or changetype: add) are accepted; this is a change file, not an export".into(),
                        });
                    }
                    continue;
                }
                e.push(&attr, value);
            }
        }
    }
    if let Some(e) = current.take() {
        entries.push(e);
    }
    Ok(entries)
}

fn parse_line(no: usize, line: &str) -> Result<(String, Vec<u8>), DirectoryError> {
    let bad = |reason: &str| DirectoryError::LdifSyntax {
        line: no,
        reason: reason.to_string(),
    };
    let colon = line
        .find(':')
        .ok_or_else(|| bad("expected \"attribute: value\""))?;
    let attr = line[..colon].trim().to_string();
    if attr.is_empty() || attr.contains(' ') {
        return Err(bad("invalid attribute name"));
    }
    let rest = &line[colon + 1..];
    if let Some(b64) = rest.strip_prefix(':') {
        let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let value = base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|e| bad(&format!("invalid base64 value of {attr}: {e}")))?;
        Ok((attr, value))
    } else if rest.starts_with('<') {
        Err(bad(&format!(
            "{attr} refers to an external file (:<), which is not supported"
        )))
    } else {
        Ok((attr, rest.trim_start_matches(' ').as_bytes().to_vec()))
    }
}

#[cfg(test)]
#[path = "ldif_tests.rs"]
mod tests;
