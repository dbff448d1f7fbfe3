//! Group memberships.
//!
//! Identity Center never returns members on a group read, allows no PUT on groups, rejects
//! `replace` on members and caps a PATCH at 100 membership changes. So members are read
//! through `groups.value eq` on `/Users`, and changed with `add`/`remove` on `path: "members"`
//! in chunks of at most [`MAX_MEMBER_CHANGES_PER_PATCH`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::counts::RequestKind;
use super::error::ScimError;
use super::filter::{self, FilterAttr};
use super::listing::{for_each_page, Listing};
use super::transport::{Call, Transport};
use super::wire::{PatchBody, PatchOperation};
use crate::model::SharedStrings;

/// Identity Center's limit on membership changes in one PATCH, summed over its operations.
pub const MAX_MEMBER_CHANGES_PER_PATCH: usize = 100;

/// Identity Center's limit on members in one `POST /Groups` (CreateGroup).
pub const MAX_MEMBERS_PER_CREATE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MemberOp {
    Add,
    Remove,
}

impl MemberOp {
    fn as_str(self) -> &'static str {
        match self {
            MemberOp::Add => "add",
            MemberOp::Remove => "remove",
        }
    }

    fn operation(self) -> &'static str {
        match self {
            MemberOp::Add => "add members",
            MemberOp::Remove => "remove members",
        }
    }
}

/// The ids of a group's members, through `groups.value eq "<id>"` on `/Users` with cursor
/// paging (the only SCIM read of memberships; group reads return no members).
pub(super) async fn group_member_ids(
    t: &Transport,
    group_id: &str,
) -> Result<BTreeSet<Arc<str>>, ScimError> {
    group_member_ids_shared(t, group_id, &SharedStrings::default()).await
}

/// [`Self::group_member_ids`], with ids shared through `interner` across the groups of
/// one read.
pub(super) async fn group_member_ids_shared(
    t: &Transport,
    group_id: &str,
    interner: &SharedStrings,
) -> Result<BTreeSet<Arc<str>>, ScimError> {
    let f = filter::eq(FilterAttr::GroupsValue, group_id)?;
    let object = format!("group {group_id}");
    let mut ids = Vec::new();
    let listing = Listing {
        kind: RequestKind::ListMembers,
        collection: "Users",
        filter: Some(&f),
        operation: "read group members",
        object: &object,
    };
    // Only the id is needed; a member whose other attributes are odd still counts.
    for_each_page(t, &listing, |page| {
        let page_ids = page
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_str))
            .filter(|id| !id.is_empty())
            .map(|id| interner.share(id));
        ids.extend(page_ids);
    })
    .await?;
    // Built in one go from sorted input, a B-tree's nodes are full: about 17 bytes per
    // member instead of ~28 when inserted one by one (10 MB at a million memberships).
    Ok(ids.into_iter().collect())
}

/// Adds users to a group, at most [`MAX_MEMBER_CHANGES_PER_PATCH`] per request.
/// Adding a present member is fine whether or not the service treats it as an error.
pub(super) async fn add_members(
    t: &Transport,
    group_id: &str,
    user_ids: &[String],
) -> Result<(), ScimError> {
    change_members(t, group_id, user_ids, &[]).await
}

/// Removes users from a group, chunked like [`Self::add_members`]. Removing a non-member
/// is fine whether or not the service treats it as an error.
pub(super) async fn remove_members(
    t: &Transport,
    group_id: &str,
    user_ids: &[String],
) -> Result<(), ScimError> {
    change_members(t, group_id, &[], user_ids).await
}

/// Adds and removes in the same requests: one PATCH carries up to 100 changes of both
/// kinds (Identity Center's limit is summed over operations), so a group that gains and
/// loses members costs one request per 100 changes, not one per kind. Each PATCH is
/// applied as a whole, so no member is ever left with less access than before or after.
pub(super) async fn change_members(
    t: &Transport,
    group_id: &str,
    add: &[String],
    remove: &[String],
) -> Result<(), ScimError> {
    let mut seen = BTreeSet::new();
    let changes: Vec<(MemberOp, String)> = add
        .iter()
        .map(|id| (MemberOp::Add, id))
        .chain(remove.iter().map(|id| (MemberOp::Remove, id)))
        .filter(|(op, id)| seen.insert((*op, id.as_str())))
        .map(|(op, id)| (op, id.clone()))
        .collect();
    for (i, chunk) in changes.chunks(MAX_MEMBER_CHANGES_PER_PATCH).enumerate() {
        // Between PATCHes, not inside one: each PATCH is applied whole, so a change cut
        // here leaves the group consistent, and the next pass sends what is missing.
        if i > 0 && t.deadline_passed() {
            let sent = i * MAX_MEMBER_CHANGES_PER_PATCH;
            return Err(ScimError::DeadlineReached {
                operation: "change members".to_string(),
                object: format!("group {group_id}"),
                detail: format!(
                    "{sent} of {} member changes were sent before the deadline",
                    changes.len()
                ),
            });
        }
        change_member_chunk(t, group_id, chunk).await?;
    }
    Ok(())
}

/// One PATCH. On a 400 the group's members are re-read: if the refused changes are
/// already in effect (a re-added member, a removed non-member, or an earlier attempt
/// whose answer was lost) that is success; if only some are, the rest is sent again.
/// A refusal that involves a user or group this client created moments ago is retried
/// for the read-after-write grace (a new user may not be addable yet).
async fn change_member_chunk(
    t: &Transport,
    group_id: &str,
    chunk: &[(MemberOp, String)],
) -> Result<(), ScimError> {
    let grace_until = std::iter::once(group_id)
        .chain(chunk.iter().map(|(_, id)| id.as_str()))
        .filter_map(|id| t.not_found_grace(id))
        .max();
    let mut wait = t.tuning().backoff_base;
    let mut pending: Vec<(MemberOp, String)> = chunk.to_vec();
    loop {
        let object = format!("group {group_id} ({} users)", pending.len());
        let Err(refused) = send_member_patch(t, group_id, &pending, &object).await? else {
            return Ok(());
        };
        let current = group_member_ids(t, group_id).await?;
        let outstanding: Vec<(MemberOp, String)> = pending
            .iter()
            .filter(|(op, id)| match op {
                MemberOp::Add => !current.contains(id.as_str()),
                MemberOp::Remove => current.contains(id.as_str()),
            })
            .cloned()
            .collect();
        if outstanding.is_empty() {
            tracing::debug!(
                group = group_id,
                "member change refused with 400 but already in effect"
            );
            return Ok(());
        }
        if outstanding.len() == pending.len() {
            // Nothing explains the refusal, unless something in it is brand new.
            if grace_until.is_none_or(|until| Instant::now() + wait >= until) {
                return Err(refused);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(t.tuning().backoff_cap);
        }
        pending = outstanding;
    }
}

/// `Ok(Ok(()))` on success, `Ok(Err(_))` on a 400 the caller may reconcile, `Err` else.
async fn send_member_patch(
    t: &Transport,
    group_id: &str,
    changes: &[(MemberOp, String)],
    object: &str,
) -> Result<Result<(), ScimError>, ScimError> {
    let ids_for = |wanted: MemberOp| -> Vec<String> {
        changes
            .iter()
            .filter(|(op, _)| *op == wanted)
            .map(|(_, id)| id.clone())
            .collect()
    };
    let (add, remove) = (ids_for(MemberOp::Add), ids_for(MemberOp::Remove));
    let operation = match (add.is_empty(), remove.is_empty()) {
        (false, true) => MemberOp::Add.operation(),
        (true, false) => MemberOp::Remove.operation(),
        _ => "change members",
    };
    let operations = [(MemberOp::Add, &add), (MemberOp::Remove, &remove)]
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(op, ids)| PatchOperation::members(op.as_str(), ids))
        .collect();
    let call = Call::new(
        RequestKind::PatchMembers,
        Method::PATCH,
        t.resource_url(&["Groups", group_id]),
        operation,
        object,
    )
    .grace_until(t.not_found_grace(group_id))
    .json_body(&PatchBody::new(operations))?;
    let reply = t.send(&call).await?;
    match reply.status {
        s if s.is_success() => Ok(Ok(())),
        StatusCode::BAD_REQUEST => Ok(Err(reply.into_error(&call))),
        _ => Err(reply.into_error(&call)),
    }
}
