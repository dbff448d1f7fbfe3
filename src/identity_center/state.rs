//! Reads Identity Center's current state for one pass.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::stream::{self, StreamExt};

use super::error::ScimError;
use super::filter::is_filter_safe;
use super::groups::{find_group_by_external_id, list_groups_decoded};
use super::members::group_member_ids_shared;
use super::transport::Transport;
use super::users::list_users_shared;
use crate::model::{IdcGroup, IdcSnapshot, SharedStrings};

/// One group's member ids, shared across groups (see `SharedStrings`).
type MemberIds = BTreeSet<Arc<str>>;

/// Reads every user and group, resolves which groups carry one of `wanted_group_external_ids`
/// (ours), and reads the members of those groups.
///
/// Identity Center may not echo a group's externalId on reads (spec §3.4). When no listed
/// group carries one, every wanted externalId is looked up with `externalId eq`, so an owned
/// group is never taken for a foreign one before its externalId was looked for. When any
/// listed group does carry one, the service echoes and the listing is complete as it is.
///
/// Failing to list users or groups, or to resolve an externalId, fails the read: the planner
/// would otherwise create duplicates or call owned objects foreign. Failing to read one
/// group's members is recorded in `read_errors` (with `member_ids: None`), which makes the
/// executor hold back destructive changes. A rejected token fails the read in every case.
pub(super) async fn read_state(
    t: &Transport,
    wanted_group_external_ids: &BTreeSet<String>,
) -> Result<IdcSnapshot, ScimError> {
    // Members need only the group listing, so their reads run while the user listing (one
    // sequential cursor chain, usually the longest) is still paging. One pool for both: a
    // user's id is then one copy, in the user and in every member set that holds it.
    let shared = SharedStrings::default();
    let (users, (groups, group_errors)) = futures::try_join!(
        list_users_shared(t, &shared),
        read_groups(t, wanted_group_external_ids, &shared)
    )?;
    let mut read_errors = users.skipped;
    read_errors.extend(group_errors);
    Ok(IdcSnapshot {
        users: users.items,
        groups,
        read_errors,
    })
}

/// Lists the groups, resolves which are ours and reads their members; returns the groups
/// and the read errors that hold destructive changes back.
async fn read_groups(
    t: &Transport,
    wanted_group_external_ids: &BTreeSet<String>,
    interner: &SharedStrings,
) -> Result<(Vec<IdcGroup>, Vec<String>), ScimError> {
    let listed = list_groups_decoded(t).await?;
    let mut read_errors = listed.skipped;
    let mut groups = listed.items;

    let echoes = groups.iter().any(|g| g.external_id.is_some());
    // An empty listing leaves nothing that could be taken for foreign: no lookups (an initial
    // load would otherwise spend one request per directory group; a group created since the
    // listing is adopted on the create's 409).
    if !echoes && !groups.is_empty() {
        resolve_external_ids(t, &mut groups, wanted_group_external_ids, &mut read_errors).await?;
    }

    let owned: Vec<usize> = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            g.external_id
                .as_ref()
                .is_some_and(|x| wanted_group_external_ids.contains(x))
        })
        .map(|(i, _)| i)
        .collect();
    let concurrency = t.tuning().concurrency;
    let reads: Vec<(usize, Result<MemberIds, ScimError>)> = stream::iter(owned)
        .map(|i| {
            let id = groups[i].id.clone();
            async move { (i, group_member_ids_shared(t, &id, interner).await) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (i, result) in reads {
        match result {
            Ok(ids) => groups[i].member_ids = Some(ids),
            Err(e) if e.is_configuration_error() => return Err(e),
            Err(e) => {
                let g = &groups[i];
                read_errors.push(format!(
                    "could not read the members of group {:?} ({}): {e}",
                    g.display_name, g.id
                ));
            }
        }
    }

    Ok((groups, read_errors))
}

/// Fills in the externalId of each wanted group the listing did not echo, by looking it up.
async fn resolve_external_ids(
    t: &Transport,
    groups: &mut Vec<IdcGroup>,
    wanted: &BTreeSet<String>,
    read_errors: &mut Vec<String>,
) -> Result<(), ScimError> {
    let seen: BTreeSet<&String> = groups
        .iter()
        .filter_map(|g| g.external_id.as_ref())
        .collect();
    let mut missing = Vec::new();
    for x in wanted.iter().filter(|x| !seen.contains(x)) {
        if is_filter_safe(x) {
            missing.push(x);
        } else {
            // A listing cannot find it either (externalIds are not echoed), so the group
            // may be ours and must not be treated as foreign: hold destructive changes.
            read_errors.push(format!(
                "cannot resolve the group with externalId {x:?}: the value has a quote, \
                 backslash or control character, so it cannot be looked up by filter, and \
                 Identity Center does not return group externalIds in listings"
            ));
        }
    }
    let concurrency = t.tuning().concurrency;
    // Owned values, not references, keep the read's future `Send` for any lifetime.
    let found: Vec<(String, Result<Option<IdcGroup>, ScimError>)> =
        stream::iter(missing.into_iter().cloned())
            .map(|x| async move {
                let result = find_group_by_external_id(t, &x).await;
                (x, result)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    let index: HashMap<String, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.clone(), i))
        .collect();
    for (external_id, result) in found {
        match result {
            Ok(Some(group)) => match index.get(&group.id) {
                Some(&i) => groups[i].external_id = Some(external_id.clone()),
                // Created after the listing: include it, it is ours.
                None => groups.push(group),
            },
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
