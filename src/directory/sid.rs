//! Decoding of Active Directory's binary identifiers into the strings written to Identity
//! Center's `externalId`. The PowerShell original anchors users on the `S-1-5-…` form of
//! `objectSid` and groups on `objectGUID`, so these forms must match it byte for byte.

/// Renders a binary `objectSid` as `S-R-I-S1-S2-…`.
///
/// Layout (MS-DTYP 2.4.2.2): revision (1 byte), sub-authority count (1 byte), identifier
/// authority (6 bytes, big-endian), then that many 32-bit little-endian sub-authorities.
/// Returns `None` for anything that is not exactly that shape, so a corrupt value is reported
/// instead of being turned into a wrong anchor.
pub fn sid_to_string(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 8 {
        return None;
    }
    let revision = bytes[0];
    let count = usize::from(bytes[1]);
    if revision != 1 || count > 15 || bytes.len() != 8 + 4 * count {
        return None;
    }
    let authority = bytes[2..8]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = format!("S-{revision}-{authority}");
    for chunk in bytes[8..].chunks_exact(4) {
        let sub = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        out.push('-');
        out.push_str(&sub.to_string());
    }
    Some(out)
}

/// Renders a binary `objectGUID` in its canonical lowercase hyphenated form.
///
/// Microsoft stores the first three fields little-endian and the last two as bytes, so the
/// string is not the plain hex of the 16 bytes (it is what `[guid]` and Python's
/// `uuid.UUID(bytes_le=…)` print). `None` unless exactly 16 bytes.
pub fn guid_to_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15]
    ))
}

/// The inverse of [`sid_to_string`], for building fixtures and for filters on `objectSid`.
pub fn sid_from_string(text: &str) -> Option<Vec<u8>> {
    let rest = text
        .strip_prefix("S-")
        .or_else(|| text.strip_prefix("s-"))?;
    let mut parts = rest.split('-');
    let revision: u8 = parts.next()?.parse().ok()?;
    let authority: u64 = parts.next()?.parse().ok()?;
    if revision != 1 || authority >= 1 << 48 {
        return None;
    }
    let subs = parts
        .map(|p| p.parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()?;
    if subs.len() > 15 {
        return None;
    }
    let mut out = vec![revision, u8::try_from(subs.len()).ok()?];
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    for s in subs {
        out.extend_from_slice(&s.to_le_bytes());
    }
    Some(out)
}

/// The inverse of [`guid_to_string`] (Microsoft byte order), for fixtures.
pub fn guid_from_string(text: &str) -> Option<Vec<u8>> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    let mut plain = [0u8; 16];
    for (i, byte) in plain.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    Some(order.iter().map(|i| plain[*i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real Samba objectSid (S-1-5-21-…-1102) and objectGUID as ldapsearch prints them.
    const SID_B64: [u8; 28] = [
        1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x8c, 0x5e, 0x3b, 0x1d, 0x0b, 0xa4, 0x5e, 0x4c, 0x30,
        0x6b, 0x5e, 0x2f, 0x4e, 0x04, 0, 0,
    ];

    #[test]
    fn decodes_a_domain_sid() {
        let s = sid_to_string(&SID_B64).unwrap();
        assert_eq!(s, "S-1-5-21-490430092-1281270795-794716976-1102");
        assert_eq!(sid_from_string(&s).unwrap(), SID_B64.to_vec());
    }

    #[test]
    fn decodes_well_known_sids() {
        assert_eq!(
            sid_to_string(&[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap(),
            "S-1-1-0"
        );
        assert_eq!(
            sid_to_string(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0]).unwrap(),
            "S-1-5-32-544"
        );
    }

    #[test]
    fn refuses_malformed_sids() {
        assert!(sid_to_string(&[]).is_none());
        assert!(sid_to_string(&SID_B64[..27]).is_none(), "truncated");
        let mut wrong_count = SID_B64;
        wrong_count[1] = 4;
        assert!(sid_to_string(&wrong_count).is_none());
        let mut wrong_revision = SID_B64;
        wrong_revision[0] = 2;
        assert!(sid_to_string(&wrong_revision).is_none());
        assert!(sid_from_string("S-1-5-x").is_none());
        assert!(sid_from_string("1-5-21").is_none());
    }

    #[test]
    fn decodes_guid_in_microsoft_byte_order() {
        // uuid.UUID(bytes_le=bytes(range(16))) == 03020100-0504-0706-0809-0a0b0c0d0e0f
        let bytes: Vec<u8> = (0u8..16).collect();
        let s = guid_to_string(&bytes).unwrap();
        assert_eq!(s, "03020100-0504-0706-0809-0a0b0c0d0e0f");
        assert_eq!(guid_from_string(&s).unwrap(), bytes);
        assert_eq!(
            guid_from_string("3E1E53EE-6566-4652-9CF9-B7A7C78FE37E").unwrap()[..4],
            [0xee, 0x53, 0x1e, 0x3e]
        );
    }

    #[test]
    fn refuses_malformed_guids() {
        assert!(guid_to_string(&[0u8; 15]).is_none());
        assert!(guid_to_string(&[0u8; 17]).is_none());
        assert!(guid_from_string("not-a-guid").is_none());
    }
}
