//! The directory side of an incremental pass for its primary users (changed, or joining the
//! scope): their own entries and the groups in scope that hold them, instead of the whole
//! directory.
//!
//! The caller knows which of them are in scope now (the change detector placed each changed
//! user in or out of the sync group's chain; a listed scope names who joined). They are read
//! by objectSid, a hundred to a search, and the groups that hold each at any depth are found
//! by walking up `memberOf` (a back link AD keeps on users and groups alike) from its direct
//! groups and its primary group, one base read per group, each group read once per pass.
//! (AD's in-chain rule on `member` would answer in one search, but Samba evaluates it
//! against every group under the base: about 20 s per search at 10k users and 1000 groups,
//! docs/performance.md.) Each group in scope is returned with only these users among its members: the incremental
//! planner compares a group's members only for the users whose memberships it read, so that
//! is all it needs (`plan::incremental::cut_down`); a changed group is read whole apart
//! (`affected.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::model::settings::{LdapSettings, Scope};
use crate::model::{
    ChangedUser, DirectoryGroup, DirectorySnapshot, EntryKind, ReasonCode, SharedStrings,
    SkippedEntry,
};

use super::super::dn::dn_key;
use super::super::entry::RawEntry;
use super::super::entry::{decode_group, decode_user};
use super::super::error::DirectoryError;
use super::super::mapping::AttributeMap;
use super::super::scope::{primary_group_sid, SyncedGroups};
use super::super::sid::sid_from_string;
use super::search::Reader;
use super::walk_up::WalkUp;
use super::{read_domain_sids, search_base};

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
    let base = search_base(reader, settings, map, searches).await?;
    let mut snapshot = DirectorySnapshot::default();
    // (objectSid, the DNs of its direct and primary groups) of each user read.
    let mut holds: Vec<(String, Vec<String>)> = Vec::new();
    // Primary group SID -> its DN (when there is one), found once per pass.
    let mut primary_dns: HashMap<String, Option<String>> = HashMap::new();
    let mut user_attrs = map.user_attributes();
    user_attrs.push(map.member_of);
    let shared = SharedStrings::default();
    let mut entries = users_by_sid(
        reader,
        ("read changed users by objectSid", &base),
        map,
        changed.iter().map(|c| c.object_sid.as_str()),
        &user_attrs,
        searches,
    )
    .await?;
    for c in changed {
        let Some(e) = entries.remove(&c.object_sid.to_ascii_uppercase()) else {
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
        match decode_user(&e, map, &shared) {
            Ok(u) => {
                let mut starts = e.texts(map.member_of).unwrap_or_default();
                if let Some(g) = primary_group_sid(&e, map) {
                    starts.extend(
                        primary_group_dn(reader, &base, map, &g, &mut primary_dns, searches)
                            .await?,
                    );
                }
                holds.push((u.object_sid.to_string(), starts));
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
    let synced = SyncedGroups::of(scope);
    let group_attrs: Vec<&str> = map
        .group_attributes()
        .into_iter()
        .chain([map.member_of])
        .collect();
    let mut walk = WalkUp::new(
        "read a group above a changed user",
        map.group_filter,
        &group_attrs,
        map.member_of,
    );
    // objectGUID -> the group in scope and the changed users it holds.
    let mut groups: BTreeMap<String, (DirectoryGroup, BTreeSet<String>)> = BTreeMap::new();
    for (sid, starts) in &holds {
        let visit = |key: &str, read: &Result<DirectoryGroup, SkippedEntry>| match read {
            Ok(g) if synced.holds(&g.dn, &g.name) => {
                groups
                    .entry(g.object_guid.to_ascii_lowercase())
                    .or_insert_with(|| (g.clone(), BTreeSet::new()))
                    .1
                    .insert(sid.clone());
            }
            Ok(_) => {}
            Err(skip) => {
                if !snapshot.skipped.iter().any(|s| dn_key(&s.dn) == key) {
                    snapshot.skipped.push(skip.clone());
                }
            }
        };
        walk.walk(
            reader,
            starts.iter().cloned(),
            searches,
            |e| decode_group(e, map),
            visit,
        )
        .await?;
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

/// The entries of the users with these objectSids, by objectSid (uppercase), a hundred to a
/// search: found wherever they are under `base` now (one moved within it since the detector
/// saw it is still read). Shared with `affected.rs`.
pub(super) async fn users_by_sid<'s>(
    reader: &mut Reader,
    (operation, base): (&str, &str),
    map: &AttributeMap,
    sids: impl IntoIterator<Item = &'s str>,
    attrs: &[&str],
    searches: &mut u64,
) -> Result<HashMap<String, RawEntry>, DirectoryError> {
    let values: Vec<Vec<u8>> = sids.into_iter().filter_map(sid_from_string).collect();
    let entries = reader
        .find_each_by_value(
            (operation, base),
            map.user_filter,
            (map.object_sid, &values),
            attrs,
            searches,
        )
        .await?;
    Ok(entries
        .into_iter()
        .filter_map(|e| Some((e.sid(map.object_sid)?.to_ascii_uppercase(), e)))
        .collect())
}

/// The DN of the group whose objectSid is `sid` (a user's primary group), searched once per
/// pass.
async fn primary_group_dn(
    reader: &mut Reader,
    base: &str,
    map: &AttributeMap,
    sid: &str,
    known: &mut HashMap<String, Option<String>>,
    searches: &mut u64,
) -> Result<Option<String>, DirectoryError> {
    if let Some(dn) = known.get(sid) {
        return Ok(dn.clone());
    }
    let mut dn = None;
    if let Some(bytes) = sid_from_string(sid) {
        let found = reader
            .find_each_by_value(
                ("find a changed user's primary group", base),
                map.group_filter,
                (map.object_sid, &[bytes]),
                &["1.1"],
                searches,
            )
            .await?;
        dn = found.into_iter().next().map(|e| e.dn);
    }
    known.insert(sid.to_string(), dn.clone());
    Ok(dn)
}
