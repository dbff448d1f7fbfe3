//! Planning of group memberships.
//!
//! The membership of a managed group is the directory's effective membership, restricted to
//! users that exist (or are created) in Identity Center. The group is ours, so every other
//! member is removed, including users scim-sync does not manage (as the PowerShell original
//! does) and ids of users that no longer exist. Users whose directory entry was skipped are
//! neither added nor removed: their true state is unknown.

use super::groups::{CurrentMembers, GroupTarget};
use super::types::{GroupRef, Operation, Plan, UserRef};
use super::users::UserOutcome;
use crate::model::{Finding, Reason, ReasonCode};

pub(super) fn plan_members(targets: &[GroupTarget<'_>], users: &UserOutcome<'_>, out: &mut Plan) {
    let untouchable_ids = &users.untouchable_ids;
    for t in targets {
        let current = match &t.current {
            CurrentMembers::Unknown => {
                out.notes.push(
                    Finding::new(
                        ReasonCode::MembersNotRead,
                        format!(
                            "group {} ({}): its members were not read from Identity Center, so \
                             no member changes are planned for it in this pass",
                            t.name, t.dir.object_guid
                        ),
                    )
                    .about(&*t.dir.dn)
                    .about(t.dir.object_guid.as_str())
                    .about(t.name.as_str()),
                );
                continue;
            }
            CurrentMembers::None => None,
            CurrentMembers::Read(ids) => Some(*ids),
        };

        // Slots are numbered in `UserRef` order, so sorting them sorts the refs.
        let mut slots: Vec<u32> = t
            .dir
            .member_sids
            .iter()
            .filter_map(|sid| users.slot_of.get(sid))
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let wanted = slots.iter().map(|s| &users.refs[*s as usize]);

        // Both sides are sorted by id (`UserRef::Existing` sorts before `New`, and by id
        // within), so one merge finds additions and removals without a lookup per member.
        let mut add: Vec<UserRef> = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        let mut cur = current.into_iter().flatten().map(|c| &**c).peekable();
        for r in wanted {
            let UserRef::Existing(id) = r else {
                add.push(r.clone());
                continue;
            };
            loop {
                match cur.peek() {
                    Some(&c) if c < &**id => {
                        if !untouchable_ids.contains(c) {
                            remove.push(c.to_string());
                        }
                        cur.next();
                    }
                    Some(&c) if c == &**id => {
                        cur.next();
                        break;
                    }
                    _ => {
                        add.push(r.clone());
                        break;
                    }
                }
            }
        }
        remove.extend(
            cur.filter(|c| !untouchable_ids.contains(c))
                .map(|c| c.to_string()),
        );
        if !add.is_empty() {
            // Grown by doubling, a list holds up to twice its members; an initial load keeps
            // a million of them until it is applied.
            add.shrink_to_fit();
            out.operations.push(Operation::AddMembers {
                group: t.group.clone(),
                group_name: t.name.clone(),
                users: add,
                reason: Reason::new(
                    ReasonCode::MemberAdded,
                    "direct or nested members of the group in the directory, not yet members in \
                     Identity Center",
                ),
            });
        }
        if let (false, Some(why)) = (remove.is_empty(), &t.dir.members_partial) {
            out.withheld.push(
                Finding::new(
                    ReasonCode::PartialRead,
                    format!(
                        "group {} ({}): {} member removals withheld, its members were not read \
                         completely: {why}",
                        t.name,
                        t.dir.object_guid,
                        remove.len()
                    ),
                )
                .about(&*t.dir.dn)
                .about(t.dir.object_guid.as_str())
                .about(t.name.as_str()),
            );
            remove.clear();
        }
        if let (false, GroupRef::Existing(group_id)) = (remove.is_empty(), &t.group) {
            out.operations.push(Operation::RemoveMembers {
                group_id: group_id.clone(),
                group_name: t.name.clone(),
                user_ids: remove,
                reason: Reason::new(
                    ReasonCode::MemberLeftGroup,
                    "no longer direct or nested members of the group in the directory, or no \
                     longer users in scope",
                ),
            });
        }
    }
}
