//! The directory side of an incremental pass in which only users changed: their own entries
//! and the groups in scope that hold them, instead of the whole directory.
//!
//! When no group changed since the watermark (no `member` moved anywhere) and no scope rule
//! depends on a user's own attributes (no `userFilter`, no `excludeGroups`), who is in scope
//! changed only for the changed users themselves, and the change detector already says
//! whether each is in the sync group's chain. Each changed user is then read by DN, and the
//! groups in scope that hold it at any depth come from AD's in-chain rule (server-side:
//! `(member:1.2.840.113556.1.4.1941:=<user DN>)`), plus those holding its primary group.
//! Each group is returned with only the changed users among its members: the incremental
//! planner compares a group's members only for the users whose memberships it read, so that
//! is all it needs (`plan::incremental::cut_down`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ldap3::Scope as LdapScope;

use crate::model::settings::{LdapSettings, Scope};
use crate::model::{
    ChangedUser, DirectoryGroup, DirectorySnapshot, EntryKind, ReasonCode, SkippedEntry,
};

use super::super::dn::dn_key;
use super::super::entry::{decode_group, decode_user};
use super::super::error::DirectoryError;
use super::super::filter_escape::{filter_bytes, filter_value};
use super::super::mapping::AttributeMap;
use super::super::scope::primary_group_sid;
use super::super::sid::sid_from_string;
use super::search::Reader;
use super::{default_naming_context, read_domain_sids};

/// The changed users (in scope now, by the change detector) and the groups in scope holding
/// them; `searches` counts every search made.
pub(super) async fn read_changed_users(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
    changed: &[ChangedUser],
    searches: &mut u64,
) -> Result<DirectorySnapshot, DirectoryError> {
    let base = match &settings.base_dn {
        Some(b) if !b.trim().is_empty() => b.trim().to_string(),
        _ => {
            *searches += 1;
            default_naming_context(reader, map).await?
        }
    };
    let mut snapshot = DirectorySnapshot::default();
    // (user DN, objectSid) of each user read, and the primary groups' SIDs.
    let mut read: Vec<(String, String)> = Vec::new();
    let mut by_primary: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in changed {
        *searches += 1;
        let entry = reader
            .read_entry(
                "read a changed user",
                &c.dn,
                map.user_filter,
                &map.user_attributes(),
            )
            .await?;
        let Some(e) = entry else {
            // Moved or deleted since the detector saw it: unknown, not gone.
            snapshot.skipped.push(SkippedEntry {
                dn: c.dn.clone(),
                anchor: Some(c.object_sid.clone()),
                code: ReasonCode::UnreadableEntry,
                reason: "the entry changed again (moved or deleted) while this incremental \
                         pass read it; the next pass reads it again"
                    .into(),
                kind: EntryKind::User,
                user_names: Vec::new(),
            });
            continue;
        };
        match decode_user(&e, map) {
            Ok(u) => {
                if let Some(g) = primary_group_sid(&e, map) {
                    by_primary.entry(g).or_default().push(u.object_sid.clone());
                }
                read.push((e.dn.clone(), u.object_sid.clone()));
                snapshot.users.push(u);
            }
            Err(s) => snapshot.skipped.push(s),
        }
    }

    let group_bases: Vec<String> = scope
        .group_search_bases()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    let prefix_filter = if scope.group_prefix.is_empty() {
        map.group_filter.to_string()
    } else {
        format!(
            "(&{}({}={}*))",
            map.group_filter,
            map.group_name,
            filter_value(&scope.group_prefix)
        )
    };
    let group_attrs = [
        map.object_guid,
        map.object_sid,
        map.group_name,
        map.account_name,
        map.description,
    ];
    // objectGUID -> the group and the changed users it holds.
    let mut groups: BTreeMap<String, (DirectoryGroup, BTreeSet<String>)> = BTreeMap::new();
    let mut seen_skipped: BTreeSet<String> = BTreeSet::new();
    let mut take = |entries: Vec<super::super::entry::RawEntry>,
                    members: &[String],
                    skipped: &mut Vec<SkippedEntry>| {
        for e in entries {
            match decode_group(&e, map) {
                Ok(g) => {
                    let slot = groups
                        .entry(g.object_guid.to_ascii_lowercase())
                        .or_insert_with(|| (g, BTreeSet::new()));
                    slot.1.extend(members.iter().cloned());
                }
                Err(s) => {
                    if seen_skipped.insert(dn_key(&s.dn)) {
                        skipped.push(s);
                    }
                }
            }
        }
    };

    // The groups in scope holding each changed user, at any depth.
    for (dn, sid) in &read {
        for group_base in &group_bases {
            *searches += 1;
            let holders = reader
                .search_paged(
                    "groups in scope holding a changed user",
                    group_base,
                    LdapScope::Subtree,
                    &format!(
                        "(&{prefix_filter}({}:{}:={}))",
                        map.member,
                        map.in_chain_rule,
                        filter_value(dn)
                    ),
                    &group_attrs,
                )
                .await?;
            take(holders, std::slice::from_ref(sid), &mut snapshot.skipped);
        }
    }

    // Members by primary group (listed in no `member`): the primary group itself when it is
    // in scope, and the groups in scope it is nested in.
    for (group_sid, members) in &by_primary {
        let Some(bytes) = sid_from_string(group_sid) else {
            continue;
        };
        *searches += 1;
        let found = reader
            .search_paged(
                "find a changed user's primary group",
                &base,
                LdapScope::Subtree,
                &format!(
                    "(&{}({}={}))",
                    map.group_filter,
                    map.object_sid,
                    filter_bytes(&bytes)
                ),
                &["1.1"],
            )
            .await?;
        for primary in found {
            for group_base in &group_bases {
                *searches += 1;
                let holders = reader
                    .search_paged(
                        "groups in scope holding a primary group",
                        group_base,
                        LdapScope::Subtree,
                        &format!(
                            "(&{prefix_filter}(|({}:{}:={dn})(distinguishedName={dn})))",
                            map.member,
                            map.in_chain_rule,
                            dn = filter_value(&primary.dn)
                        ),
                        &group_attrs,
                    )
                    .await?;
                take(holders, members, &mut snapshot.skipped);
            }
        }
    }

    snapshot.groups = groups
        .into_values()
        .map(|(mut g, members)| {
            g.member_sids = members.into_iter().map(|s| Arc::from(s.as_str())).collect();
            g
        })
        .collect();
    let mut bases = vec![base.as_str()];
    bases.extend(group_bases.iter().map(String::as_str));
    *searches += bases.len() as u64;
    snapshot.domain_sids = read_domain_sids(reader, &bases, map).await?;
    Ok(snapshot)
}
