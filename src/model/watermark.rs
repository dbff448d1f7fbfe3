//! The change detector's vocabulary: which domain controller a pass read, how far its
//! update sequence had got, and what an incremental pass found and did.
//!
//! An Active Directory DC numbers every change it commits (the USN). `highestCommittedUSN`
//! on its rootDSE is the newest; every object carries `uSNChanged`, the USN of its last
//! change. USNs are local to one DC and one database: another DC, or the same DC restored
//! from a backup (which gets a new `invocationId`), numbers differently, so a watermark is
//! only meaningful for the DC, invocation and scope it was taken with.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::reason::{Finding, ReasonCode};

/// What a DC says about itself on its rootDSE and NTDS Settings object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DcState {
    /// `dnsHostName` of the rootDSE: which DC answered (a load-balanced name may reach another
    /// one next time).
    pub dns_host_name: String,
    /// `invocationId` of the DC's NTDS Settings object (the rootDSE's `dsServiceName`), as a
    /// GUID string: it changes when the DC's database is restored, after which its USNs
    /// repeat numbers already handed out.
    pub invocation_id: String,
    /// `highestCommittedUSN` of the rootDSE.
    pub highest_committed_usn: u64,
    /// `tombstoneLifetime` (days) of the forest; deletions older than this leave no trace, so
    /// a watermark older than it cannot be trusted.
    pub tombstone_lifetime_days: u64,
}

/// The durable state an incremental pass starts from: one per DC (and Identity Center).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watermark {
    pub dns_host_name: String,
    pub invocation_id: String,
    /// Every change with a USN above this one is still to be synced.
    pub usn: u64,
    /// When the directory was read at `usn` (Unix seconds).
    pub taken_at: i64,
    /// A fingerprint of the settings that decide the scope (sync group, prefix, search
    /// bases, attributes, policy): a change of any of them changes what is in scope without a
    /// directory change.
    pub settings_fingerprint: String,
    /// The users in scope at `usn` (their objectSids, compacted): the only way to know who
    /// left the scope, since a directory does not say which values a group lost.
    pub scope: ScopeSet,
    /// The directory's counts at the last full read (users in scope, flattened memberships,
    /// groups in scope), the base of the mass-change guard for an incremental pass that reads
    /// only the changed users; absent in a watermark from an older version (such a pass then
    /// reads the directory in full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<DirectoryCounts>,
    /// The earliest `accountExpires` after `taken_at` among the users in scope (Unix
    /// seconds), as far as the passes since the last full read saw: an account expiring
    /// changes nothing in the directory, so an incremental pass that finds this moment
    /// passed looks for the accounts that expired (one search). `None`: none is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_expiry: Option<i64>,
}

/// How large the directory's scope was at a full read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryCounts {
    pub users: u64,
    pub memberships: u64,
    pub groups: u64,
}

impl Watermark {
    /// Why this watermark cannot stand for `dc` now (`None`: it can). Anything that breaks
    /// the meaning of "every change above `usn`" makes the caller run a full pass instead.
    pub fn unusable_for(&self, dc: &DcState, fingerprint: &str, now: i64) -> Option<Finding> {
        let about = |f: Finding| f.about(dc.dns_host_name.as_str());
        if !self.dns_host_name.eq_ignore_ascii_case(&dc.dns_host_name) {
            return Some(about(Finding::new(
                ReasonCode::NoWatermark,
                format!(
                    "the watermark is for {}, but {} answered: USNs are local to one domain \
                     controller",
                    self.dns_host_name, dc.dns_host_name
                ),
            )));
        }
        if !self.invocation_id.eq_ignore_ascii_case(&dc.invocation_id) {
            return Some(about(Finding::new(
                ReasonCode::DomainControllerRestored,
                format!(
                    "{}'s invocationId changed from {} to {}: its database was restored (or \
                     reinstalled), so its USNs no longer follow on from the watermark",
                    dc.dns_host_name, self.invocation_id, dc.invocation_id
                ),
            )));
        }
        if dc.highest_committed_usn < self.usn {
            return Some(about(Finding::new(
                ReasonCode::UsnWentBack,
                format!(
                    "{}'s highestCommittedUSN {} is below the watermark {}",
                    dc.dns_host_name, dc.highest_committed_usn, self.usn
                ),
            )));
        }
        let max_age =
            i64::try_from(dc.tombstone_lifetime_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        if now.saturating_sub(self.taken_at) >= max_age {
            return Some(about(Finding::new(
                ReasonCode::WatermarkTooOld,
                format!(
                    "the watermark was taken {} days ago, not less than the tombstone lifetime \
                     ({} days): deletions since then may have left no trace",
                    now.saturating_sub(self.taken_at) / 86_400,
                    dc.tombstone_lifetime_days
                ),
            )));
        }
        if self.settings_fingerprint != fingerprint {
            return Some(about(Finding::new(
                ReasonCode::SettingsChanged,
                "a setting that decides the scope or what is sent changed since the watermark \
                 was taken",
            )));
        }
        None
    }
}

/// A set of objectSids stored compactly: per domain SID, the sorted RIDs as delta-encoded
/// varints, deflated, in base64, plus any SID that is not of the `S-1-5-21-a-b-c-RID` form
/// as it is.
///
/// Why deflate: the record lives in one DynamoDB item (400 kB at most), read by every
/// incremental pass. AD hands out RIDs in sequence to users, groups and computers alike, so
/// the gaps between the RIDs in scope are small numbers that repeat: one varint byte each
/// before deflate, a fraction of one after (`a_scope_set_round_trips_and_is_small`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSet {
    #[serde(default)]
    pub domains: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
    /// The `domains` payloads are deflated (absent in a record from a version that did not
    /// deflate them, which is read as it was written).
    #[serde(default)]
    pub deflated: bool,
}

/// The most a stored scope may inflate to (bytes of varints): far above any directory (a
/// million users is about 1.5 MB), so a damaged record cannot make a pass allocate without
/// bound.
const MAX_INFLATED: u64 = 64 << 20;

fn deflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail; if it somehow did, the set would decode as damaged and
    // the next pass would run in full.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn inflate(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= MAX_INFLATED).then_some(out)
}

impl ScopeSet {
    /// Compacts `sids` (case-insensitive; stored uppercase).
    pub fn from_sids<'a>(sids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut by_domain: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut other = Vec::new();
        for sid in sids {
            let sid = sid.trim().to_ascii_uppercase();
            match sid
                .rsplit_once('-')
                .and_then(|(d, r)| r.parse::<u32>().ok().map(|r| (d, r)))
            {
                Some((domain, rid)) if domain.starts_with("S-1-5-21-") => {
                    by_domain.entry(domain.to_string()).or_default().push(rid);
                }
                _ => other.push(sid),
            }
        }
        other.sort();
        other.dedup();
        let domains = by_domain
            .into_iter()
            .map(|(d, mut rids)| {
                rids.sort_unstable();
                rids.dedup();
                let mut bytes = Vec::with_capacity(rids.len() * 2);
                let mut last = 0u32;
                for rid in rids {
                    let mut delta = rid - last;
                    last = rid;
                    loop {
                        let low = (delta & 0x7f) as u8;
                        delta >>= 7;
                        if delta == 0 {
                            bytes.push(low);
                            break;
                        }
                        bytes.push(low | 0x80);
                    }
                }
                (
                    d,
                    base64::engine::general_purpose::STANDARD.encode(deflate(&bytes)),
                )
            })
            .collect();
        Self {
            domains,
            other,
            deflated: true,
        }
    }

    /// The SIDs (uppercase); `None` when the stored form is damaged.
    pub fn sids(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for (domain, encoded) in &self.domains {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            let bytes = if self.deflated {
                inflate(&bytes)?
            } else {
                bytes
            };
            let (mut last, mut delta, mut shift) = (0u32, 0u32, 0u32);
            for b in bytes {
                delta |= u32::from(b & 0x7f).checked_shl(shift)?;
                if b & 0x80 == 0 {
                    last = last.checked_add(delta)?;
                    out.push(format!("{domain}-{last}"));
                    delta = 0;
                    shift = 0;
                } else {
                    shift += 7;
                    if shift > 28 {
                        return None;
                    }
                }
            }
            if shift != 0 {
                return None;
            }
        }
        out.extend(self.other.iter().cloned());
        Some(out)
    }
}

/// A user entry whose `uSNChanged` moved since the watermark and that is in scope now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedUser {
    pub dn: String,
    pub object_sid: String,
}

/// A group entry whose `uSNChanged` moved since the watermark (a member added or removed, a
/// rename, any attribute), with what it can change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedGroup {
    pub dn: String,
    pub object_guid: String,
    /// The DNs of the groups in scope (synced) whose effective membership it can change: itself
    /// when it is one, and every group in scope it is nested in at any depth.
    pub synced: Vec<String>,
    /// It is the sync group or nested in it: the scope itself may have changed.
    pub in_scope_chain: bool,
}

/// What the change detector found between a watermark and the DC's current USN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryChanges {
    /// Changed users in scope now (out-of-scope users' changes do not matter; users who left
    /// the scope are found by comparing it with the watermark's).
    pub users: Vec<ChangedUser>,
    /// Changed groups that matter: in scope, in the scope chain, or nested in a group in scope.
    pub groups: Vec<ChangedGroup>,
    /// Searches made (rootDSE and NTDS Settings reads included).
    pub ldap_searches: u64,
    /// Changed users in scope left out of `users`: their only changes since the watermark
    /// (by their `replPropertyMetaData`) are to attributes nothing reads (a logon timestamp,
    /// a password).
    #[serde(default)]
    pub unsynced_users: u64,
    /// Changed users outside the scope chain now (uppercase objectSids; logon-timestamp
    /// changes left out): any of them in the watermark's scope left it by its own entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside: Vec<String>,
    /// Changed groups under a group search base that are not in scope now (lowercase
    /// objectGUIDs): one that Identity Center holds was renamed out of the prefix, and has
    /// left the scope (deleted when `deleteGroupsOutOfScope` is set, as a full pass does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_scope_groups: Vec<String>,
    /// Users deleted since the watermark (uppercase objectSids, from their tombstones; seen
    /// only when the bind account may list Deleted Objects): any of them in the watermark's
    /// scope has left it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_users: Vec<String>,
    /// How many bytes the `uSNChanged` searches returned (entries kept or not): what
    /// searching from the same watermark again costs at least.
    #[serde(default)]
    pub searched_bytes: u64,
    /// Groups in scope (DNs) that hold every sync group, and held them before the changes:
    /// their members in scope are the scope itself, so their membership changes are exactly
    /// the users who joined and left it, and they are not compared whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope_wide_groups: Vec<String>,
}

impl DirectoryChanges {
    /// True when nothing in scope changed (no directory read or SCIM request is needed).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

/// How a pass that was asked to be incremental ran, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncrementalSummary {
    /// `incremental`, `idle` (nothing changed: no SCIM request) or `full` (fell back).
    pub mode: String,
    /// Why the pass fell back to a full pass (code `fullPassNeeded`), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Finding>,
    /// The DC the watermark is for.
    pub dc: String,
    /// The watermark the pass started from and the one it saved (equal when nothing moved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_usn: Option<u64>,
    pub to_usn: u64,
    /// Whether the new watermark was saved (only after a pass with nothing failed, withheld
    /// or unfinished, and never by a dry run).
    pub saved: bool,
    /// Entries whose `uSNChanged` moved (users in scope, groups), and users who joined or
    /// left the scope.
    pub changed_users: u64,
    pub changed_groups: u64,
    pub joined_scope: u64,
    pub left_scope: u64,
    /// Users in scope whose account expired since the watermark's `nextExpiry` (no change
    /// in the directory marks that): synced as changed users.
    #[serde(default)]
    pub expired_users: u64,
    /// Users in the watermark's scope deleted since (found by their tombstones, when the
    /// bind account may list Deleted Objects): synced as users who left the scope.
    #[serde(default)]
    pub deleted_users: u64,
    /// Changed users in scope whose only changes since the watermark are to attributes
    /// scim-sync neither syncs nor scopes on (`lastLogonTimestamp`, a password): not synced,
    /// and alone they leave the pass idle.
    #[serde(default)]
    pub unsynced_users: u64,
    /// The users and groups the pass looked up and planned.
    pub affected_users: u64,
    pub affected_groups: u64,
    /// LDAP searches (base reads included) the change detection made, and the read of the
    /// changed users when the directory was not read in full.
    pub ldap_searches: u64,
    /// How the directory was read: `full` (the whole scope, as a full pass) or `changed`
    /// (only the affected objects: the changed users and those who joined the scope, the
    /// groups in scope holding them, and the changed groups in scope with their members);
    /// empty when it was not read (idle, or a full pass).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub directory_read: String,
    /// Whether a `changed` read listed the users in scope (their DNs and objectSids only): a
    /// group of the scope chain changed, so anyone may have joined or left it.
    #[serde(default)]
    pub scope_listed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_set_round_trips_and_is_small() {
        let d = "S-1-5-21-1-2-3";
        let mut sids: Vec<String> = (1000..11000).map(|r| format!("{d}-{r}")).collect();
        sids.push("S-1-5-21-9-9-9-500".into());
        sids.push("S-1-5-32-544".into());
        sids.push(format!("{d}-4294967295"));
        let set = ScopeSet::from_sids(sids.iter().map(String::as_str));
        let mut back = set.sids().unwrap_or_default();
        back.sort();
        let mut want: Vec<String> = sids.iter().map(|s| s.to_ascii_uppercase()).collect();
        want.sort();
        assert_eq!(back, want);
        let size = serde_json::to_string(&set).map(|s| s.len()).unwrap_or(0);
        assert!(size < 2_000, "{size} bytes for 10k consecutive RIDs");
    }

    #[test]
    fn a_scope_of_600k_users_fits_a_dynamodb_item() {
        // Gaps of 1 to 8 between RIDs, uniformly (users interleaved with groups and
        // computers, some out of scope: 3 bits of entropy per user, a pessimistic case), from
        // a fixed linear congruential sequence. Measured: 0.56 bytes per user in the record,
        // so about 700k users fit an item; consecutive RIDs cost next to nothing.
        let d = "S-1-5-21-1-2-3";
        let (mut rid, mut x) = (1000u32, 12345u32);
        let sids: Vec<String> = (0..600_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                rid += 1 + (x >> 16) % 8;
                format!("{d}-{rid}")
            })
            .collect();
        let set = ScopeSet::from_sids(sids.iter().map(String::as_str));
        let size = serde_json::to_string(&set).map(|s| s.len()).unwrap_or(0);
        assert!(size < 380_000, "{size} bytes for 600k users");
        assert_eq!(set.sids().map(|s| s.len()), Some(600_000));
    }

    #[test]
    fn a_scope_set_from_an_older_version_is_still_read() {
        // Plain varints (1000, then +1, +2), as versions before deflate stored them.
        let bytes = [0xe8, 0x07, 0x01, 0x02];
        let mut set = ScopeSet::default();
        set.domains.insert(
            "S-1-5-21-1-2-3".into(),
            base64::engine::general_purpose::STANDARD.encode(bytes),
        );
        let old: ScopeSet = serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        assert!(!old.deflated);
        assert_eq!(
            old.sids().unwrap(),
            [
                "S-1-5-21-1-2-3-1000",
                "S-1-5-21-1-2-3-1001",
                "S-1-5-21-1-2-3-1003"
            ]
        );
    }

    #[test]
    fn a_damaged_scope_set_is_refused() {
        let mut set = ScopeSet::default();
        set.domains
            .insert("S-1-5-21-1-2-3".into(), "gICAgICA".into());
        assert_eq!(set.sids(), None);
        set.domains
            .insert("S-1-5-21-1-2-3".into(), "not base64!".into());
        assert_eq!(set.sids(), None);
    }
}
