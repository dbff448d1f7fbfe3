//! User reads and writes.

use std::collections::BTreeSet;
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::attributes::patch_operations;
use super::counts::RequestKind;
use super::error::ScimError;
use super::filter::{self, FilterAttr};
use super::listing::{decode_each, list_decoded, lookup, Decoded, Listing};
use super::resource::{delete_resource, patch_resource};
use super::transport::{Call, Transport};
use super::wire::{CreateUserBody, EmailBody, PatchOperation, WireUser};
use crate::model::settings::UserAttribute;
use crate::model::{IdcUser, SharedStrings};
use crate::model::{UserAttributes, UserField};

/// How a user is named in messages: userName and anchor, never anything secret.
pub(super) fn describe_user(user_name: &str, external_id: &str) -> String {
    format!("user {user_name} ({external_id})")
}

/// Every user in the store, SCIM-made or not. Users without an id are skipped (logged).
pub(super) async fn list_users(t: &Transport) -> Result<Vec<IdcUser>, ScimError> {
    let decoded = list_users_decoded(t).await?;
    for s in &decoded.skipped {
        tracing::warn!("{s}");
    }
    Ok(decoded.items)
}

pub(super) async fn list_users_decoded(t: &Transport) -> Result<Decoded<IdcUser>, ScimError> {
    list_users_shared(t, &SharedStrings::default()).await
}

/// [`list_users_decoded`], with ids and attribute values shared through `shared` (a whole
/// read's pool, so a user's id is one copy with its entries in the member listings).
pub(super) async fn list_users_shared(
    t: &Transport,
    shared: &SharedStrings,
) -> Result<Decoded<IdcUser>, ScimError> {
    list_decoded(
        t,
        &Listing {
            kind: RequestKind::ListUsers,
            collection: "Users",
            filter: None,
            operation: "list users",
            object: "all users",
        },
        "user",
        |w: WireUser| w.into_model_shared(shared),
    )
    .await
}

/// The user whose externalId is exactly `external_id`. A value that cannot be put in a
/// filter is looked for in a full listing instead.
pub(super) async fn find_user_by_external_id(
    t: &Transport,
    external_id: &str,
) -> Result<Option<IdcUser>, ScimError> {
    let matches = |u: &IdcUser| u.external_id.as_deref() == Some(external_id);
    find_user(t, FilterAttr::ExternalId, external_id, matches).await
}

/// The user with this userName (compared case-insensitively, as Identity Center's
/// uniqueness is assumed to be).
pub(super) async fn find_user_by_user_name(
    t: &Transport,
    user_name: &str,
) -> Result<Option<IdcUser>, ScimError> {
    let wanted = user_name.to_lowercase();
    let matches = |u: &IdcUser| u.user_name.to_lowercase() == wanted;
    find_user(t, FilterAttr::UserName, user_name, matches).await
}

async fn find_user(
    t: &Transport,
    attr: FilterAttr,
    value: &str,
    matches: impl Fn(&IdcUser) -> bool,
) -> Result<Option<IdcUser>, ScimError> {
    let object = format!("user with {attr} {value:?}");
    let users = match filter::eq(attr, value) {
        Ok(f) => {
            let resources = lookup(
                t,
                &Listing {
                    kind: RequestKind::FindUser,
                    collection: "Users",
                    filter: Some(&f),
                    operation: "find user",
                    object: &object,
                },
            )
            .await?;
            decode_each(resources, "user", WireUser::into_model).items
        }
        Err(reason) => {
            tracing::debug!(%reason, "finding the user through a listing");
            list_users_decoded(t).await?.items
        }
    };
    Ok(users.into_iter().find(|u| matches(u)))
}

/// Creates a user and returns its id.
///
/// A 409 is first taken for this client's own earlier attempt whose answer was lost: the
/// user is looked up by externalId and adopted only if the externalId matches exactly.
/// Otherwise the 409 is a [`ScimError::Conflict`] naming what collides.
pub(super) async fn create_user(t: &Transport, user: &UserAttributes) -> Result<String, ScimError> {
    let object = describe_user(&user.user_name, &user.external_id);
    let call = Call::new(
        RequestKind::CreateUser,
        Method::POST,
        t.resource_url(&["Users"]),
        "create user",
        &object,
    )
    .collection()
    .expect_json()
    .json_body(&CreateUserBody::from_attributes(user))?;
    let reply = t.send(&call).await?;
    match reply.status {
        s if s.is_success() => {
            let created = serde_json::from_slice::<WireUser>(&reply.body)
                .ok()
                .and_then(WireUser::into_model);
            match created {
                Some(u) => {
                    t.note_created(&u.id);
                    Ok(u.id.to_string())
                }
                // Created, but the answer has no id: find it by its anchor.
                None => adopt_user_after_conflict(t, user, &object, None).await,
            }
        }
        StatusCode::CONFLICT => {
            let detail = super::wire::ErrorBody::detail_of(&reply.body);
            adopt_user_after_conflict(t, user, &object, Some(detail)).await
        }
        _ => Err(reply.into_error(&call)),
    }
}

/// After a 409 (or an id-less success): adopt the user carrying our externalId, or report
/// the collision. The lookup is repeated for the read-after-write grace, because the
/// user our lost attempt created may not be visible to reads yet.
async fn adopt_user_after_conflict(
    t: &Transport,
    user: &UserAttributes,
    object: &str,
    detail: Option<String>,
) -> Result<String, ScimError> {
    let give_up_at = Instant::now() + t.tuning().read_after_write_grace;
    let mut wait = t.tuning().backoff_base;
    let adopt = |found: IdcUser| {
        tracing::info!(
            user = object,
            id = &*found.id,
            "create answered 409 but the user carries our externalId: adopted"
        );
        t.note_created(&found.id);
        found.id.to_string()
    };
    loop {
        if let Some(found) = find_user_by_external_id(t, &user.external_id).await? {
            return Ok(adopt(found));
        }
        // Someone else holding the userName explains the 409 at once: no point waiting.
        if let Some(holder) = find_user_by_user_name(t, &user.user_name).await? {
            if holder.external_id.as_deref() == Some(user.external_id.as_str()) {
                // Became visible between the two lookups.
                return Ok(adopt(holder));
            }
            return Err(ScimError::Conflict {
                operation: "create user".to_string(),
                object: object.to_string(),
                detail: format!(
                    "userName {:?} is already held by user {} (externalId {})",
                    holder.user_name,
                    holder.id,
                    holder.external_id.as_deref().unwrap_or("none")
                ),
            });
        }
        if Instant::now() + wait > give_up_at {
            break;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(t.tuning().backoff_cap);
    }
    let mut what =
        String::from("no user with this externalId or userName is visible, so the primary email");
    match &user.email {
        Some(email) => what.push_str(&format!(" {email:?} is probably held by another user")),
        None => what = "no user with this externalId or userName is visible".to_string(),
    }
    if let Some(d) = detail {
        what.push_str(&format!(" (Identity Center: {d:?})"));
    }
    Err(ScimError::Conflict {
        operation: "create user".to_string(),
        object: object.to_string(),
        detail: what,
    })
}

/// Sends only the `changed` attributes of `user`, one `replace` per attribute with an
/// explicit path (an absent email is removed). Nothing changed: no request.
pub(super) async fn update_user(
    t: &Transport,
    id: &str,
    user: &UserAttributes,
    changed: &[UserField],
) -> Result<(), ScimError> {
    let fields: BTreeSet<UserField> = changed.iter().copied().collect();
    let optional: BTreeSet<UserAttribute> = fields
        .iter()
        .filter_map(|f| match f {
            UserField::Attribute(a) => Some(*a),
            _ => None,
        })
        .collect();
    // One PATCH for everything: core attributes, then the optional ones (set or removed).
    let mut operations: Vec<PatchOperation> = fields
        .iter()
        .filter_map(|field| patch_for(*field, user))
        .collect();
    operations.extend(
        patch_operations(&optional, &user.attributes)
            .into_iter()
            .map(|c| match c.value {
                Some(v) => PatchOperation::replace(c.path, v),
                None => PatchOperation::remove(c.path),
            }),
    );
    if operations.is_empty() {
        return Ok(());
    }
    let object = format!(
        "{} [id {id}]",
        describe_user(&user.user_name, &user.external_id)
    );
    let result = patch_user(t, id, &object, "update user", operations).await;
    match result {
        Err(ScimError::Conflict {
            operation,
            object,
            detail,
        }) => Err(ScimError::Conflict {
            detail: explain_user_conflict(t, id, user, &fields, detail).await,
            operation,
            object,
        }),
        other => other,
    }
}

/// Names the user holding the userName an update collided on, when it can be found;
/// otherwise the collision is on the email (which no filter can look up).
async fn explain_user_conflict(
    t: &Transport,
    id: &str,
    user: &UserAttributes,
    fields: &BTreeSet<UserField>,
    detail: String,
) -> String {
    if fields.contains(&UserField::UserName) {
        if let Ok(Some(holder)) = find_user_by_user_name(t, &user.user_name).await {
            if &*holder.id != id {
                return format!(
                    "userName {:?} is already held by user {} (externalId {})",
                    holder.user_name,
                    holder.id,
                    holder.external_id.as_deref().unwrap_or("none")
                );
            }
        }
    }
    match (&user.email, fields.contains(&UserField::Email)) {
        (Some(email), true) => format!(
            "the email {email:?} is probably held by another user (Identity Center: {detail:?})"
        ),
        _ => format!("Identity Center: {detail:?}"),
    }
}

/// Points a user's `enterprise.manager` at `manager_id`: the same PATCH operation an
/// update that changes the manager sends, alone.
pub(super) async fn set_manager(
    t: &Transport,
    id: &str,
    manager_id: &str,
) -> Result<(), ScimError> {
    let object = format!("user {id}");
    let changed = BTreeSet::from([UserAttribute::Manager]);
    let values =
        crate::model::AttributeValues::from_iter([(UserAttribute::Manager, manager_id.into())]);
    let ops = patch_operations(&changed, &values)
        .into_iter()
        .map(|c| match c.value {
            Some(v) => PatchOperation::replace(c.path, v),
            None => PatchOperation::remove(c.path),
        })
        .collect();
    patch_user(t, id, &object, "set manager", ops).await
}

/// Enables or disables a user (PATCH `replace active`).
pub(super) async fn set_user_active(
    t: &Transport,
    id: &str,
    active: bool,
) -> Result<(), ScimError> {
    let object = format!("user {id}");
    let operation = if active {
        "enable user"
    } else {
        "disable user"
    };
    let ops = vec![PatchOperation::replace("active", Value::Bool(active))];
    patch_user(t, id, &object, operation, ops).await
}

async fn patch_user(
    t: &Transport,
    id: &str,
    object: &str,
    operation: &str,
    operations: Vec<PatchOperation>,
) -> Result<(), ScimError> {
    patch_resource(
        t,
        "Users",
        id,
        RequestKind::UpdateUser,
        operation,
        object,
        operations,
    )
    .await
}

/// Deletes a user; a 404 means it is already gone, which is what was wanted.
pub(super) async fn delete_user(t: &Transport, id: &str) -> Result<(), ScimError> {
    let object = format!("user {id}");
    delete_resource(
        t,
        "Users",
        id,
        RequestKind::DeleteUser,
        "delete user",
        &object,
    )
    .await
}

/// The PATCH operation that sets one attribute to its value in `user`.
/// (The optional attributes are built together, by [`patch_operations`].)
fn patch_for(field: UserField, user: &UserAttributes) -> Option<PatchOperation> {
    Some(match field {
        UserField::UserName => PatchOperation::replace("userName", json!(user.user_name)),
        UserField::DisplayName => PatchOperation::replace("displayName", json!(user.display_name)),
        UserField::GivenName => PatchOperation::replace("name.givenName", json!(user.given_name)),
        UserField::FamilyName => {
            PatchOperation::replace("name.familyName", json!(user.family_name))
        }
        UserField::Email => match &user.email {
            Some(email) => PatchOperation::replace("emails", json!([EmailBody::work(email)])),
            None => PatchOperation::remove("emails"),
        },
        UserField::Active => PatchOperation::replace("active", json!(user.active)),
        UserField::Attribute(_) => return None,
    })
}

#[cfg(test)]
mod tests {

    use super::*;

    fn attrs() -> UserAttributes {
        UserAttributes {
            external_id: "S-1-5-21-1-2-3-1001".into(),
            user_name: "alice@example.com".into(),
            display_name: "Alice Liddell".into(),
            given_name: "Alice".into(),
            family_name: "Liddell".into(),
            email: Some("alice@example.com".into()),
            active: false,
            attributes: Default::default(),
        }
    }

    #[test]
    fn each_field_has_an_explicit_path() {
        let u = attrs();
        let ops: Vec<Value> = UserField::CORE
            .into_iter()
            .map(|f| serde_json::to_value(patch_for(f, &u).unwrap()).unwrap())
            .collect();
        assert_eq!(
            ops,
            vec![
                json!({"op":"replace","path":"userName","value":"alice@example.com"}),
                json!({"op":"replace","path":"displayName","value":"Alice Liddell"}),
                json!({"op":"replace","path":"name.givenName","value":"Alice"}),
                json!({"op":"replace","path":"name.familyName","value":"Liddell"}),
                json!({"op":"replace","path":"emails",
                       "value":[{"value":"alice@example.com","type":"work","primary":true}]}),
                json!({"op":"replace","path":"active","value":false}),
            ]
        );
        let no_mail = UserAttributes {
            email: None,
            ..attrs()
        };
        assert_eq!(
            serde_json::to_value(patch_for(UserField::Email, &no_mail).unwrap()).unwrap(),
            json!({"op":"remove","path":"emails"})
        );
    }
}
