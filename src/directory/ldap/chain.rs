//! The walk up from one entry to the sync group over LDAP, for `explain`: one search per
//! group level (`member=<dn>`), so a user nested three levels deep costs a handful of
//! requests, not a read of the directory.

use ldap3::Scope as LdapScope;

use super::super::chain::{Ancestry, MAX_ANCESTORS};
use super::super::error::DirectoryError;
use super::super::filter_escape::filter_value;
use super::super::mapping::AttributeMap;
use super::{open_reader, resolve_group, resolve_sync_group, search_base, Reader};
use crate::model::settings::{LdapSettings, Scope};

/// The groups above `target_dn` (direct and nested) and the sync group's DN.
pub async fn read_ldap_ancestry(
    settings: &LdapSettings,
    scope: &Scope,
    target_dn: &str,
) -> Result<Ancestry, DirectoryError> {
    let map = AttributeMap::active_directory();
    let mut reader = open_reader(settings, scope).await?;
    let result = walk_up(&mut reader, settings, scope, &map, target_dn).await;
    let _ = reader.ldap.unbind().await;
    result
}

async fn walk_up(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
    target_dn: &str,
) -> Result<Ancestry, DirectoryError> {
    let base = search_base(reader, settings, map, &mut 0).await?;
    let mut ancestry = Ancestry::new(target_dn);
    ancestry.sync_group_dn = resolve_sync_group(reader, &base, scope, map).await?;
    for (names, dns) in [
        (
            scope.sync_groups().collect::<Vec<_>>(),
            &mut ancestry.sync_group_dns,
        ),
        (
            scope
                .rules
                .exclude_groups
                .iter()
                .map(String::as_str)
                .collect(),
            &mut ancestry.exclude_group_dns,
        ),
    ] {
        for name in names {
            // A group the pass could not find either is simply not shown.
            if let Ok(dn) = resolve_group(reader, &base, name, map).await {
                dns.push(dn);
            }
        }
    }
    let mut pending = vec![target_dn.to_string()];
    while let Some(dn) = pending.pop() {
        if ancestry.len() > MAX_ANCESTORS {
            break;
        }
        let filter = format!(
            "(&{}({}={}))",
            map.group_filter,
            map.member,
            filter_value(&dn)
        );
        let parents = reader
            .search_paged(
                "find the groups of an entry",
                &base,
                LdapScope::Subtree,
                &filter,
                &["1.1"],
            )
            .await?;
        for p in parents {
            if ancestry.add_parent(&dn, &p.dn) {
                pending.push(p.dn);
            }
        }
    }
    Ok(ancestry)
}
