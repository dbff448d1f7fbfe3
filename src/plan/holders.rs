//! Who currently holds a unique value (a userName, an email, a group name) in Identity Center,
//! and whether that holder gives it up in this plan.
//!
//! The executor runs creates, updates and renames concurrently, and deletes only at the end,
//! so a value is only taken in this pass when nobody else holds it *now*. A value held by an
//! object that releases it in this pass (a rename, a deletion) is taken in the next pass
//! instead: one extra pass, never a 409. A value held by an object that keeps it is a conflict.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

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

/// The holders of one value: almost always one, so no vector is allocated for it.
enum OneOrMore<'a, T> {
    One(&'a T),
    More(Vec<&'a T>),
}

impl<'a, T> OneOrMore<'a, T> {
    fn push(&mut self, item: &'a T) {
        match self {
            OneOrMore::One(first) => *self = OneOrMore::More(vec![*first, item]),
            OneOrMore::More(items) => items.push(item),
        }
    }
}

/// An index from folded value to the objects holding it, plus the ids that release theirs.
pub(super) struct Holders<'a, T> {
    by_value: HashMap<Cow<'a, str>, OneOrMore<'a, T>>,
    releasing: HashSet<&'a str>,
    id_of: fn(&T) -> &str,
}

impl<'a, T> Holders<'a, T> {
    pub(super) fn new(
        items: impl Iterator<Item = (&'a T, Option<&'a str>)>,
        id_of: fn(&T) -> &str,
    ) -> Self {
        let mut by_value: HashMap<Cow<'a, str>, OneOrMore<'a, T>> =
            HashMap::with_capacity(items.size_hint().0);
        for (item, value) in items {
            if let Some(v) = value {
                by_value
                    .entry(fold(v))
                    .and_modify(|held| held.push(item))
                    .or_insert(OneOrMore::One(item));
            }
        }
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
        let Some(list) = self.by_value.get(fold(value).as_ref()) else {
            return Holder::Free;
        };
        let list = match list {
            OneOrMore::One(item) => std::slice::from_ref(item),
            OneOrMore::More(items) => items.as_slice(),
        };
        let mut releasing = None;
        for item in list {
            let id = (self.id_of)(item);
            if Some(id) == me {
                continue;
            }
            if !self.releasing.contains(id) {
                return Holder::Keeps(item);
            }
            releasing = releasing.or(Some(*item));
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
}
