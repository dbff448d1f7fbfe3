//! One object out of a pass: finds a user or group by any name an operator knows it by, and
//! keeps only the operations and findings that concern it (`apply --only`, `explain`).

use std::collections::BTreeSet;

use crate::model::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, Finding, IdcGroup, IdcSnapshot, IdcUser,
};
use crate::plan::{GroupRef, Operation, Plan, UserRef};

/// A DN compared as directories do: without case and without the spaces after separators.
pub(crate) fn dn_form(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| {
            let (attr, value) = rdn.split_once('=').unwrap_or((rdn, ""));
            format!("{}={}", attr.trim(), value.trim())
        })
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// What kind of object a name was found as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    User,
    Group,
}

/// An object named on the command line, with every identifier it has on either side.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The name as given.
    pub who: String,
    pub kind: TargetKind,
    /// The objectSid (user) or objectGUID (group): the externalId.
    pub anchor: Option<String>,
    pub dir_user: Option<&'a DirectoryUser>,
    pub dir_group: Option<&'a DirectoryGroup>,
    /// The Identity Center objects it matches by anchor or name.
    pub idc_users: Vec<&'a IdcUser>,
    pub idc_groups: Vec<&'a IdcGroup>,
}

impl<'a> Target<'a> {
    /// Every identifier findings may name it by.
    pub fn identifiers(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        ids.extend(self.anchor.clone());
        if let Some(u) = self.dir_user {
            ids.push(u.dn.clone());
            ids.push(u.sam_account_name.clone());
            ids.extend(u.user_principal_name.clone());
        }
        if let Some(g) = self.dir_group {
            ids.push(g.dn.clone());
            ids.push(g.name.clone());
        }
        ids.extend(self.idc_users.iter().map(|u| u.id.to_string()));
        ids.extend(self.idc_groups.iter().map(|g| g.id.clone()));
        ids
    }

    /// True when `f` is about this object.
    pub fn concerns(&self, f: &Finding) -> bool {
        self.identifiers().iter().any(|id| f.concerns(id))
            || self
                .dir_user
                .is_some_and(|u| f.about.iter().any(|a| dn_form(a) == dn_form(&u.dn)))
            || self
                .dir_group
                .is_some_and(|g| f.about.iter().any(|a| dn_form(a) == dn_form(&g.dn)))
    }

    fn user_ids(&self) -> BTreeSet<&str> {
        self.idc_users.iter().map(|u| u.id.as_ref()).collect()
    }

    fn group_ids(&self) -> BTreeSet<&str> {
        self.idc_groups.iter().map(|g| g.id.as_str()).collect()
    }

    fn is_anchor(&self, external_id: &str) -> bool {
        self.anchor.as_deref().is_some_and(|a| same(a, external_id))
    }
}

/// Finds `who` as a user (sAMAccountName, userPrincipalName, DN, objectSid, or an Identity
/// Center userName or externalId) or, failing that, as a group (cn, DN, objectGUID, or an
/// Identity Center displayName or externalId). `None` when nothing answers to it.
pub fn find<'a>(who: &str, dir: &'a DirectorySnapshot, idc: &'a IdcSnapshot) -> Option<Target<'a>> {
    let want = who.trim();
    if want.is_empty() {
        return None;
    }
    let dn = dn_form(want);
    let dir_user = dir.users.iter().find(|u| {
        same(&u.sam_account_name, want)
            || u.user_principal_name
                .as_deref()
                .is_some_and(|p| same(p, want))
            || same(&u.object_sid, want)
            || dn_form(&u.dn) == dn
    });
    let anchor = dir_user.map(|u| u.object_sid.to_string()).or_else(|| {
        idc.users
            .iter()
            .find(|u| {
                same(&u.user_name, want) || u.external_id.as_deref().is_some_and(|e| same(e, want))
            })
            .and_then(|u| u.external_id.clone())
    });
    let idc_users: Vec<&IdcUser> = idc
        .users
        .iter()
        .filter(|u| {
            u.external_id
                .as_deref()
                .zip(anchor.as_deref())
                .is_some_and(|(e, a)| same(e, a))
                || (anchor.is_none() && same(&u.user_name, want))
        })
        .collect();
    if dir_user.is_some() || !idc_users.is_empty() {
        return Some(Target {
            who: want.to_string(),
            kind: TargetKind::User,
            anchor,
            dir_user,
            dir_group: None,
            idc_users,
            idc_groups: Vec::new(),
        });
    }
    let dir_group = dir
        .groups
        .iter()
        .find(|g| same(&g.name, want) || same(&g.object_guid, want) || dn_form(&g.dn) == dn);
    let anchor = dir_group.map(|g| g.object_guid.clone()).or_else(|| {
        idc.groups
            .iter()
            .find(|g| {
                same(&g.display_name, want)
                    || g.external_id.as_deref().is_some_and(|e| same(e, want))
            })
            .and_then(|g| g.external_id.clone())
    });
    let idc_groups: Vec<&IdcGroup> = idc
        .groups
        .iter()
        .filter(|g| {
            g.external_id
                .as_deref()
                .zip(anchor.as_deref())
                .is_some_and(|(e, a)| same(e, a))
                || same(&g.display_name, want)
        })
        .collect();
    if dir_group.is_none() && idc_groups.is_empty() {
        return None;
    }
    Some(Target {
        who: want.to_string(),
        kind: TargetKind::Group,
        anchor,
        dir_user: None,
        dir_group,
        idc_users: Vec::new(),
        idc_groups,
    })
}

/// The part of `op` that concerns `targets`: the whole operation, the member changes of the
/// named users only, or nothing.
pub fn restrict(op: &Operation, targets: &[Target<'_>]) -> Option<Operation> {
    let user_ids: BTreeSet<&str> = targets.iter().flat_map(|t| t.user_ids()).collect();
    let group_ids: BTreeSet<&str> = targets.iter().flat_map(|t| t.group_ids()).collect();
    let users: Vec<&Target<'_>> = targets
        .iter()
        .filter(|t| t.kind == TargetKind::User)
        .collect();
    let groups: Vec<&Target<'_>> = targets
        .iter()
        .filter(|t| t.kind == TargetKind::Group)
        .collect();
    let user_anchor = |e: &str| users.iter().any(|t| t.is_anchor(e));
    let group_anchor = |e: &str| groups.iter().any(|t| t.is_anchor(e));
    let whole = match op {
        Operation::CreateUser { user, .. } => user_anchor(&user.external_id),
        Operation::UpdateUser { id, user, .. } => {
            user_ids.contains(id.as_str()) || user_anchor(&user.external_id)
        }
        Operation::DisableUser {
            id, external_id, ..
        }
        | Operation::DeleteUser {
            id, external_id, ..
        } => user_ids.contains(id.as_str()) || user_anchor(external_id),
        Operation::CreateGroup { external_id, .. } => group_anchor(external_id),
        Operation::RenameGroup {
            id, external_id, ..
        }
        | Operation::AdoptGroup {
            id, external_id, ..
        }
        | Operation::DeleteGroup {
            id, external_id, ..
        } => group_ids.contains(id.as_str()) || group_anchor(external_id),
        Operation::AddMembers { group, .. } => match group {
            GroupRef::Existing(id) => group_ids.contains(id.as_str()),
            GroupRef::New(ext) => group_anchor(ext),
        },
        Operation::RemoveMembers { group_id, .. } => group_ids.contains(group_id.as_str()),
        // The user's own change; without its manager's create (another object) it is
        // skipped when applied, never sent with a dangling id.
        Operation::SetManager { user, .. } => match user {
            UserRef::Existing(id) => user_ids.contains(&**id),
            UserRef::New(sid) => user_anchor(sid),
        },
    };
    if whole {
        return Some(op.clone());
    }
    match op {
        Operation::AddMembers {
            group,
            group_name,
            users: refs,
            reason,
        } => {
            let mine: Vec<UserRef> = refs
                .iter()
                .filter(|r| match r {
                    UserRef::Existing(id) => user_ids.contains(&**id),
                    UserRef::New(sid) => user_anchor(sid),
                })
                .cloned()
                .collect();
            (!mine.is_empty()).then(|| Operation::AddMembers {
                group: group.clone(),
                group_name: group_name.clone(),
                users: mine,
                reason: reason.clone(),
            })
        }
        Operation::RemoveMembers {
            group_id,
            group_name,
            user_ids: ids,
            reason,
        } => {
            let mine: Vec<String> = ids
                .iter()
                .filter(|id| user_ids.contains(id.as_str()))
                .cloned()
                .collect();
            (!mine.is_empty()).then(|| Operation::RemoveMembers {
                group_id: group_id.clone(),
                group_name: group_name.clone(),
                user_ids: mine,
                reason: reason.clone(),
            })
        }
        _ => None,
    }
}

/// `plan` reduced to what concerns `targets`: their operations and findings.
pub fn restrict_plan(plan: &Plan, targets: &[Target<'_>]) -> Plan {
    let keep = |f: &&Finding| targets.iter().any(|t| t.concerns(f));
    Plan {
        operations: plan
            .operations
            .iter()
            .filter_map(|op| restrict(op, targets))
            .collect(),
        conflicts: plan.conflicts.iter().filter(keep).cloned().collect(),
        skipped: plan.skipped.iter().filter(keep).cloned().collect(),
        notes: plan.notes.iter().filter(keep).cloned().collect(),
        withheld: plan.withheld.iter().filter(keep).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Reason, ReasonCode};

    fn user_target(anchor: &str) -> Target<'static> {
        Target {
            who: anchor.to_string(),
            kind: TargetKind::User,
            anchor: Some(anchor.to_string()),
            dir_user: None,
            dir_group: None,
            idc_users: Vec::new(),
            idc_groups: Vec::new(),
        }
    }

    #[test]
    fn a_manager_link_belongs_to_the_user_not_to_its_manager() {
        let op = Operation::SetManager {
            user: UserRef::New("S-1-5-21-1-2-3-1001".into()),
            user_name: "jane".into(),
            manager: UserRef::New("S-1-5-21-1-2-3-1002".into()),
            manager_name: "boss".into(),
            from: None,
            reason: Reason::new(ReasonCode::ManagerCreatedThisPass, "x"),
        };
        assert_eq!(
            restrict(&op, &[user_target("s-1-5-21-1-2-3-1001")]),
            Some(op.clone())
        );
        assert_eq!(restrict(&op, &[user_target("S-1-5-21-1-2-3-1002")]), None);
    }
}
