//! The `openldap` profile over LDAP: one bound connection (the Active Directory reader's:
//! LDAPS or StartTLS with verification, paged searches), three searches.
//!
//! 1. the rootDSE's `namingContexts` (the base when none is set) and the anchor attribute of
//!    the naming context entry: the directory's identity;
//! 2. every group under the base (`member`, `uniqueMember`), one paged search;
//! 3. every user under the base (paged), of which those the sync group reaches are kept.
//!
//! Reading every user costs a transfer proportional to the directory, not to the scope;
//! it needs no `memberOf` overlay and no server-side nesting rule, which these directories
//! may lack.

use ldap3::Scope as LdapScope;

use crate::model::settings::{LdapSettings, Scope};
use crate::model::{DirectorySnapshot, SharedStrings};

use super::super::chain::{Ancestry, MAX_ANCESTORS};
use super::super::dn::{dn_key, key_is_under};
use super::super::error::DirectoryError;
use super::super::ldap::{open_reader, Reader};
use super::super::scope::{fails_user_filter, in_exclusion_group};
use super::decode::{decode_user, is_user};
use super::flatten::{GroupGraph, UsersFound};
use super::mapping::{
    identity, is_anchor_value, OpenLdapReading, GROUP_FILTER, NAMING_CONTEXTS, USER_FILTER,
};

/// Reads the directory in scope over LDAP with the `openldap` profile.
pub async fn read_openldap(
    settings: &LdapSettings,
    scope: &Scope,
    reading: &OpenLdapReading,
) -> Result<DirectorySnapshot, DirectoryError> {
    let mut reader = open_reader(settings, scope).await?;
    let result = read_all(&mut reader, settings, scope, reading).await;
    let _ = reader.ldap.unbind().await;
    result
}

/// The groups above `target_dn` and the sync group's DN, for `explain`.
pub async fn read_openldap_ancestry(
    settings: &LdapSettings,
    scope: &Scope,
    reading: &OpenLdapReading,
    target_dn: &str,
) -> Result<Ancestry, DirectoryError> {
    let mut reader = open_reader(settings, scope).await?;
    let result = async {
        let (base, id) = base_and_identity(&mut reader, settings, scope, reading).await?;
        let groups = read_groups(&mut reader, &base, reading, &id).await?;
        let sync = groups.sync_group(scope, &base)?;
        Ok(walk_up(&groups, &sync, target_dn))
    }
    .await;
    let _ = reader.ldap.unbind().await;
    result
}

/// The walk up from `target_dn` through the groups that list it (shared with the export).
pub(crate) fn walk_up(groups: &GroupGraph, sync_key: &str, target_dn: &str) -> Ancestry {
    let mut ancestry = Ancestry::new(target_dn);
    ancestry.sync_group_dn = groups.dn_of(sync_key).unwrap_or(sync_key).to_string();
    let mut pending = vec![(dn_key(target_dn), target_dn.to_string())];
    while let Some((key, dn)) = pending.pop() {
        if ancestry.len() > MAX_ANCESTORS {
            break;
        }
        for (parent_key, parent_dn) in groups.parents_of(&key) {
            if ancestry.add_parent(&dn, parent_dn) {
                pending.push((parent_key.to_string(), parent_dn.to_string()));
            }
        }
    }
    ancestry
}

async fn read_all(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    reading: &OpenLdapReading,
) -> Result<DirectorySnapshot, DirectoryError> {
    let (base, id) = base_and_identity(reader, settings, scope, reading).await?;
    let groups = read_groups(reader, &base, reading, &id).await?;
    let depth = reading.profile.max_nesting_depth;
    let (sync, mut skipped) = groups.scope_reach(scope, &base, depth)?;
    let shared = SharedStrings::default();
    let mut users = Vec::new();
    let mut excluded = Vec::new();
    let filter = match &scope.rules.user_filter {
        Some(f) => format!("(&{USER_FILTER}{})", f.as_str()),
        None => USER_FILTER.to_string(),
    };
    reader
        .search_each(
            "users in scope",
            &base,
            LdapScope::Subtree,
            &filter,
            &reading.user_attributes(),
            |e| {
                let key = dn_key(&e.dn);
                if !is_user(&e) {
                    return Ok(());
                }
                if let Some(group) = sync.excluded.get(&key) {
                    if let Ok(u) = decode_user(&e, reading, &id, &shared) {
                        excluded.push(in_exclusion_group(&u, group));
                    }
                } else if sync.members.contains(&key) {
                    match decode_user(&e, reading, &id, &shared) {
                        Ok(u) => users.push(u),
                        Err(s) => skipped.push(s),
                    }
                }
                Ok(())
            },
        )
        .await?;
    if let Some(f) = &scope.rules.user_filter {
        // The users the server's filter left out, to name the rule that decided.
        let failing = format!("(&{USER_FILTER}(!{}))", f.as_str());
        reader
            .search_each(
                "users the user filter leaves out",
                &base,
                LdapScope::Subtree,
                &failing,
                &reading.user_attributes(),
                |e| {
                    let key = dn_key(&e.dn);
                    let Ok(u) = decode_user(&e, reading, &id, &shared) else {
                        return Ok(());
                    };
                    if !is_user(&e) {
                    } else if let Some(group) = sync.excluded.get(&key) {
                        excluded.push(in_exclusion_group(&u, group));
                    } else if sync.members.contains(&key) {
                        excluded.push(fails_user_filter(&u, f.as_str()));
                    }
                    Ok(())
                },
            )
            .await?;
    }
    Ok(groups.snapshot(
        scope,
        &sync,
        UsersFound {
            users,
            excluded,
            skipped,
        },
        depth,
        id,
    ))
}

async fn read_groups(
    reader: &mut Reader,
    base: &str,
    reading: &OpenLdapReading,
    id: &str,
) -> Result<GroupGraph, DirectoryError> {
    let mut groups = GroupGraph::default();
    reader
        .search_each(
            "groups",
            base,
            LdapScope::Subtree,
            GROUP_FILTER,
            &reading.group_attributes(),
            |e| {
                groups.add(&e, reading, id);
                Ok(())
            },
        )
        .await?;
    Ok(groups)
}

/// The base DN (configured, or the naming context holding the group search base) and the
/// directory's identity (configured, or the anchor attribute of that naming context entry).
async fn base_and_identity(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    reading: &OpenLdapReading,
) -> Result<(String, String), DirectoryError> {
    let root = reader
        .read_entry("read rootDSE", "", "(objectClass=*)", &[NAMING_CONTEXTS])
        .await?;
    let contexts = root
        .and_then(|e| e.texts(NAMING_CONTEXTS).ok())
        .unwrap_or_default();
    let group_base = dn_key(scope.group_search_base.trim());
    let configured = settings
        .base_dn
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());
    let holding = |key: &str| {
        contexts
            .iter()
            .filter(|c| key_is_under(key, &dn_key(c)))
            .max_by_key(|c| c.len())
            .cloned()
    };
    let base = match configured {
        Some(b) => b.to_string(),
        None => holding(&group_base).ok_or_else(|| {
            DirectoryError::Settings(format!(
                "none of the server's naming contexts ({}) holds the group search base {}; set \
                 the base DN explicitly",
                contexts.join("; "),
                scope.group_search_base
            ))
        })?,
    };
    if let Some(id) = &reading.profile.directory_id {
        return Ok((base, identity(id)));
    }
    let context = holding(&dn_key(&base)).unwrap_or_else(|| base.clone());
    let attr = reading.anchor();
    let entry = reader
        .read_entry(
            "read the naming context",
            &context,
            "(objectClass=*)",
            &[attr],
        )
        .await?;
    let value = entry.and_then(|e| e.text(attr).ok().flatten());
    match value {
        Some(v) if is_anchor_value(&v) => Ok((base, identity(&v))),
        _ => Err(DirectoryError::Settings(format!(
            "the naming context entry {context} shows no {attr} to the bind account, and it is \
             this directory's identity in every externalId; grant read access to it, or set \
             directory.directoryId"
        ))),
    }
}
