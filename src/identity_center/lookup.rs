//! Reads of a few objects by anchor or membership, for incremental passes: what they need
//! to know about the objects a directory change touched, without listing everything.

use super::counts::RequestKind;
use super::error::ScimError;
use super::filter::{self, FilterAttr};
use super::listing::{list_decoded, Decoded, Listing};
use super::transport::Transport;
use super::wire::{WireGroup, WireUser};
use crate::model::{IdcGroup, IdcUser};

/// The members of one group as whole users (`groups.value eq` on `/Users`, every page).
pub(super) async fn users_in_group(
    t: &Transport,
    group_id: &str,
) -> Result<Decoded<IdcUser>, ScimError> {
    let f = filter::eq(FilterAttr::GroupsValue, group_id)?;
    let object = format!("group {group_id}");
    list_decoded(
        t,
        &Listing {
            kind: RequestKind::ListMembers,
            collection: "Users",
            filter: Some(&f),
            operation: "read group members",
            object: &object,
        },
        "user",
        WireUser::into_model,
    )
    .await
}

/// The groups one user is a member of (`members.value eq` on `/Groups`, every page).
pub(super) async fn groups_of_user(
    t: &Transport,
    user_id: &str,
) -> Result<Decoded<IdcGroup>, ScimError> {
    let f = filter::eq(FilterAttr::MembersValue, user_id)?;
    let object = format!("user {user_id}");
    list_decoded(
        t,
        &Listing {
            kind: RequestKind::FindGroup,
            collection: "Groups",
            filter: Some(&f),
            operation: "read a user's groups",
            object: &object,
        },
        "group",
        WireGroup::into_model,
    )
    .await
}
