//! How an entry is in scope: the chain of groups from the sync group (or a synced group)
//! down to it. Identity Center has no nesting, so a pass flattens it away; `explain` reads it
//! back for one entry, walking up from the entry through the groups it is a member of.

use std::collections::{HashMap, HashSet, VecDeque};

use super::dn::{dn_key, first_rdn_value};

/// Entries above an entry, at most this many: a walk up that visits more is cut short (a
/// directory where one user sits under thousands of groups has no readable chain anyway).
pub(crate) const MAX_ANCESTORS: usize = 5_000;

/// The groups above one entry, with their direct parent links.
#[derive(Debug, Clone, Default)]
pub struct Ancestry {
    target: String,
    /// DN key → the DN as the directory spells it, and the keys of the groups it is a
    /// direct member of.
    nodes: HashMap<String, (String, Vec<String>)>,
    /// The sync group's DN, as resolved by the scope rules.
    pub sync_group_dn: String,
    /// Every sync group found (`scope.syncGroups`; the first is `sync_group_dn`).
    pub sync_group_dns: Vec<String>,
    /// Every exclusion group found (`scope.excludeGroups`).
    pub exclude_group_dns: Vec<String>,
}

impl Ancestry {
    pub(crate) fn new(target_dn: &str) -> Self {
        let target = dn_key(target_dn);
        let mut nodes = HashMap::new();
        nodes.insert(target.clone(), (target_dn.to_string(), Vec::new()));
        Self {
            target,
            nodes,
            sync_group_dn: String::new(),
            sync_group_dns: Vec::new(),
            exclude_group_dns: Vec::new(),
        }
    }

    /// Records that `child_dn` is a direct member of `parent_dn`; true when the parent is
    /// new (so its own parents are still to be read).
    pub(crate) fn add_parent(&mut self, child_dn: &str, parent_dn: &str) -> bool {
        let (child, parent) = (dn_key(child_dn), dn_key(parent_dn));
        let new = !self.nodes.contains_key(&parent);
        if new {
            self.nodes
                .insert(parent.clone(), (parent_dn.to_string(), Vec::new()));
        }
        let entry = self
            .nodes
            .entry(child)
            .or_insert_with(|| (child_dn.to_string(), Vec::new()));
        if !entry.1.contains(&parent) {
            entry.1.push(parent);
        }
        new
    }

    /// Uses `dn` as the spelling of its entry, if the entry is in the ancestry.
    pub(crate) fn respell(&mut self, dn: &str) {
        if let Some(node) = self.nodes.get_mut(&dn_key(dn)) {
            node.0 = dn.to_string();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The shortest chain of DNs from `ancestor_dn` down to the entry (both included), or
    /// `None` when the entry is not below it.
    pub fn path_from(&self, ancestor_dn: &str) -> Option<Vec<String>> {
        let goal = dn_key(ancestor_dn);
        let mut came_from: HashMap<&str, &str> = HashMap::new();
        let mut seen: HashSet<&str> = HashSet::from([self.target.as_str()]);
        let mut queue = VecDeque::from([self.target.as_str()]);
        while let Some(key) = queue.pop_front() {
            if key == goal {
                let mut path = vec![self.display(key)];
                let mut at = key;
                while let Some(next) = came_from.get(at) {
                    path.push(self.display(next));
                    at = next;
                }
                return Some(path);
            }
            for parent in self.nodes.get(key).map(|n| n.1.as_slice()).unwrap_or(&[]) {
                if seen.insert(parent.as_str()) {
                    came_from.insert(parent.as_str(), key);
                    queue.push_back(parent.as_str());
                }
            }
        }
        None
    }

    /// The first of `groups` the entry is below, and the chain from it.
    pub fn first_path_from(&self, groups: &[String]) -> Option<(String, Vec<String>)> {
        groups
            .iter()
            .find_map(|g| self.path_from(g).map(|p| (g.clone(), p)))
    }

    fn display(&self, key: &str) -> String {
        self.nodes
            .get(key)
            .map_or_else(|| key.to_string(), |n| n.0.clone())
    }
}

/// A chain of DNs as a person reads it: the first RDN value of each, joined by arrows
/// (`AWS Users → Engineering → Platform Team → Jane Doe`).
pub fn chain_text(path: &[String]) -> String {
    path.iter()
        .map(|dn| first_rdn_value(dn).unwrap_or_else(|| dn.clone()))
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_shortest_chain_is_found_through_nesting_and_cycles() {
        let mut a = Ancestry::new("CN=Jane,OU=People,DC=x");
        a.add_parent("CN=Jane,OU=People,DC=x", "CN=Platform,OU=G,DC=x");
        a.add_parent("CN=Platform,OU=G,DC=x", "CN=Engineering,OU=G,DC=x");
        a.add_parent("CN=Engineering,OU=G,DC=x", "CN=AWS Users,OU=G,DC=x");
        a.add_parent("CN=AWS Users,OU=G,DC=x", "CN=Platform,OU=G,DC=x"); // a cycle
        let path = a.path_from("cn=aws users, ou=g, dc=x").unwrap();
        assert_eq!(
            chain_text(&path),
            "AWS Users → Engineering → Platform → Jane"
        );
        assert!(a.path_from("CN=Other,DC=x").is_none());
    }
}
