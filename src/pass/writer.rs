//! The executor's [`Writer`] for the SCIM client: a thin delegation, so the executor stays
//! independent of HTTP while every write gets the client's retries, pacing and chunking.
//! It lives here, in the layer that wires the two, so neither `apply` nor `identity_center`
//! depends on the other.

use crate::apply::{WriteError, Writer};
use crate::identity_center::{ScimClient, ScimError};
use crate::model::{UserAttributes, UserField};

impl Writer for ScimClient {
    type Error = ScimError;

    async fn create_user(&self, user: &UserAttributes) -> Result<String, ScimError> {
        ScimClient::create_user(self, user).await
    }

    async fn update_user(
        &self,
        id: &str,
        user: &UserAttributes,
        changed: &[UserField],
    ) -> Result<(), ScimError> {
        ScimClient::update_user(self, id, user, changed).await
    }

    async fn set_manager(&self, id: &str, manager_id: &str) -> Result<(), ScimError> {
        ScimClient::set_manager(self, id, manager_id).await
    }

    async fn set_user_active(&self, id: &str, active: bool) -> Result<(), ScimError> {
        ScimClient::set_user_active(self, id, active).await
    }

    async fn delete_user(&self, id: &str) -> Result<(), ScimError> {
        ScimClient::delete_user(self, id).await
    }

    async fn create_group(
        &self,
        display_name: &str,
        external_id: &str,
    ) -> Result<String, ScimError> {
        ScimClient::create_group(self, display_name, external_id).await
    }

    async fn create_group_with_members(
        &self,
        display_name: &str,
        external_id: &str,
        members: &[String],
    ) -> Result<String, ScimError> {
        ScimClient::create_group_with_members(self, display_name, external_id, members).await
    }

    async fn rename_group(&self, id: &str, display_name: &str) -> Result<(), ScimError> {
        ScimClient::rename_group(self, id, display_name).await
    }

    async fn set_group_external_id(&self, id: &str, external_id: &str) -> Result<(), ScimError> {
        ScimClient::set_group_external_id(self, id, external_id).await
    }

    async fn delete_group(&self, id: &str) -> Result<(), ScimError> {
        ScimClient::delete_group(self, id).await
    }

    async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ScimError> {
        ScimClient::add_members(self, group_id, user_ids).await
    }

    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ScimError> {
        ScimClient::remove_members(self, group_id, user_ids).await
    }

    async fn change_members(
        &self,
        group_id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), ScimError> {
        ScimClient::change_members(self, group_id, add, remove).await
    }
}

impl WriteError for ScimError {
    fn is_auth_failure(&self) -> bool {
        ScimError::is_auth_failure(self)
    }

    fn is_conflict(&self) -> bool {
        ScimError::is_conflict(self)
    }

    fn is_deadline_reached(&self) -> bool {
        ScimError::is_deadline_reached(self)
    }
}
