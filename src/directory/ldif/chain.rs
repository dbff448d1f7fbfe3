//! The walk up from one entry to the sync group in an LDIF export, for `explain`: the same
//! membership links a pass reads (`member` and `memberOf`), read backwards.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::super::chain::{Ancestry, MAX_ANCESTORS};
use super::super::dn::dn_key;
use super::super::error::DirectoryError;
use super::super::mapping::AttributeMap;
use super::super::scope::validate_scope;
use super::{read_links, Classes, Export};
use crate::model::settings::Scope;

/// The groups above `target_dn` (direct and nested) in the export, and the sync group's DN.
pub fn read_ldif_ancestry(
    path: &Path,
    scope: &Scope,
    target_dn: &str,
) -> Result<Ancestry, DirectoryError> {
    validate_scope(scope)?;
    let map = AttributeMap::active_directory();
    let classes = Classes { map: &map };
    let export = Export::File(path);
    let links = read_links(&export, scope, &classes)?;
    let key_of: HashMap<u32, &str> = links.graph.keys().map(|(k, id)| (id, k)).collect();
    let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
    for (group, member) in links.graph.links() {
        parents.entry(member).or_default().push(group);
    }
    let mut ancestry = Ancestry::new(target_dn);
    if let Some((dn, _)) = links.sync.first() {
        ancestry.sync_group_dn = dn.clone();
    }
    let sync_count = scope.sync_groups().count();
    for (i, named) in links.named.iter().enumerate() {
        let dns = if i < sync_count {
            &mut ancestry.sync_group_dns
        } else {
            &mut ancestry.exclude_group_dns
        };
        dns.extend(named.first().map(|(dn, _)| dn.clone()));
    }
    let mut pending: Vec<u32> = links
        .graph
        .id_of_key(&dn_key(target_dn))
        .into_iter()
        .collect();
    let mut seen: HashSet<u32> = pending.iter().copied().collect();
    while let Some(id) = pending.pop() {
        if ancestry.len() > MAX_ANCESTORS {
            break;
        }
        let child = key_of.get(&id).copied().unwrap_or_default();
        for parent in parents.get(&id).into_iter().flatten() {
            let parent_key = key_of.get(parent).copied().unwrap_or_default();
            ancestry.add_parent(child, parent_key);
            if seen.insert(*parent) {
                pending.push(*parent);
            }
        }
    }
    // The links hold DN keys (lowercased); show the export's own spelling.
    for record in export.records()? {
        let e = record.map_err(|x| export.fail(x))?;
        ancestry.respell(&e.dn);
    }
    Ok(ancestry)
}
