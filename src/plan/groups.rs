//! Planning of group objects: creates, renames, adoptions and (opt-in) deletes.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::anchors::{unique_by_anchor, AnchorNames};
use super::desired::{desired_group_name_by, group_display_name};
use super::holders::{Holder, Holders};
use super::ownership::{
    duplicate_external_id, fold, group_key, is_owned_group_external_id, same_folded,
};
use super::types::{GroupRef, Operation, Plan};
use super::unknown::Unknown;
use crate::model::settings::{GroupDisplayName, Policy};
use crate::model::{DirectoryGroup, Finding, IdcGroup, Reason, ReasonCode};

/// What Identity Center holds as a group's members before this plan.
pub(super) enum CurrentMembers<'a> {
    /// The group is created by this plan.
    None,
    /// Read from Identity Center.
    Read(&'a BTreeSet<Arc<str>>),
    /// Not read (the read failed, or the group is adopted and was foreign when read).
    Unknown,
}

/// A group whose membership this plan manages.
pub(super) struct GroupTarget<'a> {
    pub group: GroupRef,
    /// The name used in reports: the one the group has after this plan.
    pub name: String,
    pub dir: &'a DirectoryGroup,
    pub current: CurrentMembers<'a>,
}

struct Candidate<'a> {
    dir: &'a DirectoryGroup,
    /// The directory's identities (`DirectorySnapshot::domain_sids`): which anchors are ours.
    domains: &'a [String],
    key: Cow<'a, str>,
    name: String,
    existing: Option<&'a IdcGroup>,
    /// Set when the existing group carries the name another `scope.groupDisplayName` would
    /// make: the rename is the setting's, not the directory's.
    naming_changed: Option<GroupDisplayName>,
}

pub(super) fn plan_groups<'a>(
    dir_groups: &'a [DirectoryGroup],
    idc_groups: &'a [IdcGroup],
    domain_sids: &'a [String],
    unknown: &Unknown<'a>,
    policy: &Policy,
    out: &mut Plan,
) -> Vec<GroupTarget<'a>> {
    let owned = index_owned(idc_groups, domain_sids, out);
    let mut untouchable: HashSet<Cow<'a, str>> = unknown.anchors.clone();
    let in_directory: HashSet<Cow<'a, str>> = dir_groups
        .iter()
        .map(|g| group_key(&g.object_guid))
        .collect();
    let candidates = candidates(
        dir_groups,
        domain_sids,
        &owned,
        &mut untouchable,
        policy,
        out,
    );

    let out_of_scope: Vec<&IdcGroup> = {
        let mut v: Vec<&IdcGroup> = owned
            .iter()
            .filter(|(k, _)| !in_directory.contains(*k) && !untouchable.contains(*k))
            .map(|(_, g)| *g)
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    };

    let mut names = Holders::new(
        idc_groups
            .iter()
            .map(|g| (g, Some(g.display_name.as_str()))),
        |g: &IdcGroup| g.id.as_str(),
    );
    for c in &candidates {
        if let Some(e) = c.existing {
            if !same_folded(&e.display_name, &c.name) {
                names.mark_releasing(&e.id);
            }
        }
    }
    if policy.delete_groups_out_of_scope {
        for g in &out_of_scope {
            names.mark_releasing(&g.id);
        }
    }

    let mut targets = Vec::with_capacity(candidates.len());
    for c in candidates {
        let target = match c.existing {
            Some(e) => Some(plan_existing(&c, e, &names, out)),
            None => plan_new(&c, &names, policy, out),
        };
        targets.extend(target);
    }

    if policy.delete_groups_out_of_scope
        && !out_of_scope.is_empty()
        && !unknown.unmatched.is_empty()
    {
        // A group entry whose objectGUID could not be read may be any of them.
        for dn in &unknown.unmatched {
            out.withheld.push(
                Finding::new(
                    ReasonCode::PartialRead,
                    format!(
                        "{dn}: a group in scope whose objectGUID could not be read, so none of \
                         the {} groups out of scope was deleted in this pass; fix the entry in \
                         the directory",
                        out_of_scope.len()
                    ),
                )
                .about(&**dn),
            );
        }
    } else if policy.delete_groups_out_of_scope {
        for g in out_of_scope {
            out.operations.push(Operation::DeleteGroup {
                id: g.id.clone(),
                external_id: g.external_id.clone().unwrap_or_default(),
                display_name: g.display_name.clone(),
                reason: Reason::new(
                    ReasonCode::GroupLeftScope,
                    "no longer in scope (deleteGroupsOutOfScope is set)",
                ),
            });
        }
    }
    targets
}

/// Owned groups by canonical anchor; duplicates (should Identity Center ever hold two) are
/// handled as for users: the lowest id is managed, the other left alone and reported.
fn index_owned<'a>(
    idc_groups: &'a [IdcGroup],
    domain_sids: &[String],
    out: &mut Plan,
) -> HashMap<Cow<'a, str>, &'a IdcGroup> {
    let mut owned: HashMap<Cow<'a, str>, &'a IdcGroup> = HashMap::with_capacity(idc_groups.len());
    for g in idc_groups {
        let Some(ext) = g
            .external_id
            .as_deref()
            .filter(|e| is_owned_group_external_id(e, domain_sids))
        else {
            continue;
        };
        match owned.entry(group_key(ext)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(g);
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let (keep, other) = if g.id < o.get().id {
                    (g, *o.get())
                } else {
                    (*o.get(), g)
                };
                out.notes
                    .push(duplicate_external_id("groups", ext, &keep.id, &other.id));
                o.insert(keep);
            }
        }
    }
    owned
}

fn candidates<'a>(
    dir_groups: &'a [DirectoryGroup],
    domains: &'a [String],
    owned: &HashMap<Cow<'a, str>, &'a IdcGroup>,
    untouchable: &mut HashSet<Cow<'a, str>>,
    policy: &Policy,
    out: &mut Plan,
) -> Vec<Candidate<'a>> {
    let keyed = dir_groups
        .iter()
        .map(|g| (group_key(&g.object_guid), g))
        .collect();
    let names = AnchorNames {
        attribute: "objectGUID",
        dn: |g: &DirectoryGroup| g.dn.as_str(),
        anchor: |g: &DirectoryGroup| g.object_guid.as_str(),
    };
    let unique = unique_by_anchor(keyed, &names, untouchable, out);

    let mut result: Vec<Candidate<'a>> = Vec::with_capacity(unique.len());
    for (key, dir) in unique {
        let (naming, prefix) = (policy.group_display_name, &policy.group_name_prefix);
        match desired_group_name_by(dir, naming, prefix) {
            Ok(name) => {
                let existing = owned.get(&key).copied();
                let naming_changed = existing
                    .filter(|e| e.display_name != name)
                    .filter(|e| {
                        GroupDisplayName::ALL.iter().any(|other| {
                            *other != naming
                                && group_display_name(dir, *other, prefix) == e.display_name
                        })
                    })
                    .map(|_| naming);
                result.push(Candidate {
                    dir,
                    domains,
                    existing,
                    key,
                    name,
                    naming_changed,
                })
            }
            Err(reason) => {
                out.skipped.push(
                    Finding::new(reason.code, format!("{}: {reason}", dir.dn))
                        .about(&*dir.dn)
                        .about(dir.object_guid.as_str()),
                );
                untouchable.insert(key);
            }
        }
    }

    // Two directory groups with one name (compared without case) cannot both exist in
    // Identity Center: both are skipped, whatever the directory order.
    let mut by_name: HashMap<Cow<'_, str>, Vec<usize>> = HashMap::with_capacity(result.len());
    for (i, c) in result.iter().enumerate() {
        by_name.entry(fold(&c.name)).or_default().push(i);
    }
    let mut dup = vec![false; result.len()];
    for list in by_name.values().filter(|l| l.len() > 1) {
        for &i in list {
            dup[i] = true;
            let others: Vec<&str> = list
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| result[j].dir.dn.as_str())
                .collect();
            out.skipped.push(
                Finding::new(
                    ReasonCode::DuplicateInDirectory,
                    format!(
                        "{}: group name {} is also the name of {}; Identity Center needs unique \
                         group names (compared without case): rename one in the directory",
                        result[i].dir.dn,
                        result[i].name,
                        others.join(" and ")
                    ),
                )
                .about(&*result[i].dir.dn)
                .about(result[i].dir.object_guid.as_str()),
            );
        }
    }
    let mut keep = dup.into_iter();
    result.retain(|c| {
        let is_dup = keep.next().unwrap_or(false);
        if is_dup {
            untouchable.insert(c.key.clone());
        }
        !is_dup
    });
    result
}

/// The code of a conflict with `h`: ours (out of scope, keeping its name) or foreign.
fn holder_code(h: &IdcGroup, domains: &[String]) -> ReasonCode {
    match h.external_id.as_deref() {
        Some(ext) if is_owned_group_external_id(ext, domains) => {
            ReasonCode::NameKeptByManagedObject
        }
        _ => ReasonCode::NameTakenByForeignObject,
    }
}

/// A finding about the directory group `c` (its DN, objectGUID and name).
fn about_group(f: Finding, c: &Candidate<'_>) -> Finding {
    f.about(&*c.dir.dn)
        .about(c.dir.object_guid.as_str())
        .about(c.name.as_str())
}

fn describe_holder(h: &IdcGroup, domains: &[String]) -> String {
    match h.external_id.as_deref() {
        Some(ext) if is_owned_group_external_id(ext, domains) => format!(
            "scim-sync group {} (id {}, externalId {ext}), which is no longer in scope and keeps \
             its name: delete it in Identity Center, or enable deleteGroupsOutOfScope",
            h.display_name, h.id
        ),
        Some(ext) => format!(
            "Identity Center group {} (id {}) with externalId {ext}, which scim-sync does not \
             manage: rename one of them",
            h.display_name, h.id
        ),
        None => format!(
            "Identity Center group {} (id {}), which scim-sync does not manage: rename one of \
             them",
            h.display_name, h.id
        ),
    }
}

fn plan_existing<'a>(
    c: &Candidate<'a>,
    e: &'a IdcGroup,
    names: &Holders<'_, IdcGroup>,
    out: &mut Plan,
) -> GroupTarget<'a> {
    let mut name = c.name.clone();
    // Group names are compared exactly: a case-only rename in the directory is shown to
    // people, and renaming in place keeps the id and every account assignment.
    if e.display_name != c.name {
        let who = format!("group {} ({})", e.display_name, c.dir.object_guid);
        match names.check(&c.name, Some(&e.id)) {
            Holder::Free => out.operations.push(Operation::RenameGroup {
                id: e.id.clone(),
                external_id: c.dir.object_guid.clone(),
                from: e.display_name.clone(),
                to: c.name.clone(),
                reason: match c.naming_changed {
                    Some(naming) => renamed_by_setting(&e.display_name, &c.name, naming),
                    None => renamed(&e.display_name, &c.name),
                },
            }),
            Holder::Keeps(h) => {
                out.conflicts.push(about_group(
                    Finding::new(
                        holder_code(h, c.domains),
                        format!(
                            "{who} not renamed to {}: the name is used by {}",
                            c.name,
                            describe_holder(h, c.domains)
                        ),
                    )
                    .about(e.id.as_str()),
                    c,
                ));
                name = e.display_name.clone();
            }
            Holder::Releases(h) => {
                out.notes.push(about_group(
                    Finding::new(
                        ReasonCode::NameReleasedThisPass,
                        format!(
                            "{who} not renamed to {} yet: group {} (id {}) gives the name up in \
                             this pass; the rename follows in the next pass",
                            c.name, h.display_name, h.id
                        ),
                    )
                    .about(e.id.as_str()),
                    c,
                ));
                name = e.display_name.clone();
            }
        }
    }
    GroupTarget {
        group: GroupRef::Existing(e.id.clone()),
        name,
        dir: c.dir,
        current: match &e.member_ids {
            Some(ids) => CurrentMembers::Read(ids),
            None => CurrentMembers::Unknown,
        },
    }
}

fn plan_new<'a>(
    c: &Candidate<'a>,
    names: &Holders<'a, IdcGroup>,
    policy: &Policy,
    out: &mut Plan,
) -> Option<GroupTarget<'a>> {
    let who = format!("group {} ({}, {})", c.name, c.dir.object_guid, c.dir.dn);
    match names.check(&c.name, None) {
        Holder::Free => {
            out.operations.push(Operation::CreateGroup {
                external_id: c.dir.object_guid.clone(),
                display_name: c.name.clone(),
                reason: Reason::new(
                    ReasonCode::NewInScope,
                    "in scope (under the group search base, name matching the prefix) and not \
                     yet in Identity Center",
                ),
            });
            Some(GroupTarget {
                group: GroupRef::New(c.dir.object_guid.clone()),
                name: c.name.clone(),
                dir: c.dir,
                current: CurrentMembers::None,
            })
        }
        Holder::Releases(h) => {
            out.notes.push(about_group(
                Finding::new(
                    ReasonCode::NameReleasedThisPass,
                    format!(
                        "{who} not created yet: group {} (id {}) gives the name up in this \
                         pass; the create follows in the next pass",
                        h.display_name, h.id
                    ),
                ),
                c,
            ));
            None
        }
        Holder::Keeps(h) if h.external_id.is_none() && policy.adopt_groups_by_name => {
            Some(adopt(c, h, names, out))
        }
        Holder::Keeps(h) if h.external_id.is_none() => {
            out.conflicts.push(about_group(
                Finding::new(
                    holder_code(h, c.domains),
                    format!(
                        "{who} not created: the name is used by {}, or set adoptGroupsByName to \
                         make scim-sync take that group over",
                        describe_holder(h, c.domains)
                    ),
                ),
                c,
            ));
            None
        }
        Holder::Keeps(h) => {
            out.conflicts.push(about_group(
                Finding::new(
                    holder_code(h, c.domains),
                    format!(
                        "{who} not created: the name is used by {}",
                        describe_holder(h, c.domains)
                    ),
                ),
                c,
            ));
            None
        }
    }
}

/// Takes over a same-named group that carries no externalId (`adoptGroupsByName`). From this
/// plan on the group is ours: its membership is managed at once when Identity Center's member
/// list is known, otherwise from the next pass (foreign groups' members are usually not read).
fn adopt<'a>(
    c: &Candidate<'a>,
    h: &'a IdcGroup,
    names: &Holders<'a, IdcGroup>,
    out: &mut Plan,
) -> GroupTarget<'a> {
    out.operations.push(Operation::AdoptGroup {
        id: h.id.clone(),
        external_id: c.dir.object_guid.clone(),
        display_name: h.display_name.clone(),
        reason: Reason::new(
            ReasonCode::AdoptedByName,
            "same name as a group in scope and no externalId (adoptGroupsByName is set)",
        ),
    });
    let mut name = h.display_name.clone();
    if h.display_name != c.name && matches!(names.check(&c.name, Some(&h.id)), Holder::Free) {
        out.operations.push(Operation::RenameGroup {
            id: h.id.clone(),
            external_id: c.dir.object_guid.clone(),
            from: h.display_name.clone(),
            to: c.name.clone(),
            reason: renamed(&h.display_name, &c.name),
        });
        name = c.name.clone();
    }
    let current = match &h.member_ids {
        Some(ids) => CurrentMembers::Read(ids),
        None => {
            out.notes.push(about_group(
                Finding::new(
                    ReasonCode::MembersManagedNextPass,
                    format!(
                        "group {} ({}) is adopted in this pass; its members are managed from \
                         the next pass, once they have been read",
                        h.display_name, c.dir.object_guid
                    ),
                )
                .about(h.id.as_str()),
                c,
            ));
            CurrentMembers::Unknown
        }
    };
    GroupTarget {
        group: GroupRef::Existing(h.id.clone()),
        name,
        dir: c.dir,
        current,
    }
}

/// A rename because `scope.groupDisplayName` changed: the guard counts these.
fn renamed_by_setting(from: &str, to: &str, naming: GroupDisplayName) -> Reason {
    Reason::new(
        ReasonCode::GroupNamingChanged,
        format!(
            "renamed from {from} to {to}: scope.groupDisplayName is now {} (same group id, so \
             account assignments are kept)",
            naming.key()
        ),
    )
}

fn renamed(from: &str, to: &str) -> Reason {
    Reason::new(
        ReasonCode::GroupRenamed,
        format!("renamed in the directory from {from} to {to}"),
    )
}
