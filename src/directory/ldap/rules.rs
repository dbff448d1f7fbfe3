//! The optional scope rules over LDAP: several sync groups (`scope.syncGroups`) and the
//! exclusion groups (`scope.excludeGroups`). Kept apart from the snapshot read, which calls
//! these two functions and otherwise reads as it did for one sync group.

use std::collections::{HashMap, HashSet};

use crate::model::settings::Scope;
use crate::model::{DirectoryUser, ExcludedUser, SkippedEntry};

use super::super::dn::dn_key;
use super::super::error::DirectoryError;
use super::super::mapping::AttributeMap;
use super::super::scope::{fails_user_filter, in_exclusion_group, missing_sync_group};
use super::{read_users, resolve_group, Reader};

/// The DNs of the sync groups that exist. One that is not there, when others are, leaves its
/// users unknown: it is listed in `skipped` as part of the scope that could not be read, so
/// the planner takes nobody out of scope in this pass (unknown is not gone). When none is
/// there, the read fails as it does for the original's single group.
pub(super) async fn resolve_sync_groups(
    reader: &mut Reader,
    base: &str,
    scope: &Scope,
    map: &AttributeMap,
    skipped: &mut Vec<SkippedEntry>,
) -> Result<Vec<String>, DirectoryError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let mut first_error = None;
    for name in scope.sync_groups() {
        match resolve_group(reader, base, name, map).await {
            Ok(dn) => {
                if !found.iter().any(|f: &String| dn_key(f) == dn_key(&dn)) {
                    found.push(dn);
                }
            }
            Err(e @ DirectoryError::SyncGroupNotFound { .. }) => {
                missing.push(name.to_string());
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if found.is_empty() {
        return Err(first_error.unwrap_or(DirectoryError::SyncGroupNotFound {
            name: scope.sync_group.clone(),
            base: base.to_string(),
        }));
    }
    skipped.extend(
        missing
            .into_iter()
            .map(|name| missing_sync_group(&name, base)),
    );
    Ok(found)
}

/// Drops from `users` (and their primary-group links) the direct and nested members of the
/// exclusion groups, read with the same in-chain rules as the sync groups, and returns them
/// (with the group that excluded each). An exclusion group that is not there fails the read:
/// going on would sync exactly the users it was meant to keep out.
pub(super) async fn drop_excluded(
    reader: &mut Reader,
    base: &str,
    scope: &Scope,
    map: &AttributeMap,
    users: &mut Vec<DirectoryUser>,
    primary: &mut Vec<(String, String)>,
) -> Result<Vec<ExcludedUser>, DirectoryError> {
    let mut excluded: HashMap<String, ExcludedUser> = HashMap::new();
    for name in &scope.rules.exclude_groups {
        let dn = match resolve_group(reader, base, name, map).await {
            Ok(dn) => dn,
            Err(DirectoryError::SyncGroupNotFound { .. }) => {
                return Err(DirectoryError::ExcludeGroupNotFound {
                    name: name.clone(),
                    base: base.to_string(),
                })
            }
            Err(e) => return Err(e),
        };
        // What the exclusion read skips or learns about groups is the main read's business.
        let (mut skipped, mut sids) = (Vec::new(), HashMap::new());
        let (members, _) = read_users(
            reader,
            base,
            std::slice::from_ref(&dn),
            None,
            map,
            &mut skipped,
            &mut sids,
        )
        .await?;
        tracing::debug!(group = %dn, users = members.len(), "exclusion group read");
        for m in members {
            excluded
                .entry(dn_key(&m.dn))
                .or_insert_with(|| in_exclusion_group(&m, name));
        }
    }
    if excluded.is_empty() {
        return Ok(Vec::new());
    }
    let in_scope: HashSet<String> = users.iter().map(|u| dn_key(&u.dn)).collect();
    users.retain(|u| !excluded.contains_key(&dn_key(&u.dn)));
    primary.retain(|(dn, _)| !excluded.contains_key(&dn_key(dn)));
    // Only the users a sync group brought in were excluded from anything.
    Ok(excluded
        .into_iter()
        .filter(|(key, _)| in_scope.contains(key))
        .map(|(_, e)| e)
        .collect())
}

/// The users a sync group brings in that `scope.userFilter` leaves out: the same read with the
/// filter negated (only when there is a filter), so the plan can say why they left.
pub(super) async fn filtered_out(
    reader: &mut Reader,
    base: &str,
    sync_dns: &[String],
    scope: &Scope,
    map: &AttributeMap,
) -> Result<Vec<ExcludedUser>, DirectoryError> {
    let Some(filter) = &scope.rules.user_filter else {
        return Ok(Vec::new());
    };
    let (mut skipped, mut sids) = (Vec::new(), HashMap::new());
    let negated = format!("(!{})", filter.as_str());
    let (users, _) = read_users(
        reader,
        base,
        sync_dns,
        Some(&negated),
        map,
        &mut skipped,
        &mut sids,
    )
    .await?;
    Ok(users
        .iter()
        .map(|u| fails_user_filter(u, filter.as_str()))
        .collect())
}
