//! Writes that are the same for users and groups: a PATCH of one resource, a DELETE of one.

use reqwest::{Method, StatusCode};

use super::client::ScimClient;
use super::counts::RequestKind;
use super::error::ScimError;
use super::http::Call;
use super::wire::{PatchBody, PatchOperation};

impl ScimClient {
    /// PATCHes `collection/id`. Users answer 200 with the user, groups 204: both mean done,
    /// and the body is not needed.
    pub(crate) async fn patch_resource(
        &self,
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
            self.resource_url(&[collection, id]),
            operation,
            object,
        )
        .grace_until(self.not_found_grace(id))
        .json_body(&PatchBody::new(operations))?;
        let reply = self.send(&call).await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply.into_error(&call))
        }
    }

    /// DELETEs `collection/id`; a 404 means it is already gone, which is what was wanted.
    pub(crate) async fn delete_resource(
        &self,
        collection: &str,
        id: &str,
        kind: RequestKind,
        operation: &str,
        object: &str,
    ) -> Result<(), ScimError> {
        let call = Call::new(
            kind,
            Method::DELETE,
            self.resource_url(&[collection, id]),
            operation,
            object,
        );
        let reply = self.send(&call).await?;
        match reply.status {
            s if s.is_success() || s == StatusCode::NOT_FOUND => {
                self.note_deleted(id);
                Ok(())
            }
            _ => Err(reply.into_error(&call)),
        }
    }
}
