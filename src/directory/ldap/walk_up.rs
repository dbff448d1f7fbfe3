//! Walking up `memberOf` from an entry to every group it is nested in, at any depth.
//!
//! An incremental pass asks this twice: which groups in scope hold a changed user, and which
//! groups in scope a changed group is nested in. AD's in-chain matching rule on `member`
//! answers either in one search, but Samba evaluates it against every group under the base
//! (about 20 s per search at 10k users and 1000 groups, docs/performance.md), so the walk
//! reads one group at a time by DN instead, each at most once per pass, and follows the
//! `memberOf` back link AD keeps on users and groups alike.

use std::collections::{HashMap, HashSet, VecDeque};

use super::super::dn::dn_key;
use super::super::entry::RawEntry;
use super::super::error::DirectoryError;
use super::search::Reader;

/// The groups read so far in a pass, by DN key: what `decode` made of each and its own
/// `memberOf` (`None`: not a group here, or gone). Kept across walks, so a group above many
/// changed entries is read once.
pub(super) struct WalkUp<'a, T> {
    /// What the reads are called in an error ("read a group above a changed user").
    pub operation: &'a str,
    pub group_filter: &'a str,
    /// The attributes to read of each group; must include `member_of`.
    pub attrs: &'a [&'a str],
    pub member_of: &'a str,
    cache: HashMap<String, Option<(T, Vec<String>)>>,
}

impl<'a, T> WalkUp<'a, T> {
    pub fn new(
        operation: &'a str,
        group_filter: &'a str,
        attrs: &'a [&'a str],
        member_of: &'a str,
    ) -> Self {
        WalkUp {
            operation,
            group_filter,
            attrs,
            member_of,
            cache: HashMap::new(),
        }
    }

    /// Visits every group reachable up `memberOf` from `starts` (the entry's own `memberOf`
    /// values), breadth first, each once even through a cycle: `visit` gets the group's DN
    /// key and what `decode` made of it. Counts each read in `searches`.
    pub async fn walk(
        &mut self,
        reader: &mut Reader,
        starts: impl IntoIterator<Item = String>,
        searches: &mut u64,
        decode: impl Fn(&RawEntry) -> T,
        mut visit: impl FnMut(&str, &T),
    ) -> Result<(), DirectoryError> {
        let mut queue: VecDeque<String> = starts.into_iter().collect();
        let mut visited: HashSet<String> = HashSet::new();
        while let Some(dn) = queue.pop_front() {
            let key = dn_key(&dn);
            if !visited.insert(key.clone()) {
                continue; // a cycle, or reached twice
            }
            if !self.cache.contains_key(&key) {
                *searches += 1;
                let entry = reader
                    .read_entry_here(self.operation, &dn, self.group_filter, self.attrs)
                    .await?;
                let read = entry.map(|e| {
                    let above = e.texts(self.member_of).unwrap_or_default();
                    (decode(&e), above)
                });
                self.cache.insert(key.clone(), read);
            }
            let Some(Some((group, above))) = self.cache.get(&key) else {
                continue; // not a group (or gone)
            };
            queue.extend(above.iter().cloned());
            visit(&key, group);
        }
        Ok(())
    }
}
