//! The group graph of an RFC 4519 directory and the snapshot built from it.
//!
//! Every group is read once (the LDAP search or the export), so nesting is expanded here, in
//! memory: breadth-first from each group in scope and from the sync group, cycle-safe, at most
//! `maxNestingDepth` levels down. A group whose members cannot be read, or a chain deeper
//! than the limit, makes the group above it a partial read (it gains members but loses none),
//! and makes the scope a partial read when the sync group reaches it.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::model::settings::Scope;
use crate::model::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, EntryKind, ExcludedUser, ReasonCode,
    SkippedEntry,
};

use super::super::dn::{dn_key, key_is_under, looks_like_dn};
use super::super::entry::RawEntry;
use super::super::error::DirectoryError;
use super::super::scope::{
    assemble, missing_sync_group, name_has_prefix, sorted_exclusions, unreadable_nesting,
    GroupCandidate, MembershipGraph,
};
use super::decode::{decode_group, group_members};
use super::mapping::{OpenLdapReading, CN};

/// One group as read: its DN, its direct members (DN keys) or why they are unknown, and
/// its decoded form (or why it cannot be synced).
struct GroupNode {
    dn: String,
    members: Result<Vec<String>, String>,
    decoded: Result<DirectoryGroup, SkippedEntry>,
    /// `cn` (or the RDN value), for the sync group's lookup by name.
    name: Option<String>,
}

/// The users a read decoded: in scope, left out by a scope rule, and skipped.
#[derive(Default)]
pub(crate) struct UsersFound {
    pub users: Vec<DirectoryUser>,
    pub excluded: Vec<ExcludedUser>,
    pub skipped: Vec<SkippedEntry>,
}

/// Every group of the directory, by DN key.
#[derive(Default)]
pub(crate) struct GroupGraph {
    groups: HashMap<String, GroupNode>,
}

/// What a walk down from one group reaches.
#[derive(Debug, Default)]
pub(crate) struct Reach {
    /// DN keys of the members that are not groups (users, or entries out of view).
    pub members: HashSet<String>,
    /// Why the walk is incomplete ("DN: reason"), sorted; empty when it is complete.
    pub partial: Vec<String>,
    /// Members a sync group reaches that an exclusion group takes out: DN key → the
    /// exclusion group's name as configured.
    pub excluded: HashMap<String, String>,
}

impl GroupGraph {
    /// Takes a group entry.
    pub fn add(&mut self, e: &RawEntry, reading: &OpenLdapReading, identity: &str) {
        let members = group_members(e).map(|ms| ms.iter().map(|m| dn_key(m)).collect());
        let name = e
            .text(CN)
            .ok()
            .flatten()
            .or_else(|| super::super::dn::first_rdn_value(&e.dn));
        self.groups.insert(
            dn_key(&e.dn),
            GroupNode {
                dn: e.dn.clone(),
                members,
                decoded: decode_group(e, reading, identity),
                name,
            },
        );
    }

    /// The DN key of the group `wanted` names: a DN must be a group's; a name is matched
    /// against `cn` without case and must match at most one group. `None`: no such group.
    fn resolve(&self, wanted: &str) -> Result<Option<String>, DirectoryError> {
        let wanted = wanted.trim();
        if looks_like_dn(wanted) {
            let key = dn_key(wanted);
            return Ok(self.groups.contains_key(&key).then_some(key));
        }
        let lower = wanted.to_lowercase();
        let mut found: Vec<(&String, &GroupNode)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.name.as_deref().is_some_and(|n| n.to_lowercase() == lower))
            .collect();
        found.sort_by(|a, b| a.0.cmp(b.0));
        match found.as_slice() {
            [] => Ok(None),
            [(key, _)] => Ok(Some((*key).clone())),
            many => Err(DirectoryError::SyncGroupAmbiguous {
                name: wanted.to_string(),
                dns: many.iter().map(|(_, g)| g.dn.clone()).collect(),
            }),
        }
    }

    /// The (first) sync group's DN key, for `explain`.
    pub fn sync_group(&self, scope: &Scope, base: &str) -> Result<String, DirectoryError> {
        self.resolve(&scope.sync_group)?
            .ok_or_else(|| DirectoryError::SyncGroupNotFound {
                name: scope.sync_group.trim().to_string(),
                base: base.to_string(),
            })
    }

    /// Who the scope rules let in: the union of what the sync groups reach, less what the
    /// exclusion groups reach. A sync group that is missing while another is there makes the
    /// scope unknown (no one leaves it this pass); a missing exclusion group fails the read.
    pub fn scope_reach(
        &self,
        scope: &Scope,
        base: &str,
        max_depth: u32,
    ) -> Result<(Reach, Vec<SkippedEntry>), DirectoryError> {
        let mut reach = Reach::default();
        let mut missing = Vec::new();
        let mut any = false;
        for name in scope.sync_groups() {
            match self.resolve(name)? {
                None => missing.push(missing_sync_group(name.trim(), base)),
                Some(key) => {
                    any = true;
                    let r = self.reach(&key, max_depth);
                    reach.members.extend(r.members);
                    reach.partial.extend(r.partial);
                }
            }
        }
        if !any {
            return Err(DirectoryError::SyncGroupNotFound {
                name: scope.sync_group.trim().to_string(),
                base: base.to_string(),
            });
        }
        for name in &scope.rules.exclude_groups {
            let Some(key) = self.resolve(name)? else {
                return Err(DirectoryError::ExcludeGroupNotFound {
                    name: name.trim().to_string(),
                    base: base.to_string(),
                });
            };
            for m in self.reach(&key, max_depth).members {
                if reach.members.remove(&m) {
                    reach.excluded.insert(m, name.trim().to_string());
                }
            }
        }
        reach.partial.sort();
        reach.partial.dedup();
        Ok((reach, missing))
    }

    /// Everything below `root` (a group's DN key), at most `max_depth` levels of groups down.
    pub fn reach(&self, root: &str, max_depth: u32) -> Reach {
        let mut out = Reach::default();
        let mut seen: HashSet<&str> = HashSet::from([root]);
        let mut queue: VecDeque<(&str, u32)> = VecDeque::from([(root, 0)]);
        while let Some((key, depth)) = queue.pop_front() {
            let Some(node) = self.groups.get(key) else {
                continue;
            };
            let members = match &node.members {
                Ok(m) => m,
                Err(reason) => {
                    out.partial.push(format!("{}: {reason}", node.dn));
                    continue;
                }
            };
            for m in members {
                if !self.groups.contains_key(m) {
                    out.members.insert(m.clone());
                } else if !seen.contains(m.as_str()) {
                    if depth + 1 > max_depth {
                        out.partial.push(format!(
                            "{}: nested more than {max_depth} levels deep (directory.maxNestingDepth), \
                             its members were not followed",
                            self.groups.get(m).map_or(m.as_str(), |g| g.dn.as_str())
                        ));
                        continue;
                    }
                    seen.insert(m);
                    queue.push_back((m, depth + 1));
                }
            }
        }
        out.partial.sort();
        out.partial.dedup();
        out
    }

    /// Builds the snapshot: the users (already decoded, those in the sync group's reach),
    /// the groups in scope with their members flattened, and what is unknown.
    pub fn snapshot(
        &self,
        scope: &Scope,
        sync: &Reach,
        found: UsersFound,
        max_depth: u32,
        identity: String,
    ) -> DirectorySnapshot {
        let UsersFound {
            users,
            excluded,
            mut skipped,
        } = found;
        let base_keys: Vec<String> = scope.group_search_bases().map(dn_key).collect();
        let mut graph = MembershipGraph::default();
        let mut unreadable: HashMap<u32, String> = HashMap::new();
        let mut candidates = Vec::new();
        let mut keys: Vec<&String> = self.groups.keys().collect();
        keys.sort();
        for key in keys {
            let node = &self.groups[key];
            if !base_keys.iter().any(|b| key_is_under(key, b))
                || !node
                    .name
                    .as_deref()
                    .is_some_and(|n| name_has_prefix(n, &scope.group_prefix))
            {
                continue;
            }
            let group = match (&node.decoded, &node.members) {
                (Err(s), _) => {
                    skipped.push(s.clone());
                    continue;
                }
                (Ok(g), Err(reason)) => {
                    // Its own member list is unknown: it cannot be synced at all this pass.
                    skipped.push(SkippedEntry {
                        dn: node.dn.clone(),
                        anchor: Some(g.object_guid.clone()),
                        code: ReasonCode::UnreadableMembers,
                        reason: reason.clone(),
                        kind: EntryKind::Group,
                        user_names: Vec::new(),
                    });
                    continue;
                }
                (Ok(g), Ok(_)) => g.clone(),
            };
            let id = graph.touch(&node.dn);
            let reach = self.reach(key, max_depth);
            for m in &reach.members {
                let member = graph.intern(m);
                graph.add_ids(id, member);
            }
            if !reach.partial.is_empty() {
                // A marker member that stands for what could not be read.
                let marker = graph.intern(&format!("unreadable below {key}"));
                graph.add_ids(id, marker);
                unreadable.insert(marker, reach.partial.join("; "));
            }
            candidates.push(GroupCandidate { group });
        }
        for why in &sync.partial {
            skipped.push(unreadable_nesting(why, |reason| {
                format!("nested in the sync group, and {reason}, so the users it holds are unknown")
            }));
        }
        let mut snapshot = assemble(users, candidates, &graph, skipped, &unreadable);
        snapshot.excluded = sorted_exclusions(excluded);
        snapshot.domain_sids = vec![identity];
        snapshot
    }

    /// The groups that list `member_key` directly, as (DN key, DN), for `explain`'s walk up.
    pub fn parents_of<'g>(
        &'g self,
        member_key: &'g str,
    ) -> impl Iterator<Item = (&'g str, &'g str)> {
        self.groups.iter().filter_map(move |(k, g)| {
            g.members
                .as_ref()
                .is_ok_and(|ms| ms.iter().any(|m| m == member_key))
                .then_some((k.as_str(), g.dn.as_str()))
        })
    }

    /// The DN of the group with this key, as the directory spells it.
    pub fn dn_of(&self, key: &str) -> Option<&str> {
        self.groups.get(key).map(|g| g.dn.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::OpenLdapProfile;

    const ID: &str = "ldap:0000";

    fn group(graph: &mut GroupGraph, cn: &str, n: u8, members: &[&str]) {
        let mut e = RawEntry {
            dn: format!("cn={cn},ou=G,dc=x"),
            attrs: vec![],
        };
        e.push("objectClass", b"groupOfNames".to_vec());
        e.push("cn", cn.as_bytes().to_vec());
        e.push("entryUUID", format!("{n:08x}").into_bytes());
        for m in members {
            e.push("member", m.as_bytes().to_vec());
        }
        graph.add(
            &e,
            &OpenLdapReading::new(OpenLdapProfile::default(), vec![]),
            ID,
        );
    }

    #[test]
    fn cycles_end_and_depth_is_bounded() {
        let mut g = GroupGraph::default();
        group(&mut g, "a", 1, &["cn=b,ou=G,dc=x", "uid=u1,dc=x"]);
        group(&mut g, "b", 2, &["cn=c,ou=G,dc=x", "uid=u2,dc=x"]);
        group(&mut g, "c", 3, &["cn=a,ou=G,dc=x", "uid=u3,dc=x"]);
        let all = g.reach("cn=c,ou=g,dc=x", 32);
        assert_eq!(
            all.members.len(),
            3,
            "the cycle leads back round to every user"
        );
        assert!(all.partial.is_empty());
        let one = g.reach("cn=a,ou=g,dc=x", 1);
        assert_eq!(one.members.len(), 2);
        assert_eq!(one.partial.len(), 1, "{:?}", one.partial);
        assert!(one.partial[0].starts_with("cn=c,ou=G,dc=x: nested more than 1"));
        let scope = Scope {
            sync_group: "A".into(),
            group_prefix: String::new(),
            group_search_base: "ou=G,dc=x".into(),
            extra_domain_sids: vec![],
            rules: Default::default(),
        };
        assert_eq!(g.sync_group(&scope, "dc=x").unwrap(), "cn=a,ou=g,dc=x");
    }

    #[test]
    fn a_synced_group_with_unreadable_members_is_skipped_and_the_groups_above_are_partial() {
        let mut g = GroupGraph::default();
        group(&mut g, "sync", 1, &["cn=top,ou=G,dc=x", "uid=u1,dc=x"]);
        group(&mut g, "top", 2, &["cn=hidden,ou=G,dc=x", "uid=u1,dc=x"]);
        group(&mut g, "hidden", 3, &[]);
        let scope = Scope {
            sync_group: "sync".into(),
            group_prefix: String::new(),
            group_search_base: "ou=G,dc=x".into(),
            extra_domain_sids: vec![],
            rules: Default::default(),
        };
        let (reach, missing) = g.scope_reach(&scope, "dc=x", 32).unwrap();
        assert!(missing.is_empty());
        assert_eq!(reach.partial.len(), 1, "{:?}", reach.partial);
        let snap = g.snapshot(&scope, &reach, UsersFound::default(), 32, ID.into());
        let names: Vec<&str> = snap.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["sync", "top"], "hidden is skipped");
        assert!(snap.groups.iter().all(|g| g.members_partial.is_some()));
        let hidden = snap
            .skipped
            .iter()
            .find(|s| s.kind == EntryKind::Group)
            .unwrap();
        assert_eq!(hidden.code, ReasonCode::UnreadableMembers);
        assert!(hidden.anchor.as_deref().is_some_and(|a| a.starts_with(ID)));
        assert!(
            snap.skipped
                .iter()
                .any(|s| s.kind == EntryKind::User && s.anchor.is_none()),
            "the scope is unknown too: {:?}",
            snap.skipped
        );
    }
}
