use std::future::Future;

use crate::plan::{UserAttributes, UserField};

/// What the executor needs to know about a failed write to decide what happens next.
pub trait WriteError: std::fmt::Display + Send {
    /// The credential was rejected: every further write would fail the same way, so the
    /// executor stops and the pass reports a token problem.
    fn is_auth_failure(&self) -> bool;
    /// The write collides with an object the sync does not own; reported as a conflict, not a
    /// failure to retry.
    fn is_conflict(&self) -> bool;
    /// The pass's deadline stopped the write (or the rest of it) before it was sent: the pass
    /// is incomplete, not failed, and the next pass continues.
    fn is_deadline_reached(&self) -> bool {
        false
    }
}

/// The writes a plan can ask for, one method per kind of operation.
///
/// Implemented by the SCIM client; retries, rate limiting and chunking live behind it.
pub trait Writer: Sync {
    type Error: WriteError;

    /// Creates a user and returns its Identity Center id.
    fn create_user(
        &self,
        user: &UserAttributes,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
    /// Sends only `changed` attributes of `user`.
    fn update_user(
        &self,
        id: &str,
        user: &UserAttributes,
        changed: &[UserField],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Points the user's `enterprise.manager` at `manager_id` (one PATCH, nothing else sent).
    fn set_manager(
        &self,
        id: &str,
        manager_id: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn set_user_active(
        &self,
        id: &str,
        active: bool,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn delete_user(&self, id: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Creates a group carrying our externalId and returns its id.
    fn create_group(
        &self,
        display_name: &str,
        external_id: &str,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
    /// Creates a group with its first members and returns its id. A SCIM writer puts up to 100
    /// members inside the create (one request instead of two); the default creates the group,
    /// then adds them.
    fn create_group_with_members(
        &self,
        display_name: &str,
        external_id: &str,
        members: &[String],
    ) -> impl Future<Output = Result<String, Self::Error>> + Send {
        async move {
            let id = self.create_group(display_name, external_id).await?;
            if !members.is_empty() {
                self.add_members(&id, members).await?;
            }
            Ok(id)
        }
    }
    fn rename_group(
        &self,
        id: &str,
        display_name: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn set_group_external_id(
        &self,
        id: &str,
        external_id: &str,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn delete_group(&self, id: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn add_members(
        &self,
        group_id: &str,
        user_ids: &[String],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn remove_members(
        &self,
        group_id: &str,
        user_ids: &[String],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Adds and removes members of one group together, so a group that both gains and loses
    /// members costs one request per 100 changes. The default sends additions, then removals.
    fn change_members(
        &self,
        group_id: &str,
        add: &[String],
        remove: &[String],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async move {
            if !add.is_empty() {
                self.add_members(group_id, add).await?;
            }
            if !remove.is_empty() {
                self.remove_members(group_id, remove).await?;
            }
            Ok(())
        }
    }
}
