//! The form of the anchors a directory read with the `openldap` profile writes to
//! `externalId`, shared by the directory side (which makes them) and the planner (which
//! decides ownership by them).

/// What starts the anchors (and the identity) of a directory read with the `openldap`
/// profile: `ldap:<directory id>:<entryUUID or nsUniqueId>`. A SID never starts so, a GUID
/// has no colon, and the directory id tells two directories apart.
pub const LDAP_ANCHOR_PREFIX: &str = "ldap:";

/// The directory part of an `openldap` profile anchor (`ldap:<directory id>`, everything
/// before the last colon), when `external_id` is one: both parts non-empty, neither holding
/// a colon.
pub fn directory_of_ldap_anchor(external_id: &str) -> Option<&str> {
    let rest = external_id.get(..LDAP_ANCHOR_PREFIX.len())?;
    if !rest.eq_ignore_ascii_case(LDAP_ANCHOR_PREFIX) {
        return None;
    }
    let (dir, value) = external_id.rsplit_once(':')?;
    let id = &dir[LDAP_ANCHOR_PREFIX.len().min(dir.len())..];
    let ok = |part: &str| !part.is_empty() && !part.contains(':');
    (dir.len() > LDAP_ANCHOR_PREFIX.len() && ok(id) && ok(value)).then_some(dir)
}

/// True when `identity` (an entry of `DirectorySnapshot::domain_sids`) names a directory read
/// with the `openldap` profile rather than an Active Directory domain.
pub fn is_ldap_directory_identity(identity: &str) -> bool {
    identity
        .get(..LDAP_ANCHOR_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(LDAP_ANCHOR_PREFIX))
}
