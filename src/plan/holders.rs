//! Who currently holds a unique value (a userName, an email, a group name) in Identity Center,
//! and whether that holder gives it up in this plan.
//!
//! The executor runs creates, updates and renames concurrently, and deletes only at the end,
//! so a value is only taken in this pass when nobody else holds it *now*. A value held by an
//! object that releases it in this pass (a rename, a deletion) is taken in the next pass
//! instead: one extra pass, never a 409. A value held by an object that keeps it is a conflict.

use std::borrow::Cow;
use std::collections::HashSet;

use super::ownership::fold;

/// The answer for one value.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Holder<'a, T> {
    /// Nobody else holds it: take it now.
    Free,
    /// Someone holds it and keeps it: a conflict.
    Keeps(&'a T),
    /// Everyone holding it gives it up in this pass: take it next pass.
    Releases(&'a T),
}

/// An index from folded value to the objects holding it, plus the ids that release theirs.
///
/// A sorted vector, not a hash map: one entry per holder (value and holder, 32 bytes) where a
/// map's table is a power of two with an eighth kept empty, about twice that (6 MB more per
/// index at 100k users, and the planner holds two, for names and emails, at its peak).
pub(super) struct Holders<'a, T> {
    /// Sorted by value; holders of one value in the order they were given.
    by_value: Vec<(Cow<'a, str>, &'a T)>,
    releasing: HashSet<&'a str>,
    id_of: fn(&T) -> &str,
}

impl<'a, T> Holders<'a, T> {
    pub(super) fn new(
        items: impl Iterator<Item = (&'a T, Option<&'a str>)>,
        id_of: fn(&T) -> &str,
    ) -> Self {
        let mut by_value: Vec<(Cow<'a, str>, &'a T)> = items
            .filter_map(|(item, value)| value.map(|v| (fold(v), item)))
            .collect();
        // Stable, so the holders of one value keep their order.
        by_value.sort_by(|a, b| a.0.cmp(&b.0));
        by_value.shrink_to_fit();
        Self {
            by_value,
            releasing: HashSet::new(),
            id_of,
        }
    }

    /// Records that the object `id` gives up the value it holds in this index.
    pub(super) fn mark_releasing(&mut self, id: &'a str) {
        self.releasing.insert(id);
    }

    /// Who holds `value` (compared without case), ignoring the object `me` itself.
    pub(super) fn check(&self, value: &str, me: Option<&str>) -> Holder<'a, T> {
        let value = fold(value);
        let first = self
            .by_value
            .partition_point(|(v, _)| v.as_ref() < value.as_ref());
        let holders = self.by_value[first..]
            .iter()
            .take_while(|(v, _)| v.as_ref() == value.as_ref())
            .map(|(_, item)| *item);
        let mut releasing = None;
        for item in holders {
            let id = (self.id_of)(item);
            if Some(id) == me {
                continue;
            }
            if !self.releasing.contains(id) {
                return Holder::Keeps(item);
            }
            releasing = releasing.or(Some(item));
        }
        match releasing {
            Some(item) => Holder::Releases(item),
            None => Holder::Free,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(items: &[(String, Option<String>)]) -> Holders<'_, (String, Option<String>)> {
        Holders::new(items.iter().map(|i| (i, i.1.as_deref())), |i| i.0.as_str())
    }

    #[test]
    fn free_kept_and_released_values_are_told_apart() {
        let items = vec![
            ("1".to_string(), Some("Alice".to_string())),
            ("2".to_string(), Some("bob".to_string())),
            ("3".to_string(), None),
        ];
        let mut h = index(&items);
        assert_eq!(h.check("carol", None), Holder::Free);
        assert_eq!(h.check("ALICE", None), Holder::Keeps(&items[0]));
        assert_eq!(h.check("alice", Some("1")), Holder::Free);
        h.mark_releasing("2");
        assert_eq!(h.check("Bob", None), Holder::Releases(&items[1]));
    }

    #[test]
    fn a_value_held_twice_is_free_only_when_both_release_it() {
        let items = vec![
            ("1".to_string(), Some("Dup".to_string())),
            ("2".to_string(), Some("zed".to_string())),
            ("3".to_string(), Some("dup".to_string())),
            ("4".to_string(), Some("abe".to_string())),
        ];
        let mut h = index(&items);
        assert_eq!(h.check("DUP", None), Holder::Keeps(&items[0]));
        assert_eq!(h.check("dup", Some("1")), Holder::Keeps(&items[2]));
        h.mark_releasing("1");
        assert_eq!(h.check("dup", None), Holder::Keeps(&items[2]));
        h.mark_releasing("3");
        assert_eq!(h.check("dup", None), Holder::Releases(&items[0]));
        assert_eq!(h.check("dup", Some("3")), Holder::Releases(&items[0]));
        assert_eq!(h.check("abe", None), Holder::Keeps(&items[3]));
        assert_eq!(h.check("ab", None), Holder::Free);
        assert_eq!(h.check("zz", None), Holder::Free);
    }
}
