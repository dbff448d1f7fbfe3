//! The client handle: the public face of the Identity Center layer. It holds nothing but a
//! shared [`Transport`] (the one owner of the connection pool, token, pacing and counters) and
//! delegates each operation to the module that knows the resource (users, groups, members,
//! the state read). The resource modules never see this type, so there is no cycle.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;

use super::counts::{RequestKind, ScimRequestCounts};
use super::error::ScimError;
use super::pacing::LearnedRates;
use super::transport::{Call, Transport};
use super::{groups, lookup, members, state, users};
use crate::model::settings::ScimClientConfig;
use crate::model::{IdcGroup, IdcSnapshot, IdcUser, UserAttributes, UserField};
use crate::secret::Secret;

/// A SCIM 2.0 client for IAM Identity Center.
///
/// Cheap to clone; clones share the connection pool, the token, the concurrency bound, the
/// rate limit and the request counters, so the whole pass stays within one budget.
#[derive(Clone)]
pub struct ScimClient {
    transport: Arc<Transport>,
}

impl fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimClient")
            .field("base_url", &self.transport.base_url())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ScimClient {
    /// Builds the client for a validated endpoint (see [`super::ScimEndpoint`]).
    pub fn new(config: ScimClientConfig) -> Result<Self, ScimError> {
        Ok(Self {
            transport: Arc::new(Transport::new(config)?),
        })
    }

    /// The normalised endpoint (always ending in exactly one `/`).
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// Replaces the token for every clone, e.g. after a 401 and a re-read of the secret.
    pub fn set_token(&self, token: Secret) {
        self.transport.set_token(token);
    }

    /// Stops retrying at `deadline` (for every clone): a pass that must end before the
    /// Lambda's time limit cannot wait out a minute of backoff on one request. `None` lifts it.
    pub fn set_retry_deadline(&self, deadline: Option<Instant>) {
        self.transport.set_retry_deadline(deadline);
    }

    /// The rates learned so far (overall and per API), shared by every clone and kept for as
    /// long as the client lives: a warm Lambda starts its next pass from them.
    pub fn learned_rates(&self) -> LearnedRates {
        self.transport.learned_rates()
    }

    /// Requests sent so far by this client and its clones.
    pub fn request_counts(&self) -> ScimRequestCounts {
        self.transport.request_counts()
    }

    /// Checks the endpoint and the token with `GET /ServiceProviderConfig` (what Teleport
    /// uses as its ping): a wrong URL or tenant gives [`ScimError::EndpointNotFound`], a bad
    /// token [`ScimError::Unauthorized`]. For start-up checks and the CLI's `check` command.
    pub async fn check_endpoint(&self) -> Result<(), ScimError> {
        let call = Call::new(
            RequestKind::Discovery,
            Method::GET,
            self.transport.resource_url(&["ServiceProviderConfig"]),
            "check the SCIM endpoint",
            "ServiceProviderConfig",
        )
        .collection()
        .expect_json();
        let reply = self.transport.send(&call).await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(reply.into_error(&call))
        }
    }

    /// Same as [`super::read_state`].
    pub async fn read_state(
        &self,
        wanted_group_external_ids: &BTreeSet<String>,
    ) -> Result<IdcSnapshot, ScimError> {
        state::read_state(&self.transport, wanted_group_external_ids).await
    }

    /// Every user in the store, SCIM-made or not. Users without an id are skipped (logged).
    pub async fn list_users(&self) -> Result<Vec<IdcUser>, ScimError> {
        users::list_users(&self.transport).await
    }

    /// The user whose externalId is exactly `external_id`. A value that cannot be put in a
    /// filter is looked for in a full listing instead.
    pub async fn find_user_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<IdcUser>, ScimError> {
        users::find_user_by_external_id(&self.transport, external_id).await
    }

    /// The user with this userName (compared case-insensitively, as Identity Center's
    /// uniqueness is assumed to be).
    pub async fn find_user_by_user_name(
        &self,
        user_name: &str,
    ) -> Result<Option<IdcUser>, ScimError> {
        users::find_user_by_user_name(&self.transport, user_name).await
    }

    /// Creates a user and returns its id.
    ///
    /// A 409 is first taken for this client's own earlier attempt whose answer was lost: the
    /// user is looked up by externalId and adopted only if the externalId matches exactly.
    /// Otherwise the 409 is a [`ScimError::Conflict`] naming what collides.
    pub async fn create_user(&self, user: &UserAttributes) -> Result<String, ScimError> {
        users::create_user(&self.transport, user).await
    }

    /// Sends only the `changed` attributes of `user`, one `replace` per attribute with an
    /// explicit path (an absent email is removed). Nothing changed: no request.
    pub async fn update_user(
        &self,
        id: &str,
        user: &UserAttributes,
        changed: &[UserField],
    ) -> Result<(), ScimError> {
        users::update_user(&self.transport, id, user, changed).await
    }

    /// Points a user's `enterprise.manager` at `manager_id` (PATCH `replace` of the
    /// extension's `manager` path).
    pub async fn set_manager(&self, id: &str, manager_id: &str) -> Result<(), ScimError> {
        users::set_manager(&self.transport, id, manager_id).await
    }

    /// Enables or disables a user (PATCH `replace active`).
    pub async fn set_user_active(&self, id: &str, active: bool) -> Result<(), ScimError> {
        users::set_user_active(&self.transport, id, active).await
    }

    /// Deletes a user; a 404 means it is already gone, which is what was wanted.
    pub async fn delete_user(&self, id: &str) -> Result<(), ScimError> {
        users::delete_user(&self.transport, id).await
    }

    /// Every group in the store. `member_ids` is `None`: members are read separately.
    pub async fn list_groups(&self) -> Result<Vec<IdcGroup>, ScimError> {
        groups::list_groups(&self.transport).await
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
        groups::find_group_by_external_id(&self.transport, external_id).await
    }

    /// The group with this displayName (compared case-insensitively: names are unique in
    /// Identity Center, assumed regardless of case).
    pub async fn find_group_by_display_name(
        &self,
        display_name: &str,
    ) -> Result<Option<IdcGroup>, ScimError> {
        groups::find_group_by_display_name(&self.transport, display_name).await
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
        groups::create_group(&self.transport, display_name, external_id).await
    }

    /// Creates a group with its first 100 members inside the `POST` and the rest in PATCHes
    /// of 100, and returns its id; see [`Self::create_group`] for what a 409 means.
    pub async fn create_group_with_members(
        &self,
        display_name: &str,
        external_id: &str,
        members: &[String],
    ) -> Result<String, ScimError> {
        groups::create_group_with_members(&self.transport, display_name, external_id, members).await
    }

    /// Renames a group in place (PATCH `replace displayName`), keeping its id and so every
    /// account assignment.
    pub async fn rename_group(&self, id: &str, display_name: &str) -> Result<(), ScimError> {
        groups::rename_group(&self.transport, id, display_name).await
    }

    /// Writes our externalId onto a group (PATCH `replace externalId`): adoption by name.
    pub async fn set_group_external_id(
        &self,
        id: &str,
        external_id: &str,
    ) -> Result<(), ScimError> {
        groups::set_group_external_id(&self.transport, id, external_id).await
    }

    /// Deletes a group; a 404 means it is already gone, which is what was wanted.
    pub async fn delete_group(&self, id: &str) -> Result<(), ScimError> {
        groups::delete_group(&self.transport, id).await
    }

    /// The ids of a group's members, through `groups.value eq "<id>"` on `/Users` with cursor
    /// paging (the only SCIM read of memberships; group reads return no members).
    /// The members of one group as whole users (an incremental pass reads a changed group's
    /// members this way: who left it is known only to Identity Center). Users that could not
    /// be decoded are in the second list.
    pub async fn users_in_group(
        &self,
        group_id: &str,
    ) -> Result<(Vec<IdcUser>, Vec<String>), ScimError> {
        let d = lookup::users_in_group(&self.transport, group_id).await?;
        Ok((d.items, d.skipped))
    }

    /// The groups one user is a member of (`members.value eq`). Groups that could not be
    /// decoded are in the second list.
    pub async fn groups_of_user(
        &self,
        user_id: &str,
    ) -> Result<(Vec<IdcGroup>, Vec<String>), ScimError> {
        let d = lookup::groups_of_user(&self.transport, user_id).await?;
        Ok((d.items, d.skipped))
    }

    pub async fn group_member_ids(&self, group_id: &str) -> Result<BTreeSet<Arc<str>>, ScimError> {
        members::group_member_ids(&self.transport, group_id).await
    }

    /// Adds users to a group, at most [`MAX_MEMBER_CHANGES_PER_PATCH`] per request.
    /// Adding a present member is fine whether or not the service treats it as an error.
    pub async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ScimError> {
        members::add_members(&self.transport, group_id, user_ids).await
    }

    /// Removes users from a group, chunked like [`ScimClient::add_members`]. Removing a non-member
    /// is fine whether or not the service treats it as an error.
    pub async fn remove_members(
        &self,
        group_id: &str,
        user_ids: &[String],
    ) -> Result<(), ScimError> {
        members::remove_members(&self.transport, group_id, user_ids).await
    }

    /// Adds and removes in the same requests: one PATCH carries up to 100 changes of both
    /// kinds (Identity Center's limit is summed over operations), so a group that gains and
    /// loses members costs one request per 100 changes, not one per kind. Each PATCH is
    /// applied as a whole, so no member is ever left with less access than before or after.
    pub async fn change_members(
        &self,
        group_id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), ScimError> {
        members::change_members(&self.transport, group_id, add, remove).await
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn client(url: &str, token: &str) -> ScimClient {
        ScimClient::new(ScimClientConfig::new(url, Secret::new(token)).unwrap()).unwrap()
    }

    #[test]
    fn clones_share_one_budget_and_one_token() {
        let a = client("http://127.0.0.1:9/scim/v2", "t1");
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.transport, &b.transport));
        b.set_token(Secret::new("t2"));
        assert_eq!(a.transport.token().expose(), "t2");
        assert_eq!(a.base_url(), "http://127.0.0.1:9/scim/v2/");
        assert!(!format!("{a:?}").contains("t2"));
        assert_eq!(
            a.transport.resource_url(&["Users", "a/b?c"]).as_str(),
            "http://127.0.0.1:9/scim/v2/Users/a%2Fb%3Fc"
        );
    }

    #[test]
    fn created_ids_get_a_grace_until_deleted() {
        let c = client("http://127.0.0.1:9/scim/v2/", "t");
        let t = &c.transport;
        assert!(t.not_found_grace("u1").is_none());
        t.note_created("u1");
        assert!(t
            .not_found_grace("u1")
            .is_some_and(|at| at > Instant::now()));
        t.note_deleted("u1");
        assert!(t.not_found_grace("u1").is_none());
    }
}
