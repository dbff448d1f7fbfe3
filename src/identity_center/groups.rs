//! Group reads and writes. Identity Center allows no PUT on groups, so every change is a
//! PATCH with an explicit path; memberships live in `members.rs`.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::client::ScimClient;
use super::counts::RequestKind;
use super::error::ScimError;
use super::filter::{self, FilterAttr};
use super::http::Call;
use super::listing::{decode_each, Decoded, Listing};
use super::wire::{CreateGroupBody, ErrorBody, PatchOperation, WireGroup, GROUP_SCHEMA};
use crate::model::IdcGroup;

impl ScimClient {
    /// Every group in the store. `member_ids` is `None`: members are read separately.
    pub async fn list_groups(&self) -> Result<Vec<IdcGroup>, ScimError> {
        let decoded = self.list_groups_decoded().await?;
        for s in &decoded.skipped {
            tracing::warn!("{s}");
        }
        Ok(decoded.items)
    }

    pub(crate) async fn list_groups_decoded(&self) -> Result<Decoded<IdcGroup>, ScimError> {
        self.list_decoded(
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
    pub async fn find_group_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<IdcGroup>, ScimError> {
        let object = format!("group with externalId {external_id:?}");
        match filter::eq(FilterAttr::ExternalId, external_id) {
            Ok(f) => {
                let found = self.find_groups(&f, &object).await?;
                Ok(found
                    .into_iter()
                    .find(|g| {
                        g.external_id.is_none() || g.external_id.as_deref() == Some(external_id)
                    })
                    .map(|mut g| {
                        g.external_id = Some(external_id.to_string());
                        g
                    }))
            }
            Err(reason) => {
                tracing::debug!(%reason, "finding the group through a listing");
                let groups = self.list_groups_decoded().await?.items;
                Ok(groups
                    .into_iter()
                    .find(|g| g.external_id.as_deref() == Some(external_id)))
            }
        }
    }

    /// The group with this displayName (compared case-insensitively: names are unique in
    /// Identity Center, assumed regardless of case).
    pub async fn find_group_by_display_name(
        &self,
        display_name: &str,
    ) -> Result<Option<IdcGroup>, ScimError> {
        let wanted = display_name.to_lowercase();
        let object = format!("group named {display_name:?}");
        let groups = match filter::eq(FilterAttr::DisplayName, display_name) {
            Ok(f) => self.find_groups(&f, &object).await?,
            Err(reason) => {
                tracing::debug!(%reason, "finding the group through a listing");
                self.list_groups_decoded().await?.items
            }
        };
        Ok(groups
            .into_iter()
            .find(|g| g.display_name.to_lowercase() == wanted))
    }

    async fn find_groups(&self, filter: &str, object: &str) -> Result<Vec<IdcGroup>, ScimError> {
        let resources = self
            .lookup(&Listing {
                kind: RequestKind::FindGroup,
                collection: "Groups",
                filter: Some(filter),
                operation: "find group",
                object,
            })
            .await?;
        Ok(decode_each(resources, "group", WireGroup::into_model).items)
    }

    /// Creates a group carrying our externalId and returns its id.
    ///
    /// A 409 is first taken for this client's own earlier attempt whose answer was lost: the
    /// group is looked up by externalId and adopted. Otherwise the 409 is a
    /// [`ScimError::Conflict`] naming the group that holds the name.
    pub async fn create_group(
        &self,
        display_name: &str,
        external_id: &str,
    ) -> Result<String, ScimError> {
        let object = format!("group {display_name:?} ({external_id})");
        let body = CreateGroupBody {
            schemas: [GROUP_SCHEMA],
            display_name,
            external_id,
        };
        let call = Call::new(
            RequestKind::CreateGroup,
            Method::POST,
            self.resource_url(&["Groups"]),
            "create group",
            &object,
        )
        .collection()
        .expect_json()
        .json_body(&body)?;
        let reply = self.send(&call).await?;
        match reply.status {
            s if s.is_success() => {
                let created = serde_json::from_slice::<WireGroup>(&reply.body)
                    .ok()
                    .and_then(WireGroup::into_model);
                match created {
                    Some(g) => {
                        self.note_created(&g.id);
                        Ok(g.id)
                    }
                    None => {
                        self.adopt_group_after_conflict(display_name, external_id, &object, None)
                            .await
                    }
                }
            }
            StatusCode::CONFLICT => {
                let detail = ErrorBody::detail_of(&reply.body);
                self.adopt_group_after_conflict(display_name, external_id, &object, Some(detail))
                    .await
            }
            _ => Err(reply.into_error(&call)),
        }
    }

    async fn adopt_group_after_conflict(
        &self,
        display_name: &str,
        external_id: &str,
        object: &str,
        detail: Option<String>,
    ) -> Result<String, ScimError> {
        let give_up_at = Instant::now() + self.inner.tuning.read_after_write_grace;
        let mut wait = self.inner.tuning.backoff_base;
        let conflict = |detail: String| ScimError::Conflict {
            operation: "create group".to_string(),
            object: object.to_string(),
            detail,
        };
        loop {
            if let Some(found) = self.find_group_by_external_id(external_id).await? {
                tracing::info!(
                    group = object,
                    id = found.id,
                    "create answered 409 but the group carries our externalId: adopted"
                );
                self.note_created(&found.id);
                return Ok(found.id);
            }
            if let Some(holder) = self.find_group_by_display_name(display_name).await? {
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
            wait = (wait * 2).min(self.inner.tuning.backoff_cap);
        }
        let mut text = "no group with this externalId or displayName is visible".to_string();
        if let Some(d) = detail {
            text.push_str(&format!(" (Identity Center: {d:?})"));
        }
        Err(conflict(text))
    }

    /// Renames a group in place (PATCH `replace displayName`), keeping its id and so every
    /// account assignment.
    pub async fn rename_group(&self, id: &str, display_name: &str) -> Result<(), ScimError> {
        let object = format!("group {id} (new name {display_name:?})");
        let op = PatchOperation::replace("displayName", Value::String(display_name.into()));
        let result = self
            .patch_group(
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
                let detail = match self.find_group_by_display_name(display_name).await {
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
    pub async fn set_group_external_id(
        &self,
        id: &str,
        external_id: &str,
    ) -> Result<(), ScimError> {
        let object = format!("group {id} (externalId {external_id})");
        let op = PatchOperation::replace("externalId", Value::String(external_id.into()));
        self.patch_group(
            id,
            &object,
            "set group externalId",
            RequestKind::UpdateGroup,
            vec![op],
        )
        .await
    }

    async fn patch_group(
        &self,
        id: &str,
        object: &str,
        operation: &str,
        kind: RequestKind,
        operations: Vec<PatchOperation>,
    ) -> Result<(), ScimError> {
        self.patch_resource("Groups", id, kind, operation, object, operations)
            .await
    }

    /// Deletes a group; a 404 means it is already gone, which is what was wanted.
    pub async fn delete_group(&self, id: &str) -> Result<(), ScimError> {
        let object = format!("group {id}");
        self.delete_resource(
            "Groups",
            id,
            RequestKind::DeleteGroup,
            "delete group",
            &object,
        )
        .await
    }
}
