//! Entries of an RFC 4519 directory into the shared model, for LDAP and LDIF alike.

use crate::model::{
    DirectoryGroup, DirectoryUser, EntryKind, ReasonCode, SharedStrings, SkippedEntry,
};

use super::super::dn::first_rdn_value;
use super::super::entry::{mapped_attributes, RawEntry};
use super::mapping::{
    anchor, is_anchor_value, OpenLdapReading, CN, DESCRIPTION, DISPLAY_NAME, GIVEN_NAME,
    GROUP_CLASSES, MAIL, MEMBER, NS_ACCOUNT_LOCK, OBJECT_CLASS, PWD_ACCOUNT_LOCKED_TIME,
    SHADOW_EXPIRE, SURNAME, UID, UNIQUE_MEMBER, USER_CLASSES,
};

/// Seconds in the day `shadowExpire` counts in.
const DAY_SECONDS: i64 = 86_400;

fn has_class(e: &RawEntry, classes: &[&str]) -> bool {
    e.values(OBJECT_CLASS).is_some_and(|vals| {
        vals.iter()
            .any(|v| classes.iter().any(|c| v.eq_ignore_ascii_case(c.as_bytes())))
    })
}

pub(crate) fn is_user(e: &RawEntry) -> bool {
    has_class(e, USER_CLASSES)
}

pub(crate) fn is_group(e: &RawEntry) -> bool {
    has_class(e, GROUP_CLASSES)
}

fn skipped(e: &RawEntry, kind: EntryKind, anchor: Option<String>, reason: String) -> SkippedEntry {
    SkippedEntry {
        dn: e.dn.clone(),
        anchor,
        code: ReasonCode::UnreadableEntry,
        reason,
        kind,
        user_names: Vec::new(),
    }
}

/// The entry's anchor (`ldap:<directory>:<value>`), or why it has none.
pub(crate) fn entry_anchor(
    e: &RawEntry,
    reading: &OpenLdapReading,
    identity: &str,
) -> Result<String, String> {
    let attr = reading.anchor();
    match e.text(attr)? {
        None => Err(format!(
            "the entry has no {attr} (an export needs the operational attributes: slapcat, or \
             ldapsearch with '*' '+')"
        )),
        Some(v) if is_anchor_value(&v) => Ok(anchor(identity, &v)),
        Some(v) => Err(format!("its {attr} {v:?} is not an identifier")),
    }
}

/// Turns a user entry into a [`DirectoryUser`], or says why it cannot be used.
pub(crate) fn decode_user(
    e: &RawEntry,
    reading: &OpenLdapReading,
    identity: &str,
    shared: &SharedStrings,
) -> Result<DirectoryUser, SkippedEntry> {
    let anchor = match entry_anchor(e, reading, identity) {
        Ok(a) => a,
        Err(reason) => {
            // Unanchored: the names it carries, so its Identity Center user can be protected.
            let mut s = skipped(e, EntryKind::User, None, format!("user skipped: {reason}"));
            for attr in [MAIL, UID] {
                if let Ok(Some(v)) = e.text(attr) {
                    s.user_names.push(v.trim().to_string());
                }
            }
            return Err(s);
        }
    };
    let known = Some(anchor.clone());
    let text = |name: &str| {
        e.text(name)
            .map_err(|r| skipped(e, EntryKind::User, known.clone(), r))
    };
    let account_expires = match text(SHADOW_EXPIRE)? {
        None => None,
        Some(raw) => shadow_expiry(&raw).ok_or_else(|| {
            skipped(
                e,
                EntryKind::User,
                known.clone(),
                format!(
                    "user's {SHADOW_EXPIRE} {raw:?} is not a number of days, so whether the \
                     account has expired is unknown"
                ),
            )
        })?,
    };
    let locked = e
        .values(PWD_ACCOUNT_LOCKED_TIME)
        .is_some_and(|v| !v.is_empty());
    let inactivated = text(NS_ACCOUNT_LOCK)?.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let display_name = match text(DISPLAY_NAME)? {
        Some(d) => Some(d),
        None => text(CN)?,
    };
    Ok(DirectoryUser {
        object_guid: anchor.rsplit_once(':').map_or("", |(_, v)| v).to_string(),
        object_sid: anchor.into(),
        dn: e.dn.clone(),
        sam_account_name: text(UID)?.unwrap_or_default(),
        user_principal_name: None,
        given_name: text(GIVEN_NAME)?,
        surname: text(SURNAME)?,
        display_name,
        mail: text(MAIL)?,
        enabled: !locked && !inactivated,
        account_expires,
        attributes: mapped_attributes(e, &reading.extra_user_attributes, shared),
    })
}

/// `shadowExpire` (days since 1970-01-01) as the Unix second the account stops working:
/// `Some(None)` for never (-1, or any negative value, as the shadow tools read it), `None`
/// when not a number. Day 0 is 1970-01-01 itself, so 0 has expired.
fn shadow_expiry(raw: &str) -> Option<Option<i64>> {
    let days: i64 = raw.trim().parse().ok()?;
    if days < 0 {
        return Some(None);
    }
    Some(days.checked_mul(DAY_SECONDS))
}

/// Turns a group entry into a [`DirectoryGroup`] with no members yet, or says why not.
pub(crate) fn decode_group(
    e: &RawEntry,
    reading: &OpenLdapReading,
    identity: &str,
) -> Result<DirectoryGroup, SkippedEntry> {
    let anchor = entry_anchor(e, reading, identity)
        .map_err(|r| skipped(e, EntryKind::Group, None, format!("group skipped: {r}")))?;
    let known = Some(anchor.clone());
    let text = |name: &str| {
        e.text(name)
            .map_err(|r| skipped(e, EntryKind::Group, known.clone(), r))
    };
    let Some(name) = text(CN)?.or_else(|| first_rdn_value(&e.dn)) else {
        return Err(skipped(
            e,
            EntryKind::Group,
            known,
            format!("group has no {CN}"),
        ));
    };
    Ok(DirectoryGroup {
        object_guid: anchor,
        object_sid: None,
        dn: e.dn.clone(),
        name,
        account_name: None,
        description: text(DESCRIPTION)?,
        member_sids: Vec::new(),
        members_partial: None,
    })
}

/// A group's direct members (`member` and `uniqueMember`, the optional `#'…'B` of the latter
/// cut off), or why they cannot be known. Both object classes require at least one member
/// (RFC 4519), so a group showing none is one whose members the bind account may not read:
/// unknown, not empty.
pub(crate) fn group_members(e: &RawEntry) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut seen_attribute = false;
    for attr in [MEMBER, UNIQUE_MEMBER] {
        let Some(values) = e.values(attr) else {
            continue;
        };
        seen_attribute = true;
        for v in values {
            let dn =
                std::str::from_utf8(v).map_err(|_| format!("a {attr} value is not valid UTF-8"))?;
            let dn = if attr == UNIQUE_MEMBER {
                strip_optional_uid(dn)
            } else {
                dn
            };
            if !dn.trim().is_empty() {
                out.push(dn.to_string());
            }
        }
    }
    if !seen_attribute {
        return Err(format!(
            "it shows no {MEMBER} or {UNIQUE_MEMBER}, which its object class requires: the bind \
             account may not read them"
        ));
    }
    Ok(out)
}

/// `uid=a,dc=x#'0101'B` → `uid=a,dc=x` (RFC 4517 NameAndOptionalUID). A `#` inside a DN value
/// is escaped (`\#`) or starts a hex value right after `=`, so only a trailing `#'bits'B` is cut.
fn strip_optional_uid(value: &str) -> &str {
    if let Some((dn, uid)) = value.rsplit_once('#') {
        let bits = uid.strip_prefix('\'').and_then(|u| u.strip_suffix("'B"));
        if bits.is_some_and(|b| b.bytes().all(|c| c == b'0' || c == b'1')) && !dn.ends_with('\\') {
            return dn;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::{AnchorAttribute, OpenLdapProfile};

    const ID: &str = "ldap:5d2aa662-835a-1041-96e3-bde2299f603c";

    fn reading() -> OpenLdapReading {
        OpenLdapReading::new(OpenLdapProfile::default(), vec!["title".into()])
    }

    fn user() -> RawEntry {
        let mut e = RawEntry {
            dn: "uid=alice,ou=People,dc=x".into(),
            attrs: vec![],
        };
        for (a, v) in [
            ("objectClass", "inetOrgPerson"),
            ("entryUUID", "5D2ABAEE-835A-1041-96FD-BDE2299F603C"),
            ("uid", "alice"),
            ("cn", "Alice Archer"),
            ("givenName", "Alice"),
            ("sn", "Archer"),
            ("mail", "alice@example.test"),
            ("title", "Lead"),
        ] {
            e.push(a, v.as_bytes().to_vec());
        }
        e
    }

    #[test]
    fn a_user_is_anchored_named_and_enabled() {
        let u = decode_user(&user(), &reading(), ID, &SharedStrings::default()).unwrap();
        assert_eq!(
            &*u.object_sid,
            "ldap:5d2aa662-835a-1041-96e3-bde2299f603c:5d2abaee-835a-1041-96fd-bde2299f603c"
        );
        assert_eq!(u.object_guid, "5d2abaee-835a-1041-96fd-bde2299f603c");
        assert_eq!(u.sam_account_name, "alice");
        assert_eq!(
            u.display_name.as_deref(),
            Some("Alice Archer"),
            "cn stands in"
        );
        assert!(u.enabled);
        assert_eq!(u.account_expires, None);
        assert_eq!(u.attributes.get("title"), Some(&Some("Lead".into())));
    }

    #[test]
    fn locks_inactivation_and_shadow_expiry_are_read() {
        let with = |attr: &str, v: &str| {
            let mut e = user();
            e.push(attr, v.as_bytes().to_vec());
            decode_user(&e, &reading(), ID, &SharedStrings::default())
        };
        assert!(
            !with("pwdAccountLockedTime", "000001010000Z")
                .unwrap()
                .enabled
        );
        assert!(
            !with("pwdAccountLockedTime", "20261101083000Z")
                .unwrap()
                .enabled
        );
        assert!(!with("nsAccountLock", "TRUE").unwrap().enabled);
        assert!(with("nsAccountLock", "false").unwrap().enabled);
        assert_eq!(
            with("shadowExpire", "19000").unwrap().account_expires,
            Some(19_000 * 86_400)
        );
        assert_eq!(with("shadowExpire", "-1").unwrap().account_expires, None);
        assert_eq!(with("shadowExpire", "0").unwrap().account_expires, Some(0));
        let s = with("shadowExpire", "soon").unwrap_err();
        assert!(
            s.anchor.is_some() && s.reason.contains("shadowExpire"),
            "{s:?}"
        );
    }

    #[test]
    fn an_unanchored_user_is_skipped_with_its_names() {
        let mut e = user();
        e.attrs.retain(|(a, _)| a != "entryUUID");
        let s = decode_user(&e, &reading(), ID, &SharedStrings::default()).unwrap_err();
        assert_eq!(s.anchor, None);
        assert_eq!(s.user_names, ["alice@example.test", "alice"]);
        let nsu = OpenLdapReading::new(
            OpenLdapProfile {
                anchor: AnchorAttribute::NsUniqueId,
                ..OpenLdapProfile::default()
            },
            vec![],
        );
        let mut e = user();
        e.push(
            "nsUniqueId",
            b"5e1a0000-00000000-00000000-00000101".to_vec(),
        );
        assert_eq!(
            decode_user(&e, &nsu, ID, &SharedStrings::default())
                .unwrap()
                .object_guid,
            "5e1a0000-00000000-00000000-00000101"
        );
        let mut e = user();
        e.attrs.retain(|(a, _)| a != "entryUUID");
        e.push("entryUUID", b"x:y".to_vec());
        assert!(decode_user(&e, &reading(), ID, &SharedStrings::default()).is_err());
    }

    #[test]
    fn members_come_from_both_attributes_and_none_at_all_is_unknown() {
        let mut g = RawEntry {
            dn: "cn=g,dc=x".into(),
            attrs: vec![],
        };
        g.push("objectClass", b"groupOfUniqueNames".to_vec());
        assert!(group_members(&g).is_err());
        g.push("uniqueMember", b"uid=a,dc=x#'0101'B".to_vec());
        g.push("uniqueMember", b"cn=odd\\#'1'B,dc=x".to_vec());
        g.push("member", b"uid=b,dc=x".to_vec());
        assert_eq!(
            group_members(&g).unwrap(),
            ["uid=b,dc=x", "uid=a,dc=x", "cn=odd\\#'1'B,dc=x"]
        );
    }
}
