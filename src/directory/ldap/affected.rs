//! The directory side of an incremental pass in which groups changed: what a full read would
//! say about the affected objects, without reading the rest of the directory.
//!
//! - **The scope**, as DNs and objectSids only, when a group of the scope chain changed: a
//!   directory does not say which values a group lost, so who left the scope is found by
//!   comparing it with the watermark's. It is the full read's own member searches
//!   (`each_member_entry`), asking for two attributes instead of every mapped one.
//! - **Each changed group in scope whose members may have moved**, with every member in
//!   scope as an objectSid only: the pass compares such a group's membership with Identity
//!   Center's and needs entries only where the two differ. Its members are found the way the
//!   full read finds the users of the sync group (the groups nested in it by AD's in-chain
//!   rule, then indexed `memberOf` searches), so the cost is one small entry per member of
//!   the group, not the directory.
//! - **Users by objectSid**: the members of such a group on one side only. Those only in
//!   Identity Center are in scope but no longer its members here (they left it and stayed in
//!   scope): the planner needs their entries to remove them from the group without taking
//!   them for users who left. Those only here are added to it, and created if need be.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::model::settings::{LdapSettings, Scope};
use crate::model::{
    ChangedUser, DirectorySnapshot, EntryKind, ReasonCode, SharedStrings, SkippedEntry,
};

use super::super::dn::dn_key;
use super::super::entry::{decode_group, decode_user};
use super::super::error::DirectoryError;
use super::super::mapping::AttributeMap;
use super::super::scope::SyncedGroups;
use super::super::sid::guid_from_string;
use super::changed::users_by_sid;
use super::rules::resolve_sync_groups;
use super::search::Reader;
use super::{each_member_entry, search_base, MemberSearch};

/// Every user in scope now (DN and objectSid, uppercase), for a scope without rules that
/// depend on the users' own attributes (no `userFilter`, no `excludeGroups`: the caller
/// checks). Fails when a sync group is missing or a user's objectSid cannot be read: the
/// scope would then be partial, and only the full read knows how to hold back what rests on
/// it.
pub(super) async fn read_scope(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
    searches: &mut u64,
) -> Result<Vec<ChangedUser>, DirectoryError> {
    let base = search_base(reader, settings, map, searches).await?;
    let mut missing = Vec::new();
    *searches += scope.sync_groups().count() as u64;
    let heads = resolve_sync_groups(reader, &base, scope, map, &mut missing).await?;
    if let Some(m) = missing.first() {
        return Err(DirectoryError::SyncGroupNotFound {
            name: m.dn.clone(),
            base,
        });
    }
    let mut members = Vec::new();
    let mut unreadable = None;
    let attrs = [map.object_sid, map.primary_group_id];
    *searches += each_member_entry(
        reader,
        MemberSearch {
            base: &base,
            heads: &heads,
            user_filter: None,
            attrs: &attrs,
            map,
        },
        &mut HashMap::new(),
        |e| match e.sid(map.object_sid) {
            Some(sid) => members.push(ChangedUser {
                dn: e.dn,
                object_sid: sid.to_ascii_uppercase(),
            }),
            None => {
                unreadable.get_or_insert(e.dn);
            }
        },
    )
    .await?;
    if let Some(dn) = unreadable {
        return Err(DirectoryError::Protocol {
            operation: "list the users in scope".into(),
            detail: format!("{dn} gives no readable objectSid"),
        });
    }
    Ok(members)
}

/// The groups at `dns` (changed groups in scope), each with every member in scope
/// (`in_scope`: uppercase objectSid), as objectSids only. The pass reads entries only for
/// the members whose membership differs from Identity Center's
/// (`plan::incremental::whole_members_unread`): a group of 3,000 members costs one small
/// entry per member here, not 3,000 full ones. A group that is no longer there is left out
/// (the full pass decides on it); a member whose objectSid cannot be read is not one this
/// directory can name, and is left out as the full read leaves it out.
pub(super) async fn read_whole_groups(
    reader: &mut Reader,
    settings: &LdapSettings,
    map: &AttributeMap,
    dns: &[String],
    in_scope: &(dyn Fn(&str) -> bool + Sync),
    searches: &mut u64,
) -> Result<DirectorySnapshot, DirectoryError> {
    let base = search_base(reader, settings, map, searches).await?;
    let mut snapshot = DirectorySnapshot::default();
    let group_attrs = map.group_attributes();
    let member_attrs = [map.object_sid];
    for dn in dns {
        *searches += 1;
        let Some(entry) = reader
            .read_entry_here("read a changed group", dn, map.group_filter, &group_attrs)
            .await?
        else {
            continue;
        };
        let mut group = match decode_group(&entry, map) {
            Ok(g) => g,
            Err(skip) => {
                snapshot.skipped.push(skip);
                continue;
            }
        };
        let mut member_sids: Vec<Arc<str>> = Vec::new();
        let heads = [entry.dn.clone()];
        *searches += each_member_entry(
            reader,
            MemberSearch {
                base: &base,
                heads: &heads,
                user_filter: None,
                attrs: &member_attrs,
                map,
            },
            &mut HashMap::new(),
            |e| {
                let sid = e.sid(map.object_sid).map(|s| s.to_ascii_uppercase());
                if let Some(sid) = sid.filter(|s| in_scope(s)) {
                    member_sids.push(Arc::from(sid));
                }
            },
        )
        .await?;
        member_sids.sort();
        member_sids.dedup();
        group.member_sids = member_sids;
        snapshot.groups.push(group);
    }
    Ok(snapshot)
}

/// The entries of the users with these objectSids (uppercase), a hundred to an indexed
/// search. A SID that finds no user is listed as skipped with that anchor: the caller knows
/// it is in scope, so not finding it now is unknown, not gone.
pub(super) async fn read_users_by_sid(
    reader: &mut Reader,
    settings: &LdapSettings,
    map: &AttributeMap,
    sids: &[String],
    searches: &mut u64,
) -> Result<DirectorySnapshot, DirectoryError> {
    let base = search_base(reader, settings, map, searches).await?;
    let mut snapshot = DirectorySnapshot::default();
    let shared = SharedStrings::default();
    let attrs = map.user_attributes();
    let mut entries = users_by_sid(
        reader,
        ("read users by objectSid", &base),
        map,
        sids.iter().map(String::as_str),
        &attrs,
        searches,
    )
    .await?;
    for sid in sids {
        let found = entries.remove(&sid.to_ascii_uppercase());
        match found.map(|e| decode_user(&e, map, &shared)) {
            Some(Ok(u)) => snapshot.users.push(u),
            Some(Err(skip)) => snapshot.skipped.push(skip),
            None => snapshot.skipped.push(SkippedEntry {
                dn: sid.clone(),
                anchor: Some(sid.clone()),
                code: ReasonCode::UnreadableEntry,
                reason: "in scope when this incremental pass listed it, but no user with this \
                         objectSid was found when its entry was read (moved or deleted in \
                         between); the next pass reads it again"
                    .into(),
                kind: EntryKind::User,
                user_names: Vec::new(),
            }),
        }
    }
    Ok(snapshot)
}

/// Adds `more` to `into`: a group of `more` replaces the one with its objectGUID (it was
/// read whole), a user or skipped entry already there is kept once.
pub(super) fn merge(into: &mut DirectorySnapshot, more: DirectorySnapshot) {
    let replaced: HashSet<String> = more
        .groups
        .iter()
        .map(|g| g.object_guid.to_ascii_lowercase())
        .collect();
    into.groups
        .retain(|g| !replaced.contains(&g.object_guid.to_ascii_lowercase()));
    into.groups.extend(more.groups);
    let users: HashSet<String> = into
        .users
        .iter()
        .map(|u| u.object_sid.to_ascii_uppercase())
        .collect();
    into.users.extend(
        more.users
            .into_iter()
            .filter(|u| !users.contains(&u.object_sid.to_ascii_uppercase())),
    );
    let skipped: HashSet<String> = into.skipped.iter().map(|s| dn_key(&s.dn)).collect();
    into.skipped.extend(
        more.skipped
            .into_iter()
            .filter(|s| !skipped.contains(&dn_key(&s.dn))),
    );
}

/// The groups in scope among those with these objectGUIDs, each with no member: groups
/// Identity Center says hold a user who left the scope (the part read for the affected
/// objects has only the groups holding a user still in scope). A group not found, or not in
/// scope, is left out: it is not this pass's to change.
pub(super) async fn read_synced_groups_by_guid(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
    guids: &[String],
    searches: &mut u64,
) -> Result<DirectorySnapshot, DirectoryError> {
    let base = search_base(reader, settings, map, searches).await?;
    let synced = SyncedGroups::of(scope);
    let attrs = map.group_attributes();
    let mut snapshot = DirectorySnapshot::default();
    // A value that is not an objectGUID is not a group this directory provisioned.
    let values: Vec<Vec<u8>> = guids.iter().filter_map(|g| guid_from_string(g)).collect();
    let entries = reader
        .find_each_by_value(
            ("read groups by objectGUID", &base),
            map.group_filter,
            (map.object_guid, &values),
            &attrs,
            searches,
        )
        .await?;
    for e in entries {
        match decode_group(&e, map) {
            Ok(g) if synced.holds(&g.dn, &g.name) => snapshot.groups.push(g),
            Ok(_) => {}
            Err(skip) => snapshot.skipped.push(skip),
        }
    }
    Ok(snapshot)
}
