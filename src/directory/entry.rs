//! One directory entry as both sources deliver it (DN + raw attribute values), and its
//! conversion into the shared model. Decoding lives here once, so a malformed entry is
//! skipped for the same reason whether it came over LDAP or from an export.

use crate::model::{
    DirectoryAttributes, DirectoryGroup, DirectoryUser, EntryKind, ReasonCode, SharedStrings,
    SkippedEntry,
};

use super::dn::first_rdn_value;
use super::mapping::AttributeMap;
use super::sid::{guid_to_string, sid_to_string};

/// A directory entry with every value kept as raw bytes (SIDs and GUIDs are binary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawEntry {
    pub dn: String,
    /// Attribute descriptions as the server or file wrote them (with options such as
    /// `;range=0-1499`), in order.
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    /// About how many bytes the entry took on the wire: its DN, attribute names and values.
    pub fn size(&self) -> u64 {
        let values: usize = self
            .attrs
            .iter()
            .map(|(a, v)| a.len() + v.iter().map(Vec::len).sum::<usize>())
            .sum();
        (self.dn.len() + values) as u64
    }

    /// The first value of `name`, as raw bytes.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name)?.first().map(Vec::as_slice)
    }

    /// The first value of a binary SID attribute (`objectSid`) as `S-1-…`; `None` when it is
    /// absent or malformed.
    pub fn sid(&self, name: &str) -> Option<String> {
        self.first(name).and_then(sid_to_string)
    }

    /// The first value of a binary GUID attribute (`objectGUID`) in its canonical form;
    /// `None` when it is absent or malformed.
    pub fn guid(&self, name: &str) -> Option<String> {
        self.first(name).and_then(guid_to_string)
    }

    /// All values of `name` (case-insensitive, exact description, no options).
    pub fn values(&self, name: &str) -> Option<&[Vec<u8>]> {
        self.attrs
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Adds values to `name`, merging with an existing description of the same name.
    pub fn push(&mut self, name: &str, value: Vec<u8>) {
        match self
            .attrs
            .iter_mut()
            .find(|(a, _)| a.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => v.push(value),
            None => self.attrs.push((name.to_string(), vec![value])),
        }
    }

    /// The first value of a text attribute: `Ok(None)` when absent, `Err` when not UTF-8.
    pub fn text(&self, name: &str) -> Result<Option<String>, String> {
        match self.values(name).and_then(|v| v.first()) {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.clone())
                .map(|s| Some(s).filter(|s| !s.is_empty()))
                .map_err(|_| format!("{name} is not valid UTF-8")),
        }
    }

    /// Every value of a text attribute (e.g. `member` DNs); `Err` if any is not UTF-8.
    pub fn texts(&self, name: &str) -> Result<Vec<String>, String> {
        self.values(name)
            .unwrap_or_default()
            .iter()
            .map(|b| {
                String::from_utf8(b.clone())
                    .map_err(|_| format!("a {name} value is not valid UTF-8"))
            })
            .collect()
    }

    fn skip(&self, anchor: Option<String>, reason: String) -> SkippedEntry {
        SkippedEntry {
            dn: self.dn.clone(),
            anchor,
            code: ReasonCode::UnreadableEntry,
            reason,
            kind: EntryKind::User,
            user_names: Vec::new(),
        }
    }

    fn skip_group(&self, anchor: Option<String>, reason: String) -> SkippedEntry {
        SkippedEntry {
            kind: EntryKind::Group,
            ..self.skip(anchor, reason)
        }
    }

    /// A user entry skipped before its anchor could be read: the names it carries, so its
    /// Identity Center user can still be found and protected.
    fn skip_unanchored_user(&self, map: &AttributeMap, reason: String) -> SkippedEntry {
        let mut s = self.skip(None, reason);
        for attr in [map.user_principal_name, map.mail, map.account_name] {
            if let Ok(Some(v)) = self.text(attr) {
                s.user_names.push(v.trim().to_string());
            }
        }
        s
    }
}

/// Turns a user entry into a [`DirectoryUser`], or says why it cannot be used.
pub(crate) fn decode_user(
    e: &RawEntry,
    map: &AttributeMap,
    shared: &SharedStrings,
) -> Result<DirectoryUser, SkippedEntry> {
    let sid = match e.values(map.object_sid).and_then(|v| v.first()) {
        None => return Err(e.skip_unanchored_user(map, format!("user has no {}", map.object_sid))),
        Some(b) => sid_to_string(b).ok_or_else(|| {
            e.skip_unanchored_user(
                map,
                format!(
                    "user's {} is not a valid SID ({} bytes)",
                    map.object_sid,
                    b.len()
                ),
            )
        })?,
    };
    let anchor = Some(sid.clone());
    let guid = match e.values(map.object_guid).and_then(|v| v.first()) {
        None => return Err(e.skip(anchor, format!("user has no {}", map.object_guid))),
        Some(b) => guid_to_string(b).ok_or_else(|| {
            e.skip(
                anchor.clone(),
                format!("user's {} is not a 16-byte GUID", map.object_guid),
            )
        })?,
    };
    let text = |name: &str| e.text(name).map_err(|r| e.skip(anchor.clone(), r));
    let sam = text(map.account_name)?
        .ok_or_else(|| e.skip(anchor.clone(), format!("user has no {}", map.account_name)))?;
    let uac_text = text(map.account_control)?.ok_or_else(|| {
        e.skip(
            anchor.clone(),
            format!(
                "user has no {}, so enabled/disabled is unknown",
                map.account_control
            ),
        )
    })?;
    let uac = uac_text.trim().parse::<i64>().map_err(|_| {
        e.skip(
            anchor.clone(),
            format!(
                "user's {} {uac_text:?} is not a number",
                map.account_control
            ),
        )
    })?;
    // AD writes the 32-bit field as a signed or unsigned decimal; only the low bits matter.
    let bits = (uac & 0xffff_ffff) as u32;
    let account_expires = match text(map.account_expires)? {
        None => None,
        Some(raw) => filetime_expiry(&raw).ok_or_else(|| {
            e.skip(
                anchor.clone(),
                format!(
                    "user's {} {raw:?} is not a Windows file time, so whether the account \
                     has expired is unknown",
                    map.account_expires
                ),
            )
        })?,
    };
    Ok(DirectoryUser {
        object_sid: sid.into(),
        object_guid: guid,
        dn: e.dn.clone(),
        sam_account_name: sam,
        user_principal_name: text(map.user_principal_name)?,
        given_name: text(map.given_name)?,
        surname: text(map.surname)?,
        display_name: text(map.display_name)?,
        mail: text(map.mail)?,
        enabled: bits & map.disabled_mask == 0,
        account_expires,
        attributes: mapped_attributes(e, &map.extra_user_attributes, shared),
    })
}

/// The first value of every mapped optional attribute, keyed in lowercase. A value that is
/// not UTF-8 is kept as `None` (present but unreadable), so the planner leaves its Identity
/// Center attribute as it is instead of removing it. Both profiles read them this way. Names
/// and values come from `shared`, one pool per read: they repeat across users.
pub(crate) fn mapped_attributes(
    e: &RawEntry,
    names: &[String],
    shared: &SharedStrings,
) -> DirectoryAttributes {
    let mut out = DirectoryAttributes::with_capacity(names.len());
    for name in names {
        let value = match e.values(name).and_then(|v| v.first()) {
            None => continue,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok("") => continue,
                Ok(text) => Some(shared.share(text)),
                Err(_) => None,
            },
        };
        out.insert(shared.share_lowercase(name), value);
    }
    out
}

/// Seconds between 1601-01-01 (the FILETIME epoch) and 1970-01-01.
pub(crate) const FILETIME_UNIX_OFFSET_SECONDS: i64 = 11_644_473_600;

/// `accountExpires` (100 ns ticks since 1601, as a decimal) as Unix seconds: `Some(None)` for
/// "never" (0 or 0x7FFFFFFFFFFFFFFF, both of which AD writes), `None` when not a number.
pub(crate) fn filetime_expiry(raw: &str) -> Option<Option<i64>> {
    let ticks: i64 = raw.trim().parse().ok()?;
    if ticks == 0 || ticks == i64::MAX {
        return Some(None);
    }
    Some(Some(
        ticks.div_euclid(10_000_000) - FILETIME_UNIX_OFFSET_SECONDS,
    ))
}

/// The RID of the user's primary group (`primaryGroupID`), when present and a number.
pub(crate) fn primary_group_rid(e: &RawEntry, map: &AttributeMap) -> Option<u32> {
    e.text(map.primary_group_id)
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
}

/// Turns a group entry into a [`DirectoryGroup`] with no members yet (they are flattened
/// later), or says why it cannot be used.
pub(crate) fn decode_group(
    e: &RawEntry,
    map: &AttributeMap,
) -> Result<DirectoryGroup, SkippedEntry> {
    let guid = match e.values(map.object_guid).and_then(|v| v.first()) {
        None => return Err(e.skip_group(None, format!("group has no {}", map.object_guid))),
        Some(b) => guid_to_string(b).ok_or_else(|| {
            e.skip_group(
                None,
                format!("group's {} is not a 16-byte GUID", map.object_guid),
            )
        })?,
    };
    let anchor = Some(guid.clone());
    let sid = match e.values(map.object_sid).and_then(|v| v.first()) {
        None => None,
        Some(b) => Some(sid_to_string(b).ok_or_else(|| {
            e.skip_group(
                anchor.clone(),
                format!("group's {} is not a valid SID", map.object_sid),
            )
        })?),
    };
    let text = |name: &str| e.text(name).map_err(|r| e.skip_group(anchor.clone(), r));
    let name = match text(map.group_name)? {
        Some(n) => n,
        None => match text(map.account_name)?.or_else(|| first_rdn_value(&e.dn)) {
            Some(n) => n,
            None => return Err(e.skip_group(anchor, format!("group has no {}", map.group_name))),
        },
    };
    Ok(DirectoryGroup {
        object_guid: guid,
        object_sid: sid,
        dn: e.dn.clone(),
        name,
        account_name: text(map.account_name)?,
        description: text(map.description)?,
        member_sids: Vec::new(),
        members_partial: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::sid::{guid_from_string, sid_from_string};

    fn user_entry() -> RawEntry {
        let mut e = RawEntry {
            dn: "CN=p001,OU=People,DC=x".into(),
            attrs: vec![],
        };
        e.push("objectSid", sid_from_string("S-1-5-21-1-2-3-1104").unwrap());
        e.push(
            "objectGUID",
            guid_from_string("3e1e53ee-6566-4652-9cf9-b7a7c78fe37e").unwrap(),
        );
        e.push("sAMAccountName", b"p001".to_vec());
        e.push("userAccountControl", b"66050".to_vec());
        e.push("mail", b"p001@example.test".to_vec());
        e
    }

    #[test]
    fn decodes_a_user_and_its_disabled_bit() {
        let u = decode_user(
            &user_entry(),
            &AttributeMap::active_directory(),
            &SharedStrings::default(),
        )
        .unwrap();
        assert_eq!(&*u.object_sid, "S-1-5-21-1-2-3-1104");
        assert_eq!(u.object_guid, "3e1e53ee-6566-4652-9cf9-b7a7c78fe37e");
        assert!(!u.enabled, "66050 carries ACCOUNTDISABLE among other bits");
        assert_eq!(u.mail.as_deref(), Some("p001@example.test"));
        assert_eq!(u.given_name, None);
        let mut e = user_entry();
        e.attrs.retain(|(a, _)| a != "userAccountControl");
        e.push("userAccountControl", b"-2147483136".to_vec()); // 0x80000200 as signed
        assert!(
            decode_user(
                &e,
                &AttributeMap::active_directory(),
                &SharedStrings::default()
            )
            .unwrap()
            .enabled
        );
    }

    #[test]
    fn account_expiry_is_decoded_as_a_date_and_never_means_none() {
        let map = AttributeMap::active_directory();
        let with = |v: &[u8]| {
            let mut e = user_entry();
            e.push("accountExpires", v.to_vec());
            decode_user(&e, &map, &SharedStrings::default())
        };
        assert_eq!(
            decode_user(&user_entry(), &map, &SharedStrings::default())
                .unwrap()
                .account_expires,
            None
        );
        assert_eq!(with(b"0").unwrap().account_expires, None);
        assert_eq!(with(b"9223372036854775807").unwrap().account_expires, None);
        // 2021-01-01T00:00:00Z
        assert_eq!(
            with(b"132539328000000000").unwrap().account_expires,
            Some(1_609_459_200)
        );
        let s = with(b"soon").unwrap_err();
        assert!(s.reason.contains("accountExpires"), "{}", s.reason);
        assert!(s.anchor.is_some());
    }

    #[test]
    fn malformed_users_are_skipped_with_what_is_known() {
        let map = AttributeMap::active_directory();
        let mut no_sid = user_entry();
        no_sid.attrs.retain(|(a, _)| a != "objectSid");
        let s = decode_user(&no_sid, &map, &SharedStrings::default()).unwrap_err();
        assert_eq!((s.anchor, s.dn.as_str()), (None, "CN=p001,OU=People,DC=x"));
        let mut bad_mail = user_entry();
        bad_mail.attrs.retain(|(a, _)| a != "mail");
        bad_mail.push("mail", vec![0xff, 0xfe]);
        let s = decode_user(&bad_mail, &map, &SharedStrings::default()).unwrap_err();
        assert_eq!(s.anchor.as_deref(), Some("S-1-5-21-1-2-3-1104"));
        assert!(s.reason.contains("mail"), "{}", s.reason);
        let mut bad_uac = user_entry();
        bad_uac.attrs.retain(|(a, _)| a != "userAccountControl");
        bad_uac.push("userAccountControl", b"lots".to_vec());
        assert!(decode_user(&bad_uac, &map, &SharedStrings::default())
            .unwrap_err()
            .reason
            .contains("not a number"));
    }

    #[test]
    fn group_name_falls_back_to_the_rdn() {
        let mut e = RawEntry {
            dn: "CN=aws-x\\, y,OU=AWS,DC=x".into(),
            attrs: vec![],
        };
        e.push("objectGUID", vec![7u8; 16]);
        let g = decode_group(&e, &AttributeMap::active_directory()).unwrap();
        assert_eq!(g.name, "aws-x, y");
        assert_eq!(g.object_sid, None);
        e.attrs.clear();
        assert_eq!(
            decode_group(&e, &AttributeMap::active_directory())
                .unwrap_err()
                .anchor,
            None
        );
    }
}
