use std::collections::HashMap;
use std::fmt::Write as _;

use crate::model::{Finding, Summary};
use crate::plan::{GroupRef, Operation, Plan};

/// Members listed by name in a membership line before the rest are only counted.
const MEMBERS_SHOWN: usize = 5;

/// The plan as a person reads it: one line per operation, `+` adds, `~` changes, `-` takes
/// away, each with its reason and code, then conflicts and skipped entries, which need a
/// person's attention.
///
/// `user_names` maps the ids and objectSids the plan refers to onto userNames (see
/// `PassReport::user_names`); unknown ones are shown as they are.
pub fn plan_text(plan: &Plan, user_names: &HashMap<String, String>) -> String {
    let mut out = String::new();
    if plan.operations.is_empty() {
        out.push_str("No changes: Identity Center matches the directory.\n");
    } else {
        let _ = writeln!(out, "Plan: {} change(s)", plan.operations.len());
        for op in &plan.operations {
            let reason = op.reason();
            let _ = writeln!(
                out,
                "  {} — {} [{}]",
                operation_line(op, user_names),
                reason.text,
                reason.code
            );
        }
    }
    section(
        &mut out,
        "Conflicts (objects the sync does not own; resolve by hand)",
        &plan.conflicts,
    );
    section(
        &mut out,
        "Skipped directory entries (Identity Center would reject them)",
        &plan.skipped,
    );
    section(&mut out, "Left for a later pass", &plan.notes);
    out
}

fn section(out: &mut String, title: &str, lines: &[Finding]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}: {}", lines.len());
    for line in lines {
        let _ = writeln!(out, "  ! {} [{}]", line.text, line.code);
    }
}

fn operation_line(op: &Operation, names: &HashMap<String, String>) -> String {
    let name = |key: &str| -> String { names.get(key).cloned().unwrap_or_else(|| key.to_string()) };
    match op {
        Operation::CreateUser { user, .. } => {
            let state = if user.active { "" } else { " (disabled)" };
            format!(
                "+ create user {} ({}){state}",
                user.user_name, user.external_id
            )
        }
        Operation::UpdateUser { user, changed, .. } => {
            let fields: Vec<&str> = changed.iter().map(|f| f.scim_name()).collect();
            format!("~ update user {}: {}", user.user_name, fields.join(", "))
        }
        Operation::DisableUser {
            user_name,
            external_id,
            ..
        } => {
            format!("- disable user {user_name} ({external_id})")
        }
        Operation::DeleteUser {
            user_name,
            external_id,
            ..
        } => {
            format!("- delete user {user_name} ({external_id})")
        }
        Operation::CreateGroup {
            display_name,
            external_id,
            ..
        } => {
            format!("+ create group {display_name} ({external_id})")
        }
        Operation::RenameGroup { from, to, .. } => format!("~ rename group {from} -> {to}"),
        Operation::AdoptGroup {
            display_name,
            external_id,
            ..
        } => {
            format!("~ adopt group {display_name} (set externalId {external_id})")
        }
        Operation::DeleteGroup {
            display_name,
            external_id,
            ..
        } => {
            format!("- delete group {display_name} ({external_id})")
        }
        Operation::AddMembers {
            group,
            group_name,
            users,
            ..
        } => {
            let new_group = matches!(group, GroupRef::New(_));
            format!(
                "+ add {} member(s) to {group_name}{}: {}",
                users.len(),
                if new_group { " (new group)" } else { "" },
                member_list(users.iter().map(|u| name(u.as_str())))
            )
        }
        Operation::RemoveMembers {
            group_name,
            user_ids,
            ..
        } => format!(
            "- remove {} member(s) from {group_name}: {}",
            user_ids.len(),
            member_list(user_ids.iter().map(|id| name(id)))
        ),
        Operation::SetManager {
            user_name,
            manager_name,
            ..
        } => format!("~ set manager of user {user_name}: {manager_name} (created in this pass)"),
    }
}

fn member_list(members: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = members.collect();
    let mut shown = all
        .iter()
        .take(MEMBERS_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > MEMBERS_SHOWN {
        let _ = write!(shown, " and {} more", all.len() - MEMBERS_SHOWN);
    }
    shown
}

/// The outcome of a pass in a few lines, failures spelled out.
pub fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let mode = if s.dry_run { "Dry run" } else { "Pass" };
    let state = if s.incomplete {
        " (incomplete: stopped before the deadline; the next pass continues)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{mode} finished in {} ms{state} (scim-sync {})",
        s.duration_ms, s.version
    );
    if !s.pass_id.is_empty() {
        let _ = writeln!(out, "  pass id: {} (in every audit record)", s.pass_id);
    }
    if s.dry_run {
        out.push_str("  (nothing was written; the counts are what a pass would do)\n");
    }
    let _ = writeln!(
        out,
        "  users: {} created, {} updated, {} disabled, {} deleted",
        s.users_created, s.users_updated, s.users_disabled, s.users_deleted
    );
    let _ = writeln!(
        out,
        "  groups: {} created, {} updated, {} deleted; members: {} added, {} removed",
        s.groups_created, s.groups_updated, s.groups_deleted, s.members_added, s.members_removed
    );
    let _ = writeln!(
        out,
        "  SCIM requests: {} reads, {} writes",
        s.scim_reads, s.scim_writes
    );
    if let Some(i) = &s.incremental {
        let saved = if i.saved { "saved" } else { "not saved" };
        let _ = writeln!(
            out,
            "  incremental: {} on {} (USN {} → {}, watermark {saved}); changed: {} users, {} \
             groups; scope: {} joined, {} left; planned: {} users, {} groups; {} LDAP searches",
            i.mode,
            i.dc,
            i.from_usn
                .map_or_else(|| "-".to_string(), |u| u.to_string()),
            i.to_usn,
            i.changed_users,
            i.changed_groups,
            i.joined_scope,
            i.left_scope,
            i.affected_users,
            i.affected_groups,
            i.ldap_searches
        );
        if let Some(f) = &i.fallback {
            let _ = writeln!(out, "  ran as a full pass [{}]: {}", f.code, f.text);
        }
    }
    if s.token_rejected {
        out.push_str(
            "  The SCIM token was rejected: rotate it (see the README, \"Rotate the token\").\n",
        );
    }
    section(&mut out, "Held back by a safety guard", &s.withheld);
    section(
        &mut out,
        "Cut short by the deadline (the next pass finishes them)",
        &s.unfinished,
    );
    section(&mut out, "Conflicts", &s.conflicts);
    section(&mut out, "Skipped", &s.skipped);
    if !s.failures.is_empty() {
        let _ = writeln!(out, "Failures: {}", s.failures.len());
        for f in &s.failures {
            let _ = writeln!(out, "  x {} {}: {}", f.operation, f.target, f.error);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Reason, ReasonCode};
    use crate::plan::UserRef;

    #[test]
    fn a_manager_set_in_the_pass_reads_as_a_change_with_its_reason() {
        let plan = Plan {
            operations: vec![Operation::SetManager {
                user: UserRef::New("S-1-5-21-1-2-3-1001".into()),
                user_name: "jane@example.com".into(),
                manager: UserRef::New("S-1-5-21-1-2-3-1002".into()),
                manager_name: "boss@example.com".into(),
                from: None,
                reason: Reason::new(ReasonCode::ManagerCreatedThisPass, "the manager is new"),
            }],
            ..Plan::default()
        };
        let text = plan_text(&plan, &HashMap::new());
        assert!(
            text.contains(
                "~ set manager of user jane@example.com: boss@example.com (created in this pass) \
                 — the manager is new [managerCreatedThisPass]"
            ),
            "{text}"
        );
    }
}
