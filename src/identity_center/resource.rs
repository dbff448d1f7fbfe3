//! Writes that are the same for users and groups: a PATCH of one resource, a DELETE of one.

use reqwest::{Method, StatusCode};

use super::counts::RequestKind;
use super::error::ScimError;
use super::transport::{Call, Transport};
use super::wire::{PatchBody, PatchOperation};

/// PATCHes `collection/id`. Users answer 200 with the user, groups 204: both mean done,
/// and the body is not needed.
pub(super) async fn patch_resource(
    t: &Transport,
    collection: &str,
    id: &str,
    kind: RequestKind,
    operation: &str,
    object: &str,
    operations: Vec<PatchOperation>,
) -> Result<(), ScimError> {
    let call = Call::new(
        kind,
        Method::PATCH,
        t.resource_url(&[collection, id]),
        operation,
        object,
    )
    .grace_until(t.not_found_grace(id))
    .json_body(&PatchBody::new(operations))?;
    let reply = t.send(&call).await?;
    if reply.status.is_success() {
        Ok(())
    } else {
        Err(reply.into_error(&call))
    }
}

/// DELETEs `collection/id`; a 404 means it is already gone, which is what was wanted.
pub(super) async fn delete_resource(
    t: &Transport,
    collection: &str,
    id: &str,
    kind: RequestKind,
    operation: &str,
    object: &str,
) -> Result<(), ScimError> {
    let call = Call::new(
        kind,
        Method::DELETE,
        t.resource_url(&[collection, id]),
        operation,
        object,
    );
    let reply = t.send(&call).await?;
    match reply.status {
        s if s.is_success() || s == StatusCode::NOT_FOUND => {
            t.note_deleted(id);
            Ok(())
        }
        _ => Err(reply.into_error(&call)),
    }
}
