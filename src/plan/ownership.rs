//! Which Identity Center objects belong to scim-sync, and how anchors are compared.
//!
//! Ownership is decided by `externalId` alone, so that an owned object that has left the
//! directory scope (and so matches no directory entry any more) is still recognised as ours
//! and can be disabled or deleted. A user is ours when its externalId is a SID of one of this
//! directory's domains (the domain head's `objectSid`, read every pass, plus
//! `scope.extraDomainSids`): a SID of any other domain was provisioned by someone else (a
//! second deployment for another forest, a child domain's sync, another tool) and is as
//! foreign as a user without an externalId. Everything that is not ours is never modified.

use crate::model::anchor::{directory_of_ldap_anchor, is_ldap_directory_identity};
use crate::model::{Finding, ReasonCode};
use std::borrow::Cow;

/// True when `external_id` is a Windows SID string (`S-1-<authority>-<sub>…`), whatever the
/// domain: the shape of the anchor scim-sync (and the PowerShell original) writes.
pub fn is_sid(external_id: &str) -> bool {
    let Some(rest) = external_id
        .strip_prefix("S-1-")
        .or_else(|| external_id.strip_prefix("s-1-"))
    else {
        return false;
    };
    let mut parts = 0;
    for part in rest.split('-') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        parts += 1;
    }
    parts >= 2
}

/// The domain part of an account SID: everything before the last sub-authority (the RID).
/// `None` when `sid` is not a SID with a domain and a RID.
pub fn domain_of_sid(sid: &str) -> Option<&str> {
    if !is_sid(sid) {
        return None;
    }
    let (domain, _rid) = sid.rsplit_once('-')?;
    is_sid(domain).then_some(domain)
}

/// True when `external_id` is the SID of an account of one of `domain_sids` (compared without
/// ASCII case, as SIDs are): the anchor scim-sync writes on every user it provisions from
/// this directory, and the one the PowerShell original wrote, so its users stay recognised.
pub fn is_owned_user_external_id(external_id: &str, domain_sids: &[String]) -> bool {
    domain_of_anchor(external_id)
        .is_some_and(|d| domain_sids.iter().any(|own| own.eq_ignore_ascii_case(d)))
}

/// The "domain" an account anchor belongs to: a SID's domain SID, or an `openldap` profile
/// anchor's directory part; what the snapshot's `domain_sids` list for this directory.
pub fn domain_of_anchor(external_id: &str) -> Option<&str> {
    domain_of_sid(external_id).or_else(|| directory_of_ldap_anchor(external_id))
}

/// True when `external_id` is the anchor of a group of this directory: for an `openldap`
/// profile directory (its identity in `domain_sids`), an `ldap:` anchor of that directory;
/// else a GUID in the 8-4-4-4-12 hex form, the `objectGUID` anchor scim-sync writes on every
/// group it creates or adopts from Active Directory.
pub fn is_owned_group_external_id(external_id: &str, domain_sids: &[String]) -> bool {
    if let Some(dir) = directory_of_ldap_anchor(external_id) {
        return domain_sids.iter().any(|own| own.eq_ignore_ascii_case(dir));
    }
    !domain_sids.iter().any(|d| is_ldap_directory_identity(d)) && is_guid(external_id)
}

/// True when `external_id` is a GUID in the 8-4-4-4-12 hex form.
fn is_guid(external_id: &str) -> bool {
    let bytes = external_id.as_bytes();
    if bytes.len() != 36 {
        return false;
    }
    bytes.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

/// The form user anchors are compared in: SIDs are ASCII-case-insensitive (`S-1-…` and
/// `s-1-…` are the same account), so both sides are uppercased. Borrows when the value is
/// already canonical, which is the common case, so a million lookups allocate nothing.
pub(crate) fn user_key(external_id: &str) -> Cow<'_, str> {
    if external_id.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(external_id.to_ascii_uppercase())
    } else {
        Cow::Borrowed(external_id)
    }
}

/// A canonical SID held inline, so a lookup among a million memberships compares bytes in
/// the hash table itself instead of chasing a pointer to a string elsewhere in memory (the
/// cache misses of that dominated planning time). Domain user SIDs are about 45 characters;
/// longer ones (up to 15 sub-authorities) do not fit and use [`SidIndex`]'s fallback map.
#[derive(Clone, Copy, PartialEq, Eq)]
struct InlineSid {
    len: u8,
    bytes: [u8; 63],
}

impl std::hash::Hash for InlineSid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Only the used bytes: the zero padding would double the hashing work.
        state.write(&self.bytes[..usize::from(self.len)]);
    }
}

impl InlineSid {
    fn new(sid: &str) -> Option<Self> {
        let src = sid.as_bytes();
        if src.len() > 63 {
            return None;
        }
        let mut bytes = [0u8; 63];
        for (d, s) in bytes.iter_mut().zip(src) {
            *d = s.to_ascii_uppercase();
        }
        Some(Self {
            len: src.len() as u8,
            bytes,
        })
    }
}

/// A map from user anchor (compared as [`user_key`] does) to a small integer.
#[derive(Default)]
pub(crate) struct SidIndex {
    inline: std::collections::HashMap<InlineSid, u32>,
    long: std::collections::HashMap<String, u32>,
}

impl SidIndex {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            inline: std::collections::HashMap::with_capacity(n),
            long: std::collections::HashMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, sid: &str, value: u32) {
        match InlineSid::new(sid) {
            Some(k) => self.inline.insert(k, value),
            None => self.long.insert(user_key(sid).into_owned(), value),
        };
    }

    pub(crate) fn get(&self, sid: &str) -> Option<u32> {
        match InlineSid::new(sid) {
            Some(k) => self.inline.get(&k).copied(),
            None => self.long.get(user_key(sid).as_ref()).copied(),
        }
    }
}

/// The form group anchors are compared in: GUIDs are lowercased (their canonical form).
pub(crate) fn group_key(external_id: &str) -> Cow<'_, str> {
    if external_id.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(external_id.to_ascii_lowercase())
    } else {
        Cow::Borrowed(external_id)
    }
}

/// Identity Center compares userNames, emails and group names without regard to case (the
/// emulator's default, and the only safe assumption), so uniqueness is checked on this form.
/// Borrows when the value is already folded (plain lowercase ASCII, the common case).
pub(crate) fn fold(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.to_lowercase())
    }
}

/// `fold(a) == fold(b)` without allocating for ASCII values.
/// Two Identity Center objects (`kind`: "users" or "groups") carry the same externalId: only
/// `keep` (the smaller id, so every pass picks the same one) is managed.
pub(super) fn duplicate_external_id(kind: &str, ext: &str, keep: &str, other: &str) -> Finding {
    Finding::new(
        ReasonCode::DuplicateExternalId,
        format!(
            "Identity Center {kind} {keep} and {other} both carry externalId {ext}: only {keep} \
             is managed; delete the other"
        ),
    )
    .about(ext)
    .about(keep)
    .about(other)
}

pub(crate) fn same_folded(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold(a) == fold(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_recognised_by_shape() {
        assert!(is_sid("S-1-5-21-1004336348-1177238915-682003330-1001"));
        assert!(is_sid("s-1-5-32"));
        assert!(!is_sid("S-1-5"));
        assert!(!is_sid("S-1-5-21-"));
        assert!(!is_sid("S-1-5-2a"));
        assert!(!is_sid("701984"));
        assert!(!is_sid(""));
        assert!(!is_sid("0b1f2c3d-0000-4000-8000-000000000001"));
    }

    #[test]
    fn only_sids_of_this_directory_s_domains_are_owned_user_anchors() {
        let domains = vec!["S-1-5-21-1004336348-1177238915-682003330".to_string()];
        let ours = "S-1-5-21-1004336348-1177238915-682003330-1001";
        assert!(is_owned_user_external_id(ours, &domains));
        assert!(is_owned_user_external_id(&ours.to_lowercase(), &domains));
        assert!(!is_owned_user_external_id("S-1-5-21-9-9-9-1001", &domains));
        assert!(
            !is_owned_user_external_id("S-1-5-21-1004336348-1177238915-682003330", &domains),
            "the domain itself is no account"
        );
        assert!(!is_owned_user_external_id(
            "S-1-5-21-1004336348-1177238915-682003330-1001-7",
            &domains
        ));
        assert!(!is_owned_user_external_id(ours, &[]));
        assert!(!is_owned_user_external_id("okta-1001", &domains));
        assert_eq!(domain_of_sid(ours), Some(&domains[0][..]));
        assert_eq!(domain_of_sid("S-1-5"), None);
    }

    #[test]
    fn guids_are_owned_group_anchors() {
        let ad = ["S-1-5-21-1-2-3".to_string()];
        for domains in [&ad[..], &[]] {
            assert!(is_owned_group_external_id(
                "0b1f2c3d-0000-4000-8000-00000000000a",
                domains
            ));
            assert!(is_owned_group_external_id(
                "0B1F2C3D-0000-4000-8000-00000000000A",
                domains
            ));
            assert!(!is_owned_group_external_id(
                "0b1f2c3d00004000800000000000000a",
                domains
            ));
            assert!(!is_owned_group_external_id(
                "0b1f2c3d-0000-4000-8000-00000000000g",
                domains
            ));
            assert!(!is_owned_group_external_id("S-1-5-21-1-2-3", domains));
            assert!(!is_owned_group_external_id("", domains));
            assert!(
                !is_owned_group_external_id("ldap:5d2a:0b1f2c3d", domains),
                "an LDAP directory's group is not Active Directory's"
            );
        }
    }

    #[test]
    fn ldap_anchors_are_owned_by_their_directory_only() {
        let ours = vec!["ldap:5d2aa662-835a-1041-96e3-bde2299f603c".to_string()];
        let user = "ldap:5d2aa662-835a-1041-96e3-bde2299f603c:5d2abaee-835a-1041-96fd-bde2299f603c";
        assert_eq!(directory_of_ldap_anchor(user), Some(&ours[0][..]));
        assert!(is_owned_user_external_id(user, &ours));
        assert!(is_owned_user_external_id(&user.to_uppercase(), &ours));
        assert!(is_owned_group_external_id(user, &ours));
        let other =
            "ldap:00000000-835a-1041-96e3-bde2299f603c:5d2abaee-835a-1041-96fd-bde2299f603c";
        assert!(!is_owned_user_external_id(other, &ours));
        assert!(!is_owned_group_external_id(other, &ours));
        // An Active Directory deployment owns none of them, and they own no SID or GUID.
        let ad = vec!["S-1-5-21-1-2-3".to_string()];
        assert!(!is_owned_user_external_id(user, &ad));
        assert!(!is_owned_group_external_id(user, &ad));
        assert!(!is_owned_user_external_id("S-1-5-21-1-2-3-1001", &ours));
        assert!(!is_owned_group_external_id(
            "0b1f2c3d-0000-4000-8000-00000000000a",
            &ours
        ));
        // Malformed: no value, no id, a colon too many, the identity itself.
        for bad in [
            "ldap:5d2a:",
            "ldap::5d2a",
            "ldap:",
            "ldap:5d2a",
            "ldap:a:b:c",
            "ldapx:a:b",
        ] {
            assert_eq!(directory_of_ldap_anchor(bad), None, "{bad}");
        }
        assert!(!is_owned_user_external_id(&ours[0], &ours));
    }

    #[test]
    fn sid_index_matches_like_user_key_for_short_and_long_sids() {
        let long = format!("S-1-5-21{}", "-4294967295".repeat(12));
        let mut idx = SidIndex::with_capacity(2);
        idx.insert("S-1-5-21-1-2-3-1001", 1);
        idx.insert(&long, 2);
        assert_eq!(idx.get("s-1-5-21-1-2-3-1001"), Some(1));
        assert_eq!(idx.get("S-1-5-21-1-2-3-100"), None);
        assert_eq!(idx.get(&long.to_lowercase()), Some(2));
        assert_eq!(idx.get("S-1-5-21-1-2-3-1001\0"), None);
    }

    #[test]
    fn keys_ignore_ascii_case_and_borrow_canonical_values() {
        assert_eq!(user_key("s-1-5-21-7"), "S-1-5-21-7");
        assert!(matches!(user_key("S-1-5-21-7"), Cow::Borrowed(_)));
        assert_eq!(group_key("AB-CD"), "ab-cd");
        assert!(matches!(group_key("ab-cd"), Cow::Borrowed(_)));
    }
}
