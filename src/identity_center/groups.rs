//! Group reads and writes. Identity Center allows no PUT on groups, so every change is a
//! PATCH with an explicit path; memberships live in `members.rs`.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::counts::RequestKind;
use super::error::ScimError;
use super::filter::{self, FilterAttr};
use super::listing::{decode_each, list_decoded, lookup, Decoded, Listing};
use super::members::{change_members, MAX_MEMBERS_PER_CREATE};
use super::resource::{delete_resource, patch_resource};
use super::transport::{Call, Transport};
use super::wire::{CreateGroupBody, ErrorBody, MemberRef, PatchOperation, WireGroup, GROUP_SCHEMA};
use crate::model::IdcGroup;

/// Every group in the store. `member_ids` is `None`: members are read separately.
pub(super) async fn list_groups(t: &Transport) -> Result<Vec<IdcGroup>, ScimError> {
    let decoded = list_groups_decoded(t).await?;
    for s in &decoded.skipped {
        tracing::warn!("{s}");
    }
    Ok(decoded.items)
}

pub(super) async fn list_groups_decoded(t: &Transport) -> Result<Decoded<IdcGroup>, ScimError> {
    list_decoded(
        t,
        &Listing {
            kind: RequestKind::ListGroups,
            collection: "Groups",
            filter: None,
            operation: "list groups",
            object: "all groups",
        },
        "group",
        WireGroup::into_model,
    )
    .await
}

/// The group whose externalId is `external_id`, found with an `externalId eq` filter.
///
/// Identity Center may not echo a group's externalId on reads; a group the filter
/// returned without one is taken as matching (the filter vouches for it) and returned
/// with `external_id` filled in. A value unfit for a filter is looked for in a listing,
/// which only finds it if the service echoes externalIds.
pub(super) async fn find_group_by_external_id(
    t: &Transport,
    external_id: &str,
) -> Result<Option<IdcGroup>, ScimError> {
    let object = format!("group with externalId {external_id:?}");
    match filter::eq(FilterAttr::ExternalId, external_id) {
        Ok(f) => {
            let found = find_groups(t, &f, &object).await?;
            Ok(found
                .into_iter()
                .find(|g| g.external_id.is_none() || g.external_id.as_deref() == Some(external_id))
                .map(|mut g| {
                    g.external_id = Some(external_id.to_string());
                    g
                }))
        }
        Err(reason) => {
            tracing::debug!(%reason, "finding the group through a listing");
            let groups = list_groups_decoded(t).await?.items;
            Ok(groups
                .into_iter()
                .find(|g| g.external_id.as_deref() == Some(external_id)))
        }
    }
}

/// The group with this displayName (compared case-insensitively: names are unique in
/// Identity Center, assumed regardless of case).
pub(super) async fn find_group_by_display_name(
    t: &Transport,
    display_name: &str,
) -> Result<Option<IdcGroup>, ScimError> {
    let wanted = display_name.to_lowercase();
    let object = format!("group named {display_name:?}");
    let groups = match filter::eq(FilterAttr::DisplayName, display_name) {
        Ok(f) => find_groups(t, &f, &object).await?,
        Err(reason) => {
            tracing::debug!(%reason, "finding the group through a listing");
            list_groups_decoded(t).await?.items
        }
    };
    Ok(groups
        .into_iter()
        .find(|g| g.display_name.to_lowercase() == wanted))
}

async fn find_groups(
    t: &Transport,
    filter: &str,
    object: &str,
) -> Result<Vec<IdcGroup>, ScimError> {
    let resources = lookup(
        t,
        &Listing {
            kind: RequestKind::FindGroup,
            collection: "Groups",
            filter: Some(filter),
            operation: "find group",
            object,
        },
    )
    .await?;
    Ok(decode_each(resources, "group", WireGroup::into_model).items)
}

/// Creates a group carrying our externalId and returns its id.
///
/// A 409 is first taken for this client's own earlier attempt whose answer was lost: the
/// group is looked up by externalId and adopted. Otherwise the 409 is a
/// [`ScimError::Conflict`] naming the group that holds the name.
pub(super) async fn create_group(
    t: &Transport,
    display_name: &str,
    external_id: &str,
) -> Result<String, ScimError> {
    Ok(post_group(t, display_name, external_id, &[]).await?.id())
}

/// Creates a group with its first [`MAX_MEMBERS_PER_CREATE`] members inside the `POST` (one
/// request instead of a create and a PATCH), the rest in PATCHes of 100.
///
/// A group adopted after a 409 (our own earlier attempt whose answer was lost) gets every
/// member sent again by PATCH, since what the lost attempt carried cannot be vouched for;
/// adding a present member is harmless. A 400 on a create that carried members is retried
/// without them and the members then go through the PATCH path, which waits out a user
/// created moments ago that the service does not accept yet.
pub(super) async fn create_group_with_members(
    t: &Transport,
    display_name: &str,
    external_id: &str,
    members: &[String],
) -> Result<String, ScimError> {
    let (first, rest) = members.split_at(members.len().min(MAX_MEMBERS_PER_CREATE));
    match post_group(t, display_name, external_id, first).await {
        Ok(Created::New(id)) => {
            if !rest.is_empty() {
                change_members(t, &id, rest, &[]).await?;
            }
            Ok(id)
        }
        Ok(Created::Adopted(id)) => {
            change_members(t, &id, members, &[]).await?;
            Ok(id)
        }
        Err(ScimError::BadRequest { detail, .. }) if !first.is_empty() => {
            tracing::debug!(
                group = display_name,
                %detail,
                "create with members refused; creating the group empty and adding them by PATCH"
            );
            let id = post_group(t, display_name, external_id, &[]).await?.id();
            change_members(t, &id, members, &[]).await?;
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

/// What a `POST /Groups` led to.
enum Created {
    /// The service created the group (and its members) now.
    New(String),
    /// The create answered 409 (or no id) and a group carrying our externalId was adopted.
    Adopted(String),
}

impl Created {
    fn id(self) -> String {
        match self {
            Created::New(id) | Created::Adopted(id) => id,
        }
    }
}

async fn post_group(
    t: &Transport,
    display_name: &str,
    external_id: &str,
    members: &[String],
) -> Result<Created, ScimError> {
    let object = format!("group {display_name:?} ({external_id})");
    let body = CreateGroupBody {
        schemas: [GROUP_SCHEMA],
        display_name,
        external_id,
        members: members.iter().map(|id| MemberRef { value: id }).collect(),
    };
    let call = Call::new(
        RequestKind::CreateGroup,
        Method::POST,
        t.resource_url(&["Groups"]),
        "create group",
        &object,
    )
    .collection()
    .expect_json()
    .json_body(&body)?;
    let reply = t.send(&call).await?;
    match reply.status {
        s if s.is_success() => {
            let created = serde_json::from_slice::<WireGroup>(&reply.body)
                .ok()
                .and_then(WireGroup::into_model);
            match created {
                Some(g) => {
                    t.note_created(&g.id);
                    Ok(Created::New(g.id))
                }
                None => adopt_group_after_conflict(t, display_name, external_id, &object, None)
                    .await
                    .map(Created::Adopted),
            }
        }
        StatusCode::CONFLICT => {
            let detail = ErrorBody::detail_of(&reply.body);
            adopt_group_after_conflict(t, display_name, external_id, &object, Some(detail))
                .await
                .map(Created::Adopted)
        }
        _ => Err(reply.into_error(&call)),
    }
}

async fn adopt_group_after_conflict(
    t: &Transport,
    display_name: &str,
    external_id: &str,
    object: &str,
    detail: Option<String>,
) -> Result<String, ScimError> {
    let give_up_at = Instant::now() + t.tuning().read_after_write_grace;
    let mut wait = t.tuning().backoff_base;
    let conflict = |detail: String| ScimError::Conflict {
        operation: "create group".to_string(),
        object: object.to_string(),
        detail,
    };
    let adopt = |found: IdcGroup| {
        tracing::info!(
            group = object,
            id = found.id,
            "create answered 409 but the group carries our externalId: adopted"
        );
        t.note_created(&found.id);
        found.id
    };
    loop {
        if let Some(found) = find_group_by_external_id(t, external_id).await? {
            return Ok(adopt(found));
        }
        if let Some(holder) = find_group_by_display_name(t, display_name).await? {
            // It may be ours, become visible between the two lookups: Identity Center does
            // not always return a group's externalId, so only asking again by it tells.
            if holder.external_id.is_none() {
                if let Some(found) = find_group_by_external_id(t, external_id).await? {
                    return Ok(adopt(found));
                }
            }
            return Err(conflict(format!(
                "displayName {:?} is already held by group {} ({})",
                holder.display_name,
                holder.id,
                match &holder.external_id {
                    Some(x) => format!("externalId {x}"),
                    None => "no externalId of ours".to_string(),
                }
            )));
        }
        if Instant::now() + wait > give_up_at {
            break;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(t.tuning().backoff_cap);
    }
    let mut text = "no group with this externalId or displayName is visible".to_string();
    if let Some(d) = detail {
        text.push_str(&format!(" (Identity Center: {d:?})"));
    }
    Err(conflict(text))
}

/// Renames a group in place (PATCH `replace displayName`), keeping its id and so every
/// account assignment.
pub(super) async fn rename_group(
    t: &Transport,
    id: &str,
    display_name: &str,
) -> Result<(), ScimError> {
    let object = format!("group {id} (new name {display_name:?})");
    let op = PatchOperation::replace("displayName", Value::String(display_name.into()));
    let result = patch_group(
        t,
        id,
        &object,
        "rename group",
        RequestKind::UpdateGroup,
        vec![op],
    )
    .await;
    match result {
        Err(ScimError::Conflict {
            operation,
            object,
            detail,
        }) => {
            let detail = match find_group_by_display_name(t, display_name).await {
                Ok(Some(holder)) if holder.id != id => format!(
                    "displayName {:?} is already held by group {}",
                    holder.display_name, holder.id
                ),
                _ => format!("Identity Center: {detail:?}"),
            };
            Err(ScimError::Conflict {
                operation,
                object,
                detail,
            })
        }
        other => other,
    }
}

/// Writes our externalId onto a group (PATCH `replace externalId`): adoption by name.
pub(super) async fn set_group_external_id(
    t: &Transport,
    id: &str,
    external_id: &str,
) -> Result<(), ScimError> {
    let object = format!("group {id} (externalId {external_id})");
    let op = PatchOperation::replace("externalId", Value::String(external_id.into()));
    patch_group(
        t,
        id,
        &object,
        "set group externalId",
        RequestKind::UpdateGroup,
        vec![op],
    )
    .await
}

async fn patch_group(
    t: &Transport,
    id: &str,
    object: &str,
    operation: &str,
    kind: RequestKind,
    operations: Vec<PatchOperation>,
) -> Result<(), ScimError> {
    patch_resource(t, "Groups", id, kind, operation, object, operations).await
}

/// Deletes a group; a 404 means it is already gone, which is what was wanted.
pub(super) async fn delete_group(t: &Transport, id: &str) -> Result<(), ScimError> {
    let object = format!("group {id}");
    delete_resource(
        t,
        "Groups",
        id,
        RequestKind::DeleteGroup,
        "delete group",
        &object,
    )
    .await
}
