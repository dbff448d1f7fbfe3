//! The change detector: how far a domain controller's update sequence has got, and which
//! entries in scope changed since a watermark.
//!
//! Every change an AD DC commits gets the next USN; `highestCommittedUSN` (rootDSE) is the
//! newest and each object's `uSNChanged` the USN of its last change. What this needs from the
//! DC is a read-only account: rootDSE, the DC's NTDS Settings object (`invocationId`), and
//! `(uSNChanged>=N)` searches. Measured on Samba (docs/performance.md, "Incremental passes"):
//! - a `member` change moves the *group's* `uSNChanged`, not the member's (`memberOf` is a
//!   back link), so membership changes are found as changed groups;
//! - a deleted user is not returned to a read-only account, not even with the show-deleted
//!   control, and deleting it does not move its groups' `uSNChanged`: it is found by
//!   comparing the scope with the watermark's when anything in scope changed, else by the
//!   next full pass;
//! - the values a group lost are not readable (no `msDS-ReplValueMetaData`, the
//!   show-deactivated-links control is refused), so who left a group is read from Identity
//!   Center (that group's members) and who left the scope from the watermark's scope.

use std::collections::HashSet;

use ldap3::Scope as LdapScope;

use crate::model::settings::{LdapSettings, Scope};
use crate::model::{ChangedGroup, ChangedUser, DcState, DirectoryChanges};

use super::super::dn::dn_key;
use super::super::error::DirectoryError;
use super::super::filter_escape::filter_value;
use super::super::mapping::AttributeMap;
use super::super::scope::{name_has_prefix, primary_group_sid};
use super::super::sid::{guid_to_string, sid_to_string};
use super::search::Reader;
use super::{default_naming_context, open_reader, resolve_group};

/// AD's tombstone lifetime when the forest sets none (`tombstoneLifetime` absent).
const DEFAULT_TOMBSTONE_DAYS: u64 = 60;

/// One connection to a DC for change detection: its state first, then (when the caller's
/// watermark still stands for it) the entries in scope changed since.
pub struct ChangeReader {
    reader: Reader,
    settings: LdapSettings,
    scope: Scope,
    map: AttributeMap,
    searches: u64,
}

/// Checks the scope, connects and binds.
pub async fn open_change_reader(
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
) -> Result<ChangeReader, DirectoryError> {
    Ok(ChangeReader {
        reader: open_reader(settings, scope).await?,
        settings: settings.clone(),
        scope: scope.clone(),
        map: map.clone(),
        searches: 0,
    })
}

impl ChangeReader {
    /// `highestCommittedUSN`, `dnsHostName`, `invocationId` and the tombstone lifetime.
    pub async fn dc_state(&mut self) -> Result<DcState, DirectoryError> {
        read_dc_state(&mut self.reader, &mut self.searches).await
    }

    /// The changed users in scope and the changed groups that matter, above `usn`.
    pub async fn changes_since(&mut self, usn: u64) -> Result<DirectoryChanges, DirectoryError> {
        let mut changes = read_changes(
            &mut self.reader,
            &self.settings,
            &self.scope,
            &self.map,
            usn,
            &mut self.searches,
        )
        .await?;
        changes.ldap_searches = self.searches;
        Ok(changes)
    }

    /// Searches made so far (base reads included).
    pub fn searches(&self) -> u64 {
        self.searches
    }

    /// Unbinds.
    pub async fn close(mut self) {
        let _ = self.reader.ldap.unbind().await;
    }
}

async fn read_dc_state(reader: &mut Reader, searches: &mut u64) -> Result<DcState, DirectoryError> {
    let missing = |what: &str| DirectoryError::Protocol {
        operation: "read the change watermark".into(),
        detail: format!(
            "the server's rootDSE gives no {what}: incremental passes need an Active Directory \
             domain controller (highestCommittedUSN, dsServiceName, dnsHostName); run full passes"
        ),
    };
    *searches += 1;
    let root = reader
        .read_entry(
            "read rootDSE",
            "",
            "(objectClass=*)",
            &[
                "highestCommittedUSN",
                "dsServiceName",
                "dnsHostName",
                "configurationNamingContext",
            ],
        )
        .await?
        .ok_or_else(|| missing("entry"))?;
    let text = |name: &str| root.text(name).ok().flatten().filter(|v| !v.is_empty());
    let usn = text("highestCommittedUSN")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| missing("highestCommittedUSN"))?;
    let service = text("dsServiceName").ok_or_else(|| missing("dsServiceName"))?;
    let host = text("dnsHostName").ok_or_else(|| missing("dnsHostName"))?;
    *searches += 1;
    let ntds = reader
        .read_entry(
            "read the DC's NTDS Settings",
            &service,
            "(objectClass=*)",
            &["invocationId"],
        )
        .await?;
    let invocation_id = ntds
        .as_ref()
        .and_then(|e| e.values("invocationId"))
        .and_then(|v| v.first())
        .and_then(|b| guid_to_string(b))
        .ok_or_else(|| missing("invocationId on the DC's NTDS Settings object"))?;
    let mut tombstone_lifetime_days = DEFAULT_TOMBSTONE_DAYS;
    if let Some(config) = text("configurationNamingContext") {
        *searches += 1;
        let ds = format!("CN=Directory Service,CN=Windows NT,CN=Services,{config}");
        let entry = match reader
            .read_entry(
                "read the tombstone lifetime",
                &ds,
                "(objectClass=*)",
                &["tombstoneLifetime"],
            )
            .await
        {
            Ok(e) => e,
            // Unreadable for this account: keep the shorter default.
            Err(DirectoryError::Search { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Some(days) = entry
            .and_then(|e| e.text("tombstoneLifetime").ok().flatten())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|d| *d > 0)
        {
            tombstone_lifetime_days = days;
        }
    }
    Ok(DcState {
        dns_host_name: host,
        invocation_id,
        highest_committed_usn: usn,
        tombstone_lifetime_days,
    })
}

/// The changed users in scope and the changed groups that matter, above `usn`.
async fn read_changes(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
    usn: u64,
    searches: &mut u64,
) -> Result<DirectoryChanges, DirectoryError> {
    let base = match &settings.base_dn {
        Some(b) if !b.trim().is_empty() => b.trim().to_string(),
        _ => {
            *searches += 1;
            default_naming_context(reader, map).await?
        }
    };
    let above = usn.saturating_add(1);
    *searches += 1;
    let users = reader
        .search_paged(
            "users changed since the watermark",
            &base,
            LdapScope::Subtree,
            &format!("(&{}(uSNChanged>={above}))", map.user_filter),
            &[map.object_sid, map.member_of, map.primary_group_id],
        )
        .await?;
    *searches += 1;
    let groups = reader
        .search_paged(
            "groups changed since the watermark",
            &base,
            LdapScope::Subtree,
            &format!("(&{}(uSNChanged>={above}))", map.group_filter),
            &[map.object_guid, map.group_name],
        )
        .await?;
    if users.is_empty() && groups.is_empty() {
        return Ok(DirectoryChanges::default());
    }

    // The scope chain: every sync group and exclusion group, and every group nested in one
    // (a change to any of them can move users into or out of the scope).
    let mut chain: HashSet<String> = HashSet::new();
    let mut chain_sids: HashSet<String> = HashSet::new();
    let heads: Vec<String> = scope
        .sync_groups()
        .chain(scope.rules.exclude_groups.iter().map(String::as_str))
        .map(str::to_string)
        .collect();
    for head in heads {
        *searches += 1;
        let head_dn = match resolve_group(reader, &base, &head, map).await {
            Ok(dn) => dn,
            // The full read reports a missing group (and holds back what rests on it).
            Err(DirectoryError::SyncGroupNotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        *searches += 2;
        let nested = reader
            .search_paged(
                "groups nested in a scope group",
                &base,
                LdapScope::Subtree,
                &format!(
                    "(&{}({}:{}:={}))",
                    map.group_filter,
                    map.member_of,
                    map.in_chain_rule,
                    filter_value(&head_dn)
                ),
                &[map.object_sid],
            )
            .await?;
        let head_entry = reader
            .read_entry(
                "read a scope group",
                &head_dn,
                map.group_filter,
                &[map.object_sid],
            )
            .await?;
        chain.insert(dn_key(&head_dn));
        for e in head_entry.iter().chain(&nested) {
            chain.insert(dn_key(&e.dn));
            if let Some(sid) = e
                .values(map.object_sid)
                .and_then(|v| v.first())
                .and_then(|b| sid_to_string(b))
            {
                chain_sids.insert(sid.to_ascii_uppercase());
            }
        }
    }

    let mut changed_users = Vec::new();
    for e in users {
        let Some(sid) = e
            .values(map.object_sid)
            .and_then(|v| v.first())
            .and_then(|b| sid_to_string(b))
        else {
            continue;
        };
        let by_member = e
            .texts(map.member_of)
            .unwrap_or_default()
            .iter()
            .any(|g| chain.contains(&dn_key(g)));
        let by_primary = primary_group_sid(&e, map).is_some_and(|g| chain_sids.contains(&g));
        if by_member || by_primary {
            changed_users.push(ChangedUser {
                dn: e.dn,
                object_sid: sid,
            });
        }
    }

    let group_bases: Vec<String> = scope
        .group_search_bases()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    let base_keys: Vec<String> = group_bases.iter().map(|b| dn_key(b)).collect();
    let synced_here = |dn: &str, name: Option<&str>| {
        let key = dn_key(dn);
        base_keys
            .iter()
            .any(|b| key == *b || key.ends_with(&format!(",{b}")))
            && name.is_some_and(|n| name_has_prefix(n, &scope.group_prefix))
    };
    let prefix_filter = if scope.group_prefix.is_empty() {
        map.group_filter.to_string()
    } else {
        format!(
            "(&{}({}={}*))",
            map.group_filter,
            map.group_name,
            filter_value(&scope.group_prefix)
        )
    };
    let mut changed_groups = Vec::new();
    for e in groups {
        let Some(guid) = e
            .values(map.object_guid)
            .and_then(|v| v.first())
            .and_then(|b| guid_to_string(b))
        else {
            continue;
        };
        let name = e.text(map.group_name).ok().flatten();
        let mut synced = Vec::new();
        if synced_here(&e.dn, name.as_deref()) {
            synced.push(e.dn.clone());
        }
        // The groups in scope it is nested in, at any depth (AD's in-chain rule on `member`).
        for group_base in &group_bases {
            *searches += 1;
            let above = reader
                .search_paged(
                    "groups in scope a changed group is nested in",
                    group_base,
                    LdapScope::Subtree,
                    &format!(
                        "(&{prefix_filter}({}:{}:={}))",
                        map.member,
                        map.in_chain_rule,
                        filter_value(&e.dn)
                    ),
                    &["1.1"],
                )
                .await?;
            for a in above {
                if !synced.iter().any(|s| dn_key(s) == dn_key(&a.dn)) {
                    synced.push(a.dn);
                }
            }
        }
        let in_scope_chain = chain.contains(&dn_key(&e.dn));
        if !synced.is_empty() || in_scope_chain {
            changed_groups.push(ChangedGroup {
                dn: e.dn,
                object_guid: guid,
                synced,
                in_scope_chain,
            });
        }
    }
    Ok(DirectoryChanges {
        users: changed_users,
        groups: changed_groups,
        ldap_searches: 0,
    })
}
