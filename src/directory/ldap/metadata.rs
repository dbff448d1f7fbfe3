//! Which attributes of a changed user moved since a watermark, from the entry's
//! `replPropertyMetaData` (readable by a read-only account, on Windows and on Samba, which
//! has no `msDS-ReplAttributeMetaData`).
//!
//! The value is a `PROPERTY_META_DATA_VECTOR_BLOB` (version 1): a 16-byte header whose third
//! little-endian u32 is the number of entries, then 48 bytes per attribute: its ATTRTYP
//! (u32), version (u32), time changed (u64), originating DSA (16 bytes), originating USN
//! (i64) and the **local USN** (i64) at which this DC last wrote it: the same numbering as
//! `uSNChanged` and the watermark.
//!
//! A user whose `uSNChanged` moved only because of a logon timestamp or a password change
//! ([`CHURN_ATTRIBUTES`]) costs no directory read and no SCIM request. Linked attributes
//! (`manager`) are not in this metadata (their values carry their own); the caller therefore
//! uses it only when no attribute it syncs or scopes on is linked.

/// Attributes that change without anything scim-sync syncs changing, by their ATTRTYP
/// (fixed for the base schema, the same on every DC; checked on Samba), and their
/// `lDAPDisplayName`, so that one the settings read is never ignored.
pub(super) const CHURN_ATTRIBUTES: &[(u32, &str)] = &[
    (0x0009_06a0, "lastLogonTimestamp"),
    (0x0009_0060, "pwdLastSet"),
    (0x0009_0296, "lockoutTime"),
    (0x0009_005a, "unicodePwd"),
    (0x0009_005e, "ntPwdHistory"),
    (0x0009_00a0, "lmPwdHistory"),
    (0x0009_0037, "dBCSPwd"),
    (0x0009_007d, "supplementalCredentials"),
];

/// (ATTRTYP, local USN) of every attribute in the blob; `None` when it is not a version-1
/// vector of whole entries.
pub(super) fn local_usns(blob: &[u8]) -> Option<Vec<(u32, u64)>> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(blob.get(at..at + 4)?.try_into().ok()?))
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(blob.get(at..at + 8)?.try_into().ok()?))
    };
    if u32_at(0)? != 1 {
        return None;
    }
    let count = usize::try_from(u32_at(8)?).ok()?;
    if blob.len() != 16usize.checked_add(count.checked_mul(48)?)? {
        return None;
    }
    (0..count)
        .map(|i| {
            let at = 16 + i * 48;
            Some((u32_at(at)?, u64_at(at + 40)?))
        })
        .collect()
}

/// True when every attribute written above `usn` is one of `ignorable` (ATTRTYPs), at least
/// one was, and none was written after them (`usn_changed` no higher than the newest local
/// USN in the metadata: a later change outside it, such as a linked value, counts). Any
/// doubt (no metadata, an undecodable one) is a change.
pub(super) fn only_ignorable_since(
    blob: Option<&[u8]>,
    usn: u64,
    usn_changed: Option<u64>,
    ignorable: &[u32],
) -> bool {
    let Some(entries) = blob.and_then(local_usns) else {
        return false;
    };
    let newest = entries.iter().map(|(_, u)| *u).max().unwrap_or(0);
    if usn_changed.is_none_or(|c| c > newest) {
        return false;
    }
    let moved: Vec<u32> = entries
        .iter()
        .filter(|(_, local)| *local > usn)
        .map(|(attid, _)| *attid)
        .collect();
    !moved.is_empty() && moved.iter().all(|a| ignorable.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(entries: &[(u32, u64)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(1u32.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(u32::try_from(entries.len()).unwrap_or(0).to_le_bytes());
        b.extend(0u32.to_le_bytes());
        for (attid, local) in entries {
            b.extend(attid.to_le_bytes());
            b.extend(1u32.to_le_bytes());
            b.extend(0u64.to_le_bytes());
            b.extend([7u8; 16]);
            b.extend(local.to_le_bytes());
            b.extend(local.to_le_bytes());
        }
        b
    }

    const LOGON: u32 = 0x0009_06a0;
    const DISPLAY_NAME: u32 = 0x0009_000d;

    #[test]
    fn the_local_usns_are_decoded() {
        let b = blob(&[(0, 4004), (LOGON, 7099)]);
        assert_eq!(local_usns(&b), Some(vec![(0, 4004), (LOGON, 7099)]));
        assert_eq!(local_usns(&b[..b.len() - 1]), None, "a cut entry");
        let mut v2 = b.clone();
        v2[0] = 2;
        assert_eq!(local_usns(&v2), None, "another version");
        assert_eq!(local_usns(&[]), None);
    }

    #[test]
    fn only_a_logon_timestamp_since_the_watermark_is_ignorable() {
        let ignorable = [LOGON];
        let b = blob(&[(DISPLAY_NAME, 4004), (LOGON, 7099)]);
        assert!(only_ignorable_since(Some(&b), 5000, Some(7099), &ignorable));
        // The display name changed too: a change.
        let b2 = blob(&[(DISPLAY_NAME, 7050), (LOGON, 7099)]);
        assert!(!only_ignorable_since(
            Some(&b2),
            5000,
            Some(7099),
            &ignorable
        ));
        // Something outside the metadata changed last (a linked value): a change.
        assert!(!only_ignorable_since(
            Some(&b),
            5000,
            Some(7100),
            &ignorable
        ));
        // Nothing in the metadata moved: the change is elsewhere.
        assert!(!only_ignorable_since(
            Some(&b),
            8000,
            Some(7099),
            &ignorable
        ));
        // No metadata, damaged metadata, no uSNChanged: a change.
        assert!(!only_ignorable_since(None, 5000, Some(7099), &ignorable));
        assert!(!only_ignorable_since(
            Some(&b[1..]),
            5000,
            Some(7099),
            &ignorable
        ));
        assert!(!only_ignorable_since(Some(&b), 5000, None, &ignorable));
        // Not in the ignorable set (the settings read it): a change.
        assert!(!only_ignorable_since(Some(&b), 5000, Some(7099), &[]));
    }
}
