//! The `openldap` profile over an LDIF export (`slapcat`, or `ldapsearch … '*' '+'`, which
//! carry the operational attributes: entryUUID, pwdAccountLockedTime), read twice, one record
//! at a time, as the Active Directory export reader does: first every group and the
//! directory's identity, then the users in scope.

use std::path::Path;

use crate::model::settings::Scope;
use crate::model::{DirectorySnapshot, SharedStrings};

use super::super::chain::Ancestry;
use super::super::dn::{dn_key, key_is_under, parse_dn};
use super::super::error::DirectoryError;
use super::super::filter_match::{check_evaluable, matches as filter_matches};
use super::super::ldif::Export;
use super::super::scope::{fails_user_filter, in_exclusion_group, validate_scope};
use super::decode::{decode_user, is_group, is_user};
use super::flatten::{GroupGraph, UsersFound};
use super::live::walk_up;
use super::mapping::{identity, is_anchor_value, OpenLdapReading};

/// Reads an export with the `openldap` profile. The directory's identity is the anchor
/// attribute of the topmost entry above the group search base that the export holds (the
/// suffix entry, in a full export), unless `directory.directoryId` is set.
pub fn read_openldap_ldif(
    path: &Path,
    scope: &Scope,
    reading: &OpenLdapReading,
) -> Result<DirectorySnapshot, DirectoryError> {
    validate_scope(scope)?;
    let export = Export::File(path);
    let version = export.version()?;
    let user_filter = scope.rules.user_filter.as_ref().map(|f| f.root());
    if let Some(f) = user_filter {
        check_evaluable(f).map_err(|r| {
            DirectoryError::Settings(format!("scope.userFilter {}: {r}", f_text(scope)))
        })?;
    }
    let (groups, id) = read_groups(&export, scope, reading)?;
    let depth = reading.profile.max_nesting_depth;
    let (sync, mut skipped) = groups.scope_reach(scope, "the LDIF export", depth)?;
    let shared = SharedStrings::default();
    let mut users = Vec::new();
    let mut excluded = Vec::new();
    for record in export.records()? {
        let e = record.map_err(|x| export.fail(x))?;
        let key = dn_key(&e.dn);
        if !is_user(&e) {
            continue;
        }
        let fails = user_filter.filter(|f| !filter_matches(f, &e));
        if let Some(group) = sync.excluded.get(&key) {
            if let Ok(u) = decode_user(&e, reading, &id, &shared) {
                excluded.push(in_exclusion_group(&u, group));
            }
        } else if sync.members.contains(&key) {
            match (decode_user(&e, reading, &id, &shared), fails) {
                (Ok(u), Some(_)) => excluded.push(fails_user_filter(&u, f_text(scope))),
                (Ok(u), None) => users.push(u),
                (Err(s), None) => skipped.push(s),
                (Err(_), Some(_)) => {}
            }
        }
    }
    if export.version()? != version {
        return Err(export.io(std::io::Error::other(
            "the file changed while it was read; run the pass again once the export is complete",
        )));
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

/// The groups above `target_dn` in the export and the sync group's DN, for `explain`.
pub fn read_openldap_ldif_ancestry(
    path: &Path,
    scope: &Scope,
    reading: &OpenLdapReading,
    target_dn: &str,
) -> Result<Ancestry, DirectoryError> {
    validate_scope(scope)?;
    let export = Export::File(path);
    let (groups, _) = read_groups(&export, scope, reading)?;
    let sync = groups.sync_group(scope, "the LDIF export")?;
    Ok(walk_up(&groups, &sync, target_dn))
}

fn f_text(scope: &Scope) -> &str {
    scope.rules.user_filter.as_ref().map_or("", |f| f.as_str())
}

/// First read: every group, and the directory's identity.
fn read_groups(
    export: &Export<'_>,
    scope: &Scope,
    reading: &OpenLdapReading,
) -> Result<(GroupGraph, String), DirectoryError> {
    let base_key = dn_key(scope.group_search_base.trim());
    let attr = reading.anchor();
    // (number of RDNs, anchor value) of the topmost entry above the group search base.
    let mut top: Option<(usize, String)> = None;
    let mut group_entries = Vec::new();
    let mut fixed = reading.profile.directory_id.as_deref().map(identity);
    for record in export.records()? {
        let e = record.map_err(|x| export.fail(x))?;
        let key = dn_key(&e.dn);
        if key_is_under(&base_key, &key) {
            let depth = parse_dn(&e.dn).map_or(usize::MAX, |r| r.len());
            if let Ok(Some(v)) = e.text(attr) {
                if is_anchor_value(&v) && top.as_ref().is_none_or(|(d, _)| depth < *d) {
                    top = Some((depth, v));
                }
            }
        }
        if is_group(&e) {
            group_entries.push(e);
        }
    }
    let id = match (fixed.take(), top) {
        (Some(id), _) => id,
        (None, Some((_, v))) => identity(&v),
        (None, None) => {
            return Err(DirectoryError::Settings(format!(
                "the export holds no entry above {} with an {attr} (the suffix entry, with its \
                 operational attributes: slapcat, or ldapsearch with '*' '+'), and it is this \
                 directory's identity in every externalId; export the suffix entry too, or set \
                 directory.directoryId",
                scope.group_search_base
            )))
        }
    };
    let mut groups = GroupGraph::default();
    for e in &group_entries {
        groups.add(e, reading, &id);
    }
    Ok((groups, id))
}
