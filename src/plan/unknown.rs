//! What a directory read leaves unknown: entries that were skipped, and in-scope entries whose
//! anchor could not be read. Their Identity Center objects are left alone, because a decision
//! to take access away needs a complete read of what it rests on.

use std::borrow::Cow;
use std::collections::HashSet;

use super::ownership::{is_owned_user_external_id, same_folded, user_key};
use crate::model::{DirectorySnapshot, EntryKind, IdcSnapshot, SkippedEntry};

/// What the directory read leaves unknown, for users or for groups: the anchors of entries
/// that were skipped (their objects are left alone), and the DNs of in-scope entries whose
/// anchor could not be read at all and that match no object (so any object that looks out of
/// scope might be one of them: nothing is disabled or deleted for being out of scope).
pub(super) struct Unknown<'a> {
    pub anchors: HashSet<Cow<'a, str>>,
    pub unmatched: Vec<&'a str>,
}

pub(super) fn unanchored(
    dir: &DirectorySnapshot,
    kind: EntryKind,
) -> impl Iterator<Item = &SkippedEntry> {
    dir.skipped
        .iter()
        .filter(move |s| s.anchor.is_none() && s.kind == kind)
}

/// A user entry without a readable objectSid still names its person (userPrincipalName, mail,
/// sAMAccountName): the owned Identity Center users holding one of those names as userName
/// or email are protected like any skipped user. An entry that matches nobody is unmatched.
pub(super) fn protect_by_name<'a>(
    dir: &'a DirectorySnapshot,
    idc: &'a IdcSnapshot,
    unknown: &mut Unknown<'a>,
) {
    for entry in unanchored(dir, EntryKind::User) {
        let mut matched = false;
        for u in &idc.users {
            let Some(ext) = u
                .external_id
                .as_deref()
                .filter(|e| is_owned_user_external_id(e, &dir.domain_sids))
            else {
                continue;
            };
            let named = entry.user_names.iter().any(|n| {
                same_folded(n, &u.user_name)
                    || u.email.as_deref().is_some_and(|e| same_folded(n, e))
            });
            if named {
                unknown.anchors.insert(user_key(ext));
                matched = true;
            }
        }
        if !matched {
            unknown.unmatched.push(entry.dn.as_str());
        }
    }
}
