//! The LDIF source: a directory export (`ldapsearch -LLL`, `ldifde`) read into the same
//! snapshot as a live read, for the local demo and for planning against an export.
//!
//! The export cannot run AD's in-chain rule, so nested membership is computed here from the
//! `member` and `memberOf` values it contains (both are used: exports often carry only one).
//!
//! The export is read twice, one record at a time: first the membership links (and the sync
//! group), then only the entries in scope. An export of 100k users is ~100 MB of text; holding
//! it, or every entry in it, would cost several times the snapshot itself.

mod chain;
mod records;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::SystemTime;

use crate::model::{DirectorySnapshot, EntryKind, ReasonCode, SharedStrings, SkippedEntry};

use super::dn::{dn_key, domain_head, key_is_under, looks_like_dn};
use super::entry::{decode_group, decode_user, RawEntry};
use super::error::DirectoryError;
use super::filter_match::{check_evaluable, matches as filter_matches};
use super::mapping::AttributeMap;
use super::scope::{
    assemble, fails_user_filter, in_exclusion_group, missing_sync_group, name_has_prefix,
    primary_group_sid, sorted_exclusions, unreadable_nesting, validate_scope, GroupCandidate,
    MembershipGraph,
};
use crate::model::settings::Scope;
use records::{RecordError, Records};

pub use chain::read_ldif_ancestry;

/// Reads an LDIF export from a file; see [`read_ldif`].
pub fn read_ldif_file(path: &Path, scope: &Scope) -> Result<DirectorySnapshot, DirectoryError> {
    read_ldif_file_with(path, scope, &AttributeMap::active_directory())
}

/// [`read_ldif_file`] with an explicit attribute profile (e.g. one that also reads the mapped
/// optional attributes).
pub fn read_ldif_file_with(
    path: &Path,
    scope: &Scope,
    map: &AttributeMap,
) -> Result<DirectorySnapshot, DirectoryError> {
    read_export(&Export::File(path), scope, map)
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
    read_export(&Export::Text(text), scope, map)
}

/// Where an export is read from; it can be opened more than once (the `openldap` profile's
/// export reader reads it the same way).
pub(crate) enum Export<'a> {
    Text(&'a str),
    File(&'a Path),
}

/// What identifies one version of a file: a rewrite between the two reads changes it.
pub(crate) type Version = Option<(u64, Option<SystemTime>)>;

impl<'a> Export<'a> {
    pub(crate) fn records(&self) -> Result<Records<Box<dyn BufRead + 'a>>, DirectoryError> {
        let reader: Box<dyn BufRead + 'a> = match self {
            Export::Text(text) => Box::new(text.as_bytes()),
            Export::File(path) => {
                let file = File::open(path).map_err(|e| self.io(e))?;
                Box::new(BufReader::with_capacity(256 * 1024, file))
            }
        };
        Ok(Records::new(reader))
    }

    pub(crate) fn version(&self) -> Result<Version, DirectoryError> {
        match self {
            Export::Text(_) => Ok(None),
            Export::File(path) => {
                let meta = std::fs::metadata(path).map_err(|e| self.io(e))?;
                Ok(Some((meta.len(), meta.modified().ok())))
            }
        }
    }

    pub(crate) fn io(&self, source: std::io::Error) -> DirectoryError {
        DirectoryError::LdifFile {
            path: match self {
                Export::Text(_) => "(text)".into(),
                Export::File(path) => path.to_path_buf(),
            },
            source,
        }
    }

    pub(crate) fn fail(&self, e: RecordError) -> DirectoryError {
        match e {
            RecordError::Syntax { line, reason } => DirectoryError::LdifSyntax { line, reason },
            RecordError::Io(source) => self.io(source),
        }
    }
}

/// How the attribute profile classifies entries.
struct Classes<'m> {
    map: &'m AttributeMap,
}

impl Classes<'_> {
    fn has_class(&self, e: &RawEntry, classes: &[&str]) -> bool {
        e.values(self.map.object_class).is_some_and(|vals| {
            vals.iter()
                .any(|v| classes.iter().any(|c| v.eq_ignore_ascii_case(c.as_bytes())))
        })
    }

    fn is_group(&self, e: &RawEntry) -> bool {
        match e.values(self.map.object_class) {
            Some(_) => self.has_class(e, self.map.group_classes),
            None => e.values(self.map.group_type).is_some(),
        }
    }

    fn is_user(&self, e: &RawEntry) -> bool {
        match e.values(self.map.object_class) {
            Some(_) => {
                self.has_class(e, self.map.user_classes)
                    && !self.has_class(e, self.map.non_user_classes)
            }
            None => {
                e.values(self.map.account_control).is_some()
                    && e.values(self.map.group_type).is_none()
            }
        }
    }
}

/// What the first read learns: who is a member of what, which groups have unusable member
/// lists, and which groups answer to the sync group's name.
#[derive(Default)]
struct Links {
    graph: MembershipGraph,
    /// Group number → why its members cannot be trusted (the first reason found).
    bad: HashMap<u32, String>,
    /// DN and number of every group matching the (first) sync group setting.
    sync: Vec<(String, u32)>,
    /// The same for every group the scope names ([`wanted_groups`]: the sync groups, then
    /// the exclusion groups), in that order.
    named: Vec<Vec<(String, u32)>>,
    /// The same entries as `bad`, with "DN: reason", for the groups they feed.
    unreadable: HashMap<u32, String>,
}

impl Links {
    fn mark_bad(&mut self, id: u32, dn: &str, reason: String) {
        self.unreadable
            .entry(id)
            .or_insert_with(|| format!("{dn}: {reason}"));
        self.bad.entry(id).or_insert(reason);
    }
}

fn read_export(
    export: &Export<'_>,
    scope: &Scope,
    map: &AttributeMap,
) -> Result<DirectorySnapshot, DirectoryError> {
    validate_scope(scope)?;
    if let Some(filter) = &scope.rules.user_filter {
        check_evaluable(filter.root())
            .map_err(|r| DirectoryError::Settings(format!("scope.userFilter {filter}: {r}")))?;
    }
    let classes = Classes { map };
    let version = export.version()?;
    let links = read_links(export, scope, &classes)?;
    let in_scope = resolve_scope(scope, &links)?;
    let snapshot = read_in_scope(export, scope, &classes, &links, &in_scope)?;
    if export.version()? != version {
        return Err(export.io(std::io::Error::other(
            "the file changed while it was read; run the pass again once the export is complete",
        )));
    }
    Ok(snapshot)
}

/// First read: the membership graph, bad member lists and sync group candidates.
fn read_links(
    export: &Export<'_>,
    scope: &Scope,
    classes: &Classes<'_>,
) -> Result<Links, DirectoryError> {
    let map = classes.map;
    let wanted: Vec<(Option<String>, String)> = wanted_groups(scope)
        .map(|w| {
            let w = w.trim();
            (looks_like_dn(w).then(|| dn_key(w)), w.to_lowercase())
        })
        .collect();
    let mut links = Links {
        named: vec![Vec::new(); wanted.len()],
        ..Links::default()
    };
    // Primary-group memberships, which AD lists in no `member`: (user, its group's SID), and
    // every group's SID, joined once the whole export has been seen.
    let mut primary: Vec<(u32, String)> = Vec::new();
    let mut group_by_sid: HashMap<String, u32> = HashMap::new();
    for record in export.records()? {
        let e = record.map_err(|x| export.fail(x))?;
        if classes.is_user(&e) {
            if let Some(group_sid) = primary_group_sid(&e, map) {
                primary.push((links.graph.intern(&e.dn), group_sid));
            }
        }
        if classes.is_group(&e) {
            let id = links.graph.touch(&e.dn);
            if let Some(sid) = e.sid(map.object_sid) {
                group_by_sid.insert(sid.to_ascii_uppercase(), id);
            }
            let (members, complete) = ranged_values(&e, map.member);
            match members {
                Ok(ms) => ms.iter().for_each(|m| {
                    let member = links.graph.intern(m);
                    links.graph.add_ids(id, member);
                }),
                Err(r) => links.mark_bad(id, &e.dn, r),
            }
            if let Err(range) = complete {
                links.mark_bad(id, &e.dn, format!(
                    "the export holds only {range} of its members (a ranged read was cut short); export with ldifde or a client that follows member;range"
                ));
            }
            let cn = group_name_of(&e, map).map(|v| v.to_lowercase());
            let sam = e
                .text(map.account_name)
                .ok()
                .flatten()
                .map(|v| v.to_lowercase());
            for (i, (wanted_key, wanted_lower)) in wanted.iter().enumerate() {
                let is_named = match wanted_key {
                    // The group's key is interned by now: equal keys have equal numbers.
                    Some(key) => links.graph.id_of_key(key) == Some(id),
                    None => [&cn, &sam]
                        .iter()
                        .any(|v| v.as_deref() == Some(wanted_lower.as_str())),
                };
                if is_named {
                    links.named[i].push((e.dn.clone(), id));
                }
            }
        }
        match e.texts(map.member_of) {
            Ok(groups) if groups.is_empty() => {}
            Ok(groups) => {
                // One key for the entry, however many groups it names.
                let member = links.graph.intern(&e.dn);
                for g in &groups {
                    let group = links.graph.intern(g);
                    links.graph.add_ids(group, member);
                }
            }
            Err(r) => {
                let id = links.graph.intern(&e.dn);
                links.mark_bad(id, &e.dn, r);
            }
        }
    }
    for (user, group_sid) in primary {
        if let Some(group) = group_by_sid.get(&group_sid) {
            links.graph.add_ids(*group, user);
        }
    }
    links.sync = links.named.first().cloned().unwrap_or_default();
    Ok(links)
}

/// Every group the scope names: the sync groups, then the exclusion groups.
fn wanted_groups(scope: &Scope) -> impl Iterator<Item = &str> {
    scope
        .sync_groups()
        .chain(scope.rules.exclude_groups.iter().map(String::as_str))
}

/// Who the scope rules let in, by number: reachable from a sync group, not from an exclusion
/// group, and the sync groups that are not in the export.
struct InScope<'s> {
    reachable: HashSet<u32>,
    /// Everything below an exclusion group, with the (first) group's name as configured.
    excluded: HashMap<u32, &'s str>,
    /// The exclusion groups and everything below them (for their unreadable parts).
    excluded_reach: HashSet<u32>,
    missing_sync_groups: Vec<&'s str>,
}

/// The sync and exclusion groups found by [`read_links`], resolved: a name matching two
/// groups fails, a missing exclusion group fails, a missing sync group fails only when no
/// sync group is there (else its users are unknown, see [`missing_sync_group`]).
fn resolve_scope<'s>(scope: &'s Scope, links: &Links) -> Result<InScope<'s>, DirectoryError> {
    let mut found = InScope {
        reachable: HashSet::new(),
        excluded: HashMap::new(),
        excluded_reach: HashSet::new(),
        missing_sync_groups: Vec::new(),
    };
    let ambiguous = |name: &str, many: &[(String, u32)]| DirectoryError::SyncGroupAmbiguous {
        name: name.trim().to_string(),
        dns: many.iter().map(|(dn, _)| dn.clone()).collect(),
    };
    let mut any = false;
    let sync_count = scope.sync_groups().count();
    for (name, named) in scope.sync_groups().zip(&links.named) {
        match named.as_slice() {
            [] => found.missing_sync_groups.push(name),
            [(_, id)] => {
                any = true;
                found.reachable.extend(links.graph.transitive_members(*id));
                // The sync group's own member list counts as much as its nested groups'.
                found.reachable.insert(*id);
            }
            many => return Err(ambiguous(name, many)),
        }
    }
    if !any {
        return Err(DirectoryError::SyncGroupNotFound {
            name: scope.sync_group.trim().to_string(),
            base: "the LDIF export".into(),
        });
    }
    let exclusions = scope.rules.exclude_groups.iter();
    for (name, named) in exclusions.zip(links.named.iter().skip(sync_count)) {
        match named.as_slice() {
            [] => {
                return Err(DirectoryError::ExcludeGroupNotFound {
                    name: name.trim().to_string(),
                    base: "the LDIF export".into(),
                })
            }
            [(_, id)] => {
                let below = links.graph.transitive_members(*id);
                for m in &below {
                    found.excluded.entry(*m).or_insert(name.as_str());
                }
                found.excluded_reach.extend(below);
                found.excluded_reach.insert(*id);
            }
            many => return Err(ambiguous(name, many)),
        }
    }
    Ok(found)
}

/// Second read: decodes the users in scope (reachable from a sync group, not from an
/// exclusion group, matching the user filter) and the groups in scope.
fn read_in_scope(
    export: &Export<'_>,
    scope: &Scope,
    classes: &Classes<'_>,
    links: &Links,
    in_scope: &InScope<'_>,
) -> Result<DirectorySnapshot, DirectoryError> {
    let map = classes.map;
    let reachable = &in_scope.reachable;
    let mut excluded = Vec::new();
    let base_keys: Vec<String> = scope.group_search_bases().map(dn_key).collect();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut skipped: Vec<SkippedEntry> = Vec::new();
    // The domain entry of the search base's naming context, when the export holds it; else
    // the export's only domain entry (a `DC=…` entry with an objectSid), if it has one.
    let head_key = domain_head(&scope.group_search_base).map(|h| dn_key(&h));
    let mut head_sid = None;
    let mut domain_entries = Vec::new();
    let shared = SharedStrings::default();
    for record in export.records()? {
        let e = record.map_err(|x| export.fail(x))?;
        let key = dn_key(&e.dn);
        if let Some(sid) = domain_entry_sid(&e, map) {
            if head_key.as_deref() == Some(key.as_str()) {
                head_sid = Some(sid.clone());
            }
            domain_entries.push(sid);
        }
        let id = links.graph.id_of_key(&key);
        if classes.is_user(&e) && id.is_some_and(|id| reachable.contains(&id)) {
            let exclusion = id.and_then(|id| in_scope.excluded.get(&id));
            let fails_filter = scope
                .rules
                .user_filter
                .as_ref()
                .filter(|f| !filter_matches(f.root(), &e));
            match (decode_user(&e, map, &shared), exclusion, fails_filter) {
                (Ok(u), Some(group), _) => excluded.push(in_exclusion_group(&u, group)),
                (Ok(u), None, Some(f)) => excluded.push(fails_user_filter(&u, f.as_str())),
                (Ok(u), None, None) => users.push(u),
                (Err(s), None, None) => skipped.push(s),
                // Out of scope all the same, with nothing to name it by.
                (Err(_), _, _) => {}
            }
        }
        if !classes.is_group(&e) || !base_keys.iter().any(|b| key_is_under(&key, b)) {
            continue;
        }
        match decode_group(&e, map) {
            Ok(g) if name_has_prefix(&g.name, &scope.group_prefix) => {
                match id.and_then(|id| links.bad.get(&id)) {
                    Some(reason) => skipped.push(SkippedEntry {
                        dn: g.dn,
                        anchor: Some(g.object_guid),
                        code: ReasonCode::UnreadableMembers,
                        reason: reason.clone(),
                        kind: EntryKind::Group,
                        user_names: Vec::new(),
                    }),
                    None => groups.push(GroupCandidate { group: g }),
                }
            }
            Ok(_) => {}
            Err(s) => {
                let name = group_name_of(&e, map).unwrap_or_default();
                if name_has_prefix(&name, &scope.group_prefix) {
                    skipped.push(s);
                }
            }
        }
    }
    // The sync group reaches an entry whose memberships could not be read: the users it holds
    // are unknown, so nobody may look out of scope because of it.
    let mut unknown_scope: Vec<&String> = links
        .unreadable
        .iter()
        .filter(|(id, _)| reachable.contains(id))
        .map(|(_, why)| why)
        .collect();
    unknown_scope.sort();
    for name in &in_scope.missing_sync_groups {
        skipped.push(missing_sync_group(name, "the LDIF export"));
    }
    let mut unknown_exclusion: Vec<&String> = links
        .unreadable
        .iter()
        .filter(|(id, _)| in_scope.excluded_reach.contains(id))
        .map(|(_, why)| why)
        .collect();
    unknown_exclusion.sort();
    for why in unknown_exclusion {
        skipped.push(unreadable_nesting(why, |reason| {
            format!(
                "nested in an exclusion group (scope.excludeGroups), and its memberships could \
                 not be read ({reason}), so who it excludes is unknown; nobody is taken out of \
                 scope in this pass"
            )
        }));
    }
    for why in unknown_scope {
        skipped.push(unreadable_nesting(why, |reason| {
            format!(
                "nested in the sync group, and its memberships could not be read ({reason}), \
                 so the users it holds are unknown"
            )
        }));
    }
    let mut snapshot = assemble(users, groups, &links.graph, skipped, &links.unreadable);
    snapshot.excluded = sorted_exclusions(excluded);
    snapshot.domain_sids = match (head_sid, domain_entries.as_slice()) {
        (Some(sid), _) => vec![sid],
        (None, [only]) => vec![only.clone()],
        (None, _) => Vec::new(),
    };
    Ok(snapshot)
}

/// The objectSid of a domain head entry (a DN of `DC=` components only), if `e` is one.
fn domain_entry_sid(e: &RawEntry, map: &AttributeMap) -> Option<String> {
    if domain_head(&e.dn).is_none_or(|head| dn_key(&head) != dn_key(&e.dn)) {
        return None;
    }
    e.sid(map.object_sid)
}

/// A group's name as the scope rules compare it, even when the entry cannot be decoded:
/// `cn`, else the first RDN's value.
fn group_name_of(e: &RawEntry, map: &AttributeMap) -> Option<String> {
    e.text(map.group_name)
        .ok()
        .flatten()
        .or_else(|| super::dn::first_rdn_value(&e.dn))
}

/// Values of a possibly ranged attribute (`member;range=0-1499`): the values, and `Err(range)`
/// when the export stopped before the end marker `*`.
fn ranged_values<'e>(
    e: &'e RawEntry,
    name: &str,
) -> (Result<Vec<&'e str>, String>, Result<(), String>) {
    let mut values = Vec::new();
    let mut complete = Ok(());
    let prefix = format!("{name};range=").to_ascii_lowercase();
    for (attr, vals) in &e.attrs {
        let lower = attr.to_ascii_lowercase();
        let plain = lower == name.to_ascii_lowercase();
        let ranged = lower.starts_with(&prefix);
        if !plain && !ranged {
            continue;
        }
        if ranged && !lower.ends_with("-*") {
            complete = Err(attr[prefix.len()..].to_string());
        }
        for v in vals {
            match std::str::from_utf8(v) {
                Ok(s) => values.push(s),
                Err(_) => return (Err(format!("a {name} value is not valid UTF-8")), complete),
            }
        }
    }
    (Ok(values), complete)
}

#[cfg(test)]
mod tests;
