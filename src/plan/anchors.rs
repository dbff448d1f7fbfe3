//! One rule for users and groups alike: an anchor (objectSid, objectGUID) names one directory
//! entry. Entries that share an anchor but differ are an export problem; none of them is acted
//! on, and each is reported.

use std::borrow::Cow;
use std::collections::HashSet;

use super::types::Plan;
use crate::model::{Finding, ReasonCode};

/// How to describe an entry in a report.
pub(super) struct AnchorNames<T> {
    /// `objectSid` or `objectGUID`, as the operator knows the attribute.
    pub attribute: &'static str,
    pub dn: fn(&T) -> &str,
    pub anchor: fn(&T) -> &str,
}

/// The entries of `keyed` whose anchor key is neither untouchable nor carried by differing
/// entries, one per key, in key order (ties by DN, so the result does not depend on directory
/// order). Keys of differing entries are reported in `out.skipped` and made untouchable.
pub(super) fn unique_by_anchor<'a, T: PartialEq>(
    mut keyed: Vec<(Cow<'a, str>, &'a T)>,
    names: &AnchorNames<T>,
    untouchable: &mut HashSet<Cow<'a, str>>,
    out: &mut Plan,
) -> Vec<(Cow<'a, str>, &'a T)> {
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| (names.dn)(a.1).cmp((names.dn)(b.1)))
    });
    let mut unique = Vec::with_capacity(keyed.len());
    let mut i = 0;
    while i < keyed.len() {
        let mut j = i + 1;
        while j < keyed.len() && keyed[j].0 == keyed[i].0 {
            j += 1;
        }
        let (key, entry) = (&keyed[i].0, keyed[i].1);
        let same_anchor = &keyed[i..j];
        i = j;
        if untouchable.contains(key) {
            continue;
        }
        if same_anchor.iter().any(|(_, other)| *other != entry) {
            for (_, other) in same_anchor {
                out.skipped.push(
                    Finding::new(
                        ReasonCode::DuplicateAnchor,
                        format!(
                            "{}: {} {} is carried by {} different directory entries; fix the \
                             directory export",
                            (names.dn)(other),
                            names.attribute,
                            (names.anchor)(other),
                            same_anchor.len()
                        ),
                    )
                    .about((names.dn)(other))
                    .about((names.anchor)(other)),
                );
            }
            untouchable.insert(key.clone());
            continue;
        }
        unique.push((key.clone(), entry));
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(PartialEq)]
    struct Entry {
        dn: &'static str,
        anchor: &'static str,
    }

    const NAMES: AnchorNames<Entry> = AnchorNames {
        attribute: "objectSid",
        dn: |e| e.dn,
        anchor: |e| e.anchor,
    };

    #[test]
    fn a_shared_anchor_with_differing_entries_is_reported_and_left_alone() {
        let entries = [
            Entry {
                dn: "CN=b",
                anchor: "S-2",
            },
            Entry {
                dn: "CN=a",
                anchor: "S-1",
            },
            Entry {
                dn: "CN=c",
                anchor: "S-2",
            },
            Entry {
                dn: "CN=d",
                anchor: "S-3",
            },
        ];
        let keyed = entries
            .iter()
            .map(|e| (Cow::Borrowed(e.anchor), e))
            .collect();
        let mut untouchable = HashSet::from([Cow::Borrowed("S-3")]);
        let mut plan = Plan::default();
        let unique = unique_by_anchor(keyed, &NAMES, &mut untouchable, &mut plan);
        let dns: Vec<&str> = unique.iter().map(|(_, e)| e.dn).collect();
        assert_eq!(dns, ["CN=a"]);
        assert!(untouchable.contains("S-2"));
        assert_eq!(plan.skipped.len(), 2);
        assert_eq!(plan.skipped[0].code, ReasonCode::DuplicateAnchor);
        assert!(plan.skipped[0].concerns("CN=b") && plan.skipped[0].concerns("S-2"));
        assert!(plan.skipped[1].concerns("CN=c"));
    }

    #[test]
    fn an_entry_listed_twice_identically_is_kept_once() {
        let e = Entry {
            dn: "CN=a",
            anchor: "S-1",
        };
        let keyed = vec![(Cow::Borrowed("S-1"), &e), (Cow::Borrowed("S-1"), &e)];
        let mut plan = Plan::default();
        let unique = unique_by_anchor(keyed, &NAMES, &mut HashSet::new(), &mut plan);
        assert_eq!(unique.len(), 1);
        assert!(plan.skipped.is_empty());
    }
}
