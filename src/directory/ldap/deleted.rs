//! Users and groups deleted since a watermark, from their tombstones.
//!
//! Deleting an entry in AD moves it to the domain's Deleted Objects container as a
//! tombstone that keeps its objectSid and objectGUID, with a new `uSNChanged`. Nothing else
//! marks the deletion: the groups it was a member of lose the link without their own
//! `uSNChanged` moving (checked on Samba). So without this search a deleted user keeps its
//! access until a pass lists the scope or the full pass runs.
//!
//! AD lets only administrators list that container by default. A read-only account sees
//! deletions once it is granted List Contents and Read Property on it (docs/deployment.md);
//! without that grant the search returns nothing, and deletions wait for the full pass.

use super::super::error::DirectoryError;
use super::super::mapping::AttributeMap;
use super::search::Reader;

/// The well-known GUID of a naming context's Deleted Objects container
/// (GUID_DELETED_OBJECTS_CONTAINER, MS-ADTS 6.1.1.4.2); bound as `<WKGUID=…,NC>` so the
/// container's localised name does not matter.
const DELETED_OBJECTS_WKGUID: &str = "18e2ea80684f11d2b9aa00c04f79f805";

/// The tombstones found: users by objectSid (uppercase), groups by objectGUID (lowercase).
#[derive(Debug, Default)]
pub(super) struct Tombstones {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Tombstones {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

/// The users and groups of `domain_nc` deleted at or above `above` (a USN).
pub(super) async fn read_tombstones(
    reader: &mut Reader,
    domain_nc: &str,
    map: &AttributeMap,
    above: u64,
    searches: &mut u64,
) -> Result<Tombstones, DirectoryError> {
    *searches += 1;
    let base = format!("<WKGUID={DELETED_OBJECTS_WKGUID},{domain_nc}>");
    // Tombstones keep objectClass but not objectCategory, so the mapped filters (which name
    // objectCategory) cannot be used; computers are users too, and are never in scope.
    let filter =
        format!("(&(isDeleted=TRUE)(uSNChanged>={above})(|(objectClass=user)(objectClass=group)))");
    let entries = match reader
        .search_deleted(
            "users and groups deleted since the watermark",
            &base,
            &filter,
            &[map.object_sid, map.object_guid, "objectClass"],
        )
        .await
    {
        Ok(entries) => entries,
        // The DC answered, with a refusal (no such container for this account, access
        // denied, the control not supported): tombstones are not visible to it, the same as
        // an empty answer. Failing here instead would turn every pass into a full one.
        Err(e @ DirectoryError::Search { .. }) => {
            tracing::debug!(error = %e, "tombstones are not visible to the bind account");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let mut found = Tombstones::default();
    for e in entries {
        let is_group = e
            .texts("objectClass")
            .unwrap_or_default()
            .iter()
            .any(|c| c.eq_ignore_ascii_case("group"));
        if is_group {
            if let Some(g) = e.guid(map.object_guid) {
                found.groups.push(g.to_ascii_lowercase());
            }
        } else if let Some(s) = e.sid(map.object_sid) {
            found.users.push(s.to_ascii_uppercase());
        }
    }
    Ok(found)
}
