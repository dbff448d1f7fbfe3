//! The scope rules shared by both sources: flattening nested groups (Identity Center has no
//! nested groups), keeping only members that are users in scope, and a stable order, so the
//! LDAP and LDIF sources produce identical snapshots from the same directory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::model::settings::Scope;
use crate::model::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, EntryKind, ExcludedUser, ReasonCode,
    SkippedEntry,
};

use super::dn::{dn_key, key_is_under, parse_dn};
use super::error::DirectoryError;

/// Refuses a scope that would silently widen or empty the read (both sources call it): the
/// reader's own precondition, on top of the loader's checks, because the DN rule is the
/// directory's.
pub(crate) fn validate_scope(scope: &Scope) -> Result<(), DirectoryError> {
    if scope.sync_group.trim().is_empty() {
        return Err(DirectoryError::Settings("the sync group is empty".into()));
    }
    for base in scope.group_search_bases() {
        if parse_dn(base).is_none_or(|rdns| rdns.is_empty()) {
            return Err(DirectoryError::Settings(format!(
                "the group search base {base:?} is not a DN (e.g. OU=AWS,DC=example,DC=com)"
            )));
        }
    }
    if scope.sync_groups().any(|g| g.trim().is_empty()) {
        return Err(DirectoryError::Settings("a sync group is empty".into()));
    }
    Ok(())
}

/// Group → direct members, with every DN interned once as a number: a directory of 100k users
/// has about a million membership links, and a DN string per link would cost ~100 MB.
/// Built from `member` (and, for LDIF, `memberOf`) values.
#[derive(Debug, Default)]
pub(crate) struct MembershipGraph {
    ids: HashMap<Box<str>, u32>,
    members: HashMap<u32, Vec<u32>>,
}

impl MembershipGraph {
    /// The number of a DN key, allocated on first sight.
    fn intern_key(&mut self, key: String) -> u32 {
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        *self.ids.entry(key.into_boxed_str()).or_insert(next)
    }

    /// The number of a DN (any spelling of it), allocated on first sight.
    pub fn intern(&mut self, dn: &str) -> u32 {
        self.intern_key(dn_key(dn))
    }

    /// The number of a DN key, if the DN took part in any link.
    pub fn id_of_key(&self, key: &str) -> Option<u32> {
        self.ids.get(key).copied()
    }

    /// Records that `member_dn` is a direct member of `group_dn`.
    pub fn add(&mut self, group_dn: &str, member_dn: &str) {
        let group = self.intern(group_dn);
        let member = self.intern(member_dn);
        self.add_ids(group, member);
    }

    /// Records a direct membership between interned DNs.
    pub fn add_ids(&mut self, group: u32, member: u32) {
        self.members.entry(group).or_default().push(member);
    }

    /// Whether the group's members have been recorded (even as an empty set).
    pub fn knows(&self, group_key: &str) -> bool {
        self.id_of_key(group_key)
            .is_some_and(|id| self.knows_id(id))
    }

    /// [`Self::knows`] by number.
    pub fn knows_id(&self, group: u32) -> bool {
        self.members.contains_key(&group)
    }

    /// Every direct membership link, as (group, member) numbers.
    pub fn links(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.members
            .iter()
            .flat_map(|(g, ms)| ms.iter().map(move |m| (*g, *m)))
    }

    /// Every DN key seen, with its number.
    pub fn keys(&self) -> impl Iterator<Item = (&str, u32)> {
        self.ids.iter().map(|(key, id)| (&**key, *id))
    }

    /// Marks a group as read, so a group without members is known to be empty; returns its
    /// number.
    pub fn touch(&mut self, group_dn: &str) -> u32 {
        let id = self.intern(group_dn);
        self.members.entry(id).or_default();
        id
    }

    /// Every DN reachable from `group` through nested membership (cycle-safe; the group
    /// itself is included only if a cycle leads back to it).
    pub fn transitive_members(&self, group: u32) -> HashSet<u32> {
        let mut seen = HashSet::new();
        let mut stack = vec![group];
        while let Some(g) = stack.pop() {
            for &m in self.members.get(&g).into_iter().flatten() {
                if seen.insert(m) {
                    stack.push(m);
                }
            }
        }
        seen
    }
}

/// A group in scope before its effective members are known.
#[derive(Debug, Clone)]
pub(crate) struct GroupCandidate {
    pub group: DirectoryGroup,
}

/// Builds the snapshot: each group's effective members are the users in scope reachable from
/// it; everything is sorted so two reads of the same directory compare equal.
///
/// `unreadable` holds the entries whose memberships could not be read (by number, with "DN:
/// reason"): a group that reaches one of them gets `members_partial`.
pub(crate) fn assemble(
    users: Vec<DirectoryUser>,
    groups: Vec<GroupCandidate>,
    graph: &MembershipGraph,
    mut skipped: Vec<SkippedEntry>,
    unreadable: &HashMap<u32, String>,
) -> DirectorySnapshot {
    // One shared copy of each member's SID (the user's own), however many groups it is in.
    let sid_by_id: HashMap<u32, Arc<str>> = users
        .iter()
        .filter_map(|u| {
            let id = graph.id_of_key(&dn_key(&u.dn))?;
            Some((id, Arc::clone(&u.object_sid)))
        })
        .collect();
    let mut out_groups: Vec<DirectoryGroup> = groups
        .into_iter()
        .map(|c| {
            let mut g = c.group;
            let members = graph
                .id_of_key(&dn_key(&g.dn))
                .map(|id| graph.transitive_members(id))
                .unwrap_or_default();
            let mut partial: Vec<&str> = members
                .iter()
                .filter_map(|m| unreadable.get(m).map(String::as_str))
                .collect();
            partial.sort_unstable();
            if !partial.is_empty() {
                g.members_partial = Some(partial.join("; "));
            }
            let sids: BTreeSet<&Arc<str>> =
                members.iter().filter_map(|k| sid_by_id.get(k)).collect();
            g.member_sids = sids.into_iter().cloned().collect();
            g
        })
        .collect();
    let mut users = users;
    users.sort_by(|a, b| {
        (a.sam_account_name.to_lowercase(), &a.object_sid)
            .cmp(&(b.sam_account_name.to_lowercase(), &b.object_sid))
    });
    users.dedup_by(|a, b| a.object_sid == b.object_sid);
    users.shrink_to_fit();
    out_groups.sort_by(|a, b| {
        (a.name.to_lowercase(), &a.object_guid).cmp(&(b.name.to_lowercase(), &b.object_guid))
    });
    skipped.sort_by(|a, b| a.dn.cmp(&b.dn));
    DirectorySnapshot {
        users,
        groups: out_groups,
        skipped,
        // Set by the source, which knows where the domain head is.
        domain_sids: Vec::new(),
        read_at: None,
        excluded: Vec::new(),
    }
}

/// The SID of the user's primary group (uppercase): its domain (the user's SID without the
/// RID) and `primaryGroupID`. AD lists a primary group's members in no `member` value, so both
/// sources add these memberships themselves: for scope (a user whose primary group is the
/// sync group, or one nested in it) and for membership (of a synced group, or one nested in it).
pub(crate) fn primary_group_sid(
    e: &super::entry::RawEntry,
    map: &super::mapping::AttributeMap,
) -> Option<String> {
    let rid = super::entry::primary_group_rid(e, map)?;
    let sid = e.sid(map.object_sid)?;
    let (domain, _) = sid.rsplit_once('-')?;
    Some(format!("{domain}-{rid}").to_ascii_uppercase())
}

/// The finding for a sync group that is not in the directory while others are.
pub(crate) fn missing_sync_group(name: &str, base: &str) -> SkippedEntry {
    SkippedEntry {
        dn: name.to_string(),
        anchor: None,
        code: ReasonCode::UnreadableMembers,
        reason: format!(
            "sync group {name:?} (scope.syncGroups) was not found under {base}: the users it \
             holds are unknown, so nobody is taken out of scope in this pass; fix the name (a \
             group name or its DN) or remove it from scope.syncGroups"
        ),
        kind: EntryKind::User,
        user_names: Vec::new(),
    }
}

/// A user-side entry for a nested group whose memberships could not be read. `why` is the
/// reader's "DN: reason" line; `sentence` says, from the reason, what that leaves unknown.
pub(crate) fn unreadable_nesting(why: &str, sentence: impl FnOnce(&str) -> String) -> SkippedEntry {
    let (dn, reason) = why.split_once(": ").unwrap_or((why, ""));
    SkippedEntry {
        dn: dn.to_string(),
        anchor: None,
        code: ReasonCode::UnreadableMembers,
        reason: sentence(reason),
        kind: EntryKind::User,
        user_names: Vec::new(),
    }
}

/// The users scope rules left out, once each (an exclusion group before the filter), in a
/// stable order, so both sources give equal snapshots.
pub(crate) fn sorted_exclusions(mut excluded: Vec<ExcludedUser>) -> Vec<ExcludedUser> {
    excluded.sort_by(|a, b| {
        (a.sam_account_name.to_lowercase(), &a.object_sid, a.code).cmp(&(
            b.sam_account_name.to_lowercase(),
            &b.object_sid,
            b.code,
        ))
    });
    excluded.dedup_by(|a, b| a.object_sid == b.object_sid);
    excluded
}

/// The record of a user an exclusion group leaves out.
pub(crate) fn in_exclusion_group(u: &DirectoryUser, group: &str) -> ExcludedUser {
    ExcludedUser {
        object_sid: u.object_sid.to_string(),
        dn: u.dn.clone(),
        sam_account_name: u.sam_account_name.clone(),
        code: ReasonCode::InExclusionGroup,
        reason: format!(
            "out of scope: a direct or nested member of the exclusion group {group:?} \
             (scope.excludeGroups)"
        ),
    }
}

/// The record of a user `scope.userFilter` leaves out.
pub(crate) fn fails_user_filter(u: &DirectoryUser, filter: &str) -> ExcludedUser {
    ExcludedUser {
        object_sid: u.object_sid.to_string(),
        dn: u.dn.clone(),
        sam_account_name: u.sam_account_name.clone(),
        code: ReasonCode::FailsUserFilter,
        reason: format!("out of scope: does not match the user filter {filter} (scope.userFilter)"),
    }
}

/// Which groups scim-sync syncs, by their own entry: under one of the group search bases and
/// named with the prefix. For a group read by DN rather than found by the search of
/// those bases (an incremental pass walking up `memberOf`).
pub(crate) struct SyncedGroups<'s> {
    base_keys: Vec<String>,
    prefix: &'s str,
}

impl<'s> SyncedGroups<'s> {
    pub fn of(scope: &'s Scope) -> Self {
        SyncedGroups {
            base_keys: scope
                .group_search_bases()
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(dn_key)
                .collect(),
            prefix: &scope.group_prefix,
        }
    }

    /// True when the group at `dn` named `name` is one scim-sync syncs.
    pub fn holds(&self, dn: &str, name: &str) -> bool {
        self.is_under_a_base(dn) && name_has_prefix(name, self.prefix)
    }

    /// True when `dn` is under a group search base (a group there is synced by its name).
    pub fn is_under_a_base(&self, dn: &str) -> bool {
        let key = dn_key(dn);
        self.base_keys.iter().any(|b| key_is_under(&key, b))
    }
}

/// True when a group name is in scope for `prefix` (AD compares names case-insensitively).
pub(crate) fn name_has_prefix(name: &str, prefix: &str) -> bool {
    name.to_lowercase().starts_with(&prefix.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u32) -> DirectoryUser {
        DirectoryUser {
            object_sid: format!("S-1-5-21-1-2-3-{n}").into(),
            object_guid: format!("00000000-0000-0000-0000-{n:012}"),
            dn: format!("CN=u{n},OU=People,DC=x"),
            sam_account_name: format!("u{n}"),
            user_principal_name: None,
            given_name: None,
            surname: None,
            display_name: None,
            mail: None,
            enabled: true,
            account_expires: None,
            attributes: Default::default(),
        }
    }

    fn group(name: &str) -> GroupCandidate {
        GroupCandidate {
            group: DirectoryGroup {
                object_guid: format!("guid-{name}"),
                object_sid: None,
                dn: format!("CN={name},OU=G,DC=x"),
                name: name.into(),
                account_name: None,
                description: None,
                member_sids: vec![],
                members_partial: None,
            },
        }
    }

    #[test]
    fn nesting_is_flattened_to_users_in_scope_and_cycles_end() {
        let mut g = MembershipGraph::default();
        g.add("CN=top,OU=G,DC=x", "CN=mid,OU=G,DC=x");
        g.add("CN=top,OU=G,DC=x", "cn=u1, ou=people, dc=x");
        g.add("CN=mid,OU=G,DC=x", "CN=low,OU=G,DC=x");
        g.add("CN=low,OU=G,DC=x", "CN=u2,OU=People,DC=x");
        g.add("CN=low,OU=G,DC=x", "CN=outsider,OU=People,DC=x");
        g.add("CN=low,OU=G,DC=x", "CN=top,OU=G,DC=x"); // a cycle
        let snap = assemble(
            vec![user(2), user(1)],
            vec![group("top"), group("low"), group("empty")],
            &g,
            vec![],
            &HashMap::new(),
        );
        assert_eq!(snap.users[0].sam_account_name, "u1");
        let top = snap
            .groups
            .iter()
            .find(|g| g.name == "top")
            .map(|g| &g.member_sids);
        assert_eq!(
            top,
            Some(&vec![
                Arc::<str>::from("S-1-5-21-1-2-3-1"),
                Arc::<str>::from("S-1-5-21-1-2-3-2")
            ])
        );
        let low = snap
            .groups
            .iter()
            .find(|g| g.name == "low")
            .map(|g| g.member_sids.len());
        assert_eq!(
            low,
            Some(2),
            "the cycle back to top brings u1 in, as AD's in-chain rule does"
        );
        let empty = snap
            .groups
            .iter()
            .find(|g| g.name == "empty")
            .map(|g| g.member_sids.len());
        assert_eq!(empty, Some(0));
    }

    #[test]
    fn scope_settings_are_checked() {
        let ok = Scope {
            sync_group: "aws-sync-users".into(),
            group_prefix: String::new(),
            group_search_base: "DC=local".into(),
            extra_domain_sids: Vec::new(),
            rules: Default::default(),
        };
        assert!(validate_scope(&ok).is_ok());
        let mut bad = ok.clone();
        bad.group_search_base = String::new();
        assert!(validate_scope(&bad).is_err());
        bad.group_search_base = "just words".into();
        assert!(validate_scope(&bad).is_err());
        let mut bad = ok;
        bad.sync_group = " ".into();
        assert!(validate_scope(&bad).is_err());
    }

    #[test]
    fn prefix_matching_ignores_case() {
        assert!(name_has_prefix("AWS-Auditors", "aws-"));
        assert!(name_has_prefix("anything", ""));
        assert!(!name_has_prefix("finance", "aws-"));
    }
}
