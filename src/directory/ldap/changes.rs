//! The change detector: how far a domain controller's update sequence has got, and which
//! entries in scope changed since a watermark.
//!
//! Every change an AD DC commits gets the next USN; `highestCommittedUSN` (rootDSE) is the
//! newest and each object's `uSNChanged` the USN of its last change. What this needs from the
//! DC is a read-only account: rootDSE, the DC's NTDS Settings object (`invocationId`), and
//! `(uSNChanged>=N)` searches. Measured on Samba (docs/performance.md, "Incremental passes"):
//! - a `member` change moves the *group's* `uSNChanged`, not the member's (`memberOf` is a
//!   back link), so membership changes are found as changed groups;
//! - deleting a user does not move its groups' `uSNChanged`; its tombstone (in Deleted
//!   Objects, with its objectSid) is the only trace, and AD shows tombstones only to an
//!   account that may list that container (`deleted.rs`). Without that grant a deleted user
//!   is found by comparing the scope with the watermark's when the scope is listed (a group
//!   of its chain changed) or read in full, else by the next full pass;
//! - the values a group lost are not readable (no `msDS-ReplValueMetaData`, the
//!   show-deactivated-links control is refused), so who left a group is read from Identity
//!   Center (that group's members) and who left the scope from the watermark's scope.

use std::collections::HashSet;

use ldap3::Scope as LdapScope;

use crate::model::settings::{FilterNode, LdapSettings, Scope};
use crate::model::{ChangedGroup, ChangedUser, DcState, DirectoryChanges, DirectorySnapshot};

use super::super::dn::dn_key;
use super::super::entry::RawEntry;
use super::super::error::DirectoryError;
use super::super::filter_escape::filter_value;
use super::super::mapping::AttributeMap;
use super::super::scope::{primary_group_sid, SyncedGroups};
use super::deleted::{read_tombstones, Tombstones};
use super::metadata::{only_ignorable_since, CHURN_ATTRIBUTES};
use super::search::Reader;
use super::walk_up::WalkUp;
use super::{open_reader, resolve_group, search_base};

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
    /// The rootDSE's naming contexts (read with the DC's state).
    contexts: NamingContexts,
}

/// The naming contexts the change detector reads from, from the rootDSE.
#[derive(Debug, Clone, Default)]
struct NamingContexts {
    /// `schemaNamingContext`: where to ask which attributes are linked.
    schema: Option<String>,
    /// `defaultNamingContext`: the domain, whose Deleted Objects container holds the
    /// tombstones of deleted users and groups.
    domain: Option<String>,
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
        contexts: NamingContexts::default(),
    })
}

impl ChangeReader {
    /// `highestCommittedUSN`, `dnsHostName`, `invocationId` and the tombstone lifetime.
    pub async fn dc_state(&mut self) -> Result<DcState, DirectoryError> {
        let (dc, contexts) = read_dc_state(&mut self.reader, &mut self.searches).await?;
        self.contexts = contexts;
        Ok(dc)
    }

    /// The changed users in scope and the changed groups that matter, above `usn`.
    pub async fn changes_since(&mut self, usn: u64) -> Result<DirectoryChanges, DirectoryError> {
        let mut changes = read_changes(
            &mut self.reader,
            &self.settings,
            &self.scope,
            &self.map,
            usn,
            &self.contexts,
            &mut self.searches,
        )
        .await?;
        changes.ldap_searches = self.searches;
        Ok(changes)
    }

    /// Every user in scope now (DN and objectSid, uppercase), listed with two attributes
    /// each; for a scope without `userFilter` and `excludeGroups` (see `affected.rs`).
    pub async fn read_scope(&mut self) -> Result<Vec<ChangedUser>, DirectoryError> {
        super::affected::read_scope(
            &mut self.reader,
            &self.settings,
            &self.scope,
            &self.map,
            &mut self.searches,
        )
        .await
    }

    /// The directory's side of the affected objects, for a scope without `userFilter` and
    /// `excludeGroups`: the `primary` users' entries (in scope now) and the groups in scope
    /// holding them, with only them as members (see `changed.rs`); and the `whole` groups
    /// (DNs of changed groups in scope) with every member in scope (`in_scope`, uppercase
    /// objectSid), as objectSids only (see `affected.rs`).
    pub async fn read_affected(
        &mut self,
        primary: &[ChangedUser],
        whole: &[String],
        in_scope: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<DirectorySnapshot, DirectoryError> {
        let mut snapshot = super::changed::read_changed_users(
            &mut self.reader,
            &self.settings,
            &self.scope,
            &self.map,
            primary,
            &mut self.searches,
        )
        .await?;
        if !whole.is_empty() {
            let groups = super::affected::read_whole_groups(
                &mut self.reader,
                &self.settings,
                &self.map,
                whole,
                in_scope,
                &mut self.searches,
            )
            .await?;
            super::affected::merge(&mut snapshot, groups);
        }
        Ok(snapshot)
    }

    /// Adds to `into` the entries of the users with these objectSids (uppercase; users known
    /// to be in scope), each not found listed as skipped with its anchor.
    pub async fn read_users_by_sid(
        &mut self,
        sids: &[String],
        into: &mut DirectorySnapshot,
    ) -> Result<(), DirectoryError> {
        let read = super::affected::read_users_by_sid(
            &mut self.reader,
            &self.settings,
            &self.map,
            sids,
            &mut self.searches,
        )
        .await?;
        super::affected::merge(into, read);
        Ok(())
    }

    /// Adds to `into` the groups in scope among those with these objectGUIDs, with no
    /// member (groups Identity Center says hold a user who left the scope).
    pub async fn read_synced_groups_by_guid(
        &mut self,
        guids: &[String],
        into: &mut DirectorySnapshot,
    ) -> Result<(), DirectoryError> {
        let read = super::affected::read_synced_groups_by_guid(
            &mut self.reader,
            &self.settings,
            &self.scope,
            &self.map,
            guids,
            &mut self.searches,
        )
        .await?;
        super::affected::merge(into, read);
        Ok(())
    }

    /// The users whose account expires at or after `from` (Unix seconds), split into those
    /// expired by `now` and those still to expire (see `expiry.rs`).
    pub async fn expiries(
        &mut self,
        from: i64,
        now: i64,
    ) -> Result<super::expiry::Expiries, DirectoryError> {
        super::expiry::read_expiries(
            &mut self.reader,
            &self.settings,
            &self.map,
            from,
            now,
            &mut self.searches,
        )
        .await
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

async fn read_dc_state(
    reader: &mut Reader,
    searches: &mut u64,
) -> Result<(DcState, NamingContexts), DirectoryError> {
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
                "schemaNamingContext",
                "defaultNamingContext",
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
        .and_then(|e| e.guid("invocationId"))
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
    Ok((
        DcState {
            dns_host_name: host,
            invocation_id,
            highest_committed_usn: usn,
            tombstone_lifetime_days,
        },
        NamingContexts {
            schema: text("schemaNamingContext"),
            domain: text("defaultNamingContext"),
        },
    ))
}

/// The changed users in scope and the changed groups that matter, above `usn`.
async fn read_changes(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
    usn: u64,
    contexts: &NamingContexts,
    searches: &mut u64,
) -> Result<DirectoryChanges, DirectoryError> {
    let base = search_base(reader, settings, map, searches).await?;
    let above = usn.saturating_add(1);
    *searches += 1;
    let users = reader
        .search_paged(
            "users changed since the watermark",
            &base,
            LdapScope::Subtree,
            &format!("(&{}(uSNChanged>={above}))", map.user_filter),
            &[
                map.object_sid,
                map.member_of,
                map.primary_group_id,
                "uSNChanged",
                "replPropertyMetaData",
            ],
        )
        .await?;
    *searches += 1;
    let groups = reader
        .search_paged(
            "groups changed since the watermark",
            &base,
            LdapScope::Subtree,
            &format!("(&{}(uSNChanged>={above}))", map.group_filter),
            &[map.object_guid, map.group_name, map.member_of],
        )
        .await?;
    let searched_bytes: u64 = users.iter().chain(&groups).map(RawEntry::size).sum();
    let tombstones = match &contexts.domain {
        Some(nc) => read_tombstones(reader, nc, map, above, searches).await?,
        None => Tombstones::default(),
    };
    if users.is_empty() && groups.is_empty() && tombstones.is_empty() {
        return Ok(DirectoryChanges::default());
    }

    // The scope chain: every sync group and exclusion group, and every group nested in one
    // (a change to any of them can move users into or out of the scope).
    let mut chain: HashSet<String> = HashSet::new();
    let mut chain_sids: HashSet<String> = HashSet::new();
    let sync_heads = scope.sync_groups().count();
    let heads: Vec<String> = scope
        .sync_groups()
        .chain(scope.rules.exclude_groups.iter().map(String::as_str))
        .map(str::to_string)
        .collect();
    // The sync groups' entries (DN, name, memberOf), for `scope_wide_groups`.
    let mut sync_entries: Vec<RawEntry> = Vec::new();
    for (i, head) in heads.into_iter().enumerate() {
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
                &[map.object_sid, map.group_name, map.member_of],
            )
            .await?;
        if i < sync_heads {
            sync_entries.extend(head_entry.clone());
        }
        chain.insert(dn_key(&head_dn));
        for e in head_entry.iter().chain(&nested) {
            chain.insert(dn_key(&e.dn));
            if let Some(sid) = e.sid(map.object_sid) {
                chain_sids.insert(sid.to_ascii_uppercase());
            }
        }
    }

    let ignorable = ignorable_attributes(scope, map);
    let mut changed_users = Vec::new();
    // Changed users in scope whose only changes are to attributes nothing reads.
    let mut churn = Vec::new();
    // Changed users outside the chain now (they may have left the scope by their own entry,
    // e.g. a new primaryGroupID).
    let mut outside = Vec::new();
    for e in users {
        let Some(sid) = e.sid(map.object_sid) else {
            continue;
        };
        let by_member = e
            .texts(map.member_of)
            .unwrap_or_default()
            .iter()
            .any(|g| chain.contains(&dn_key(g)));
        let by_primary = primary_group_sid(&e, map).is_some_and(|g| chain_sids.contains(&g));
        let usn_changed = e
            .text("uSNChanged")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse::<u64>().ok());
        let metadata = e.first("replPropertyMetaData");
        let only_churn = only_ignorable_since(metadata, usn, usn_changed, &ignorable);
        if !(by_member || by_primary) {
            if !only_churn {
                outside.push(sid.to_ascii_uppercase());
            }
            continue;
        }
        let user = ChangedUser {
            dn: e.dn.clone(),
            object_sid: sid,
        };
        if only_churn {
            churn.push(user);
        } else {
            changed_users.push(user);
        }
    }
    let mut unsynced_users = 0;
    if !churn.is_empty() {
        if no_read_attribute_is_linked(reader, scope, map, contexts.schema.as_deref(), searches)
            .await?
        {
            unsynced_users = churn.len() as u64;
        } else {
            changed_users.append(&mut churn);
        }
    }

    let synced_groups = SyncedGroups::of(scope);
    let synced_here =
        |dn: &str, name: Option<&str>| name.is_some_and(|n| synced_groups.holds(dn, n));
    let mut changed_groups = Vec::new();
    let mut out_of_scope_groups = Vec::new();
    // Groups read on the way up from a changed group: their DN and name.
    let attrs = [map.group_name, map.member_of];
    let mut walk = WalkUp::new(
        "read a group a changed group is nested in",
        map.group_filter,
        &attrs,
        map.member_of,
    );
    let changed_keys: HashSet<String> = groups.iter().map(|e| dn_key(&e.dn)).collect();
    for e in groups {
        let Some(guid) = e.guid(map.object_guid) else {
            continue;
        };
        let name = e.text(map.group_name).ok().flatten();
        let mut synced = Vec::new();
        let synced_itself = synced_here(&e.dn, name.as_deref());
        if synced_itself {
            synced.push(e.dn.clone());
        } else if synced_groups.is_under_a_base(&e.dn) {
            // Not in scope by its name now: renamed out of the prefix, if it ever was in.
            out_of_scope_groups.push(guid.to_ascii_lowercase());
        }
        // The groups in scope it is nested in, at any depth: up `memberOf` (a back link AD
        // keeps on groups too), one base read per group, each read once per pass. (AD's
        // in-chain rule on `member` answers in one search, but Samba evaluates it against
        // every group under the base: ~20 s at 10k users and 1000 groups.)
        walk.walk(
            reader,
            e.texts(map.member_of).unwrap_or_default(),
            searches,
            |g| (g.dn.clone(), g.text(map.group_name).ok().flatten()),
            |key, (group_dn, group_name)| {
                if synced_here(group_dn, group_name.as_deref())
                    && !synced.iter().any(|s| dn_key(s) == key)
                {
                    synced.push(group_dn.clone());
                }
            },
        )
        .await?;
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
    let scope_wide = if changed_groups.iter().any(|g| !g.synced.is_empty())
        && tombstones.groups.is_empty()
        && sync_entries.len() == sync_heads
    {
        scope_wide_groups(
            reader,
            &sync_entries,
            &changed_keys,
            (&mut walk, map.group_name, &synced_here),
            searches,
        )
        .await?
    } else {
        Vec::new()
    };
    // A deleted group may have been anywhere in the scope chain (its tombstone keeps no
    // memberOf), and its groups' uSNChanged did not move: the scope is listed again. One
    // that Identity Center holds is out of scope, as it is for a full pass.
    for guid in &tombstones.groups {
        changed_groups.push(ChangedGroup {
            dn: format!("<GUID={guid}>"),
            object_guid: guid.clone(),
            synced: Vec::new(),
            in_scope_chain: true,
        });
        out_of_scope_groups.push(guid.clone());
    }
    Ok(DirectoryChanges {
        users: changed_users,
        groups: changed_groups,
        ldap_searches: 0,
        unsynced_users,
        outside,
        out_of_scope_groups,
        deleted_users: tombstones.users,
        searched_bytes,
        scope_wide_groups: scope_wide,
    })
}

/// The walk up from changed groups: each group's DN and name.
type NamedGroups<'a> = WalkUp<'a, (String, Option<String>)>;
/// Whether a group (DN, name) is in scope.
type IsSynced<'a> = dyn Fn(&str, Option<&str>) -> bool + Sync + 'a;

/// The groups in scope that hold every sync group (each sync group itself when synced, and
/// each group in scope all of them are nested in), when none of the groups above a sync group
/// changed since the watermark (so each held them then too). Such a group's members in scope
/// are the scope itself, before and after: its membership changes are exactly who joined and
/// who left the scope, and it need not be compared whole (at 100k users that comparison
/// would list 100k members from Identity Center for one user joining). Empty when a group
/// above a sync group changed: the nesting may be new.
async fn scope_wide_groups(
    reader: &mut Reader,
    sync_entries: &[RawEntry],
    changed: &HashSet<String>,
    (walk, group_name, synced_here): (&mut NamedGroups<'_>, &str, &IsSynced<'_>),
    searches: &mut u64,
) -> Result<Vec<String>, DirectoryError> {
    let mut common: Option<Vec<String>> = None;
    for head in sync_entries {
        let mut holding: Vec<String> = Vec::new();
        let name = head.text(group_name).ok().flatten();
        if synced_here(&head.dn, name.as_deref()) {
            holding.push(head.dn.clone());
        }
        let mut above_changed = false;
        walk.walk(
            reader,
            head.texts(walk.member_of).unwrap_or_default(),
            searches,
            |g| (g.dn.clone(), g.text(group_name).ok().flatten()),
            |key, (dn, name)| {
                above_changed |= changed.contains(key);
                if synced_here(dn, name.as_deref()) {
                    holding.push(dn.clone());
                }
            },
        )
        .await?;
        if above_changed {
            return Ok(Vec::new());
        }
        common = Some(match common {
            None => holding,
            Some(before) => before
                .into_iter()
                .filter(|g| holding.iter().any(|h| dn_key(h) == dn_key(g)))
                .collect(),
        });
    }
    Ok(common.unwrap_or_default())
}

/// The ATTRTYPs of [`CHURN_ATTRIBUTES`] the settings read nowhere: not mapped, not named in
/// `scope.userFilter` (compared as text, so any mention keeps the attribute).
fn ignorable_attributes(scope: &Scope, map: &AttributeMap) -> Vec<u32> {
    let filter = scope
        .rules
        .user_filter
        .as_ref()
        .map(|f| f.as_str().to_ascii_lowercase())
        .unwrap_or_default();
    let read = map.user_attributes();
    CHURN_ATTRIBUTES
        .iter()
        .filter(|(_, name)| {
            !read.iter().any(|r| r.eq_ignore_ascii_case(name))
                && !filter.contains(&name.to_ascii_lowercase())
        })
        .map(|(attid, _)| *attid)
        .collect()
}

/// Attribute names a filter tests; `None` when one is not named (an extensible match on
/// every attribute), which the caller takes as "could be anything".
fn filter_attributes(node: &FilterNode, out: &mut Vec<String>) -> Option<()> {
    match node {
        FilterNode::And(v) | FilterNode::Or(v) => {
            for n in v {
                filter_attributes(n, out)?;
            }
        }
        FilterNode::Not(n) => filter_attributes(n, out)?,
        FilterNode::Equal { attr, .. }
        | FilterNode::Approx { attr, .. }
        | FilterNode::GreaterOrEqual { attr, .. }
        | FilterNode::LessOrEqual { attr, .. }
        | FilterNode::Present { attr }
        | FilterNode::Substring { attr, .. } => out.push(attr.clone()),
        FilterNode::Extensible {
            attr: Some(attr),
            dn_attributes: false,
            ..
        } => out.push(attr.clone()),
        FilterNode::Extensible { .. } => return None,
    }
    Some(())
}

/// True when no user attribute the settings read (mapped, or named in `scope.userFilter`) is
/// a linked attribute (`linkID` in the schema): a linked value's change (`manager`) is not
/// in `replPropertyMetaData`, so only then does that metadata tell every change that
/// matters. Any doubt (no schema naming context, a refused search) is "linked".
async fn no_read_attribute_is_linked(
    reader: &mut Reader,
    scope: &Scope,
    map: &AttributeMap,
    schema_nc: Option<&str>,
    searches: &mut u64,
) -> Result<bool, DirectoryError> {
    let mut names: Vec<String> = map
        .user_attributes()
        .iter()
        .map(|n| n.to_string())
        .collect();
    if let Some(filter) = &scope.rules.user_filter {
        if filter_attributes(filter.root(), &mut names).is_none() {
            return Ok(false);
        }
    }
    let Some(schema_nc) = schema_nc else {
        return Ok(false);
    };
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names.dedup_by_key(|n| n.to_ascii_lowercase());
    let any_of: String = names
        .iter()
        .map(|n| format!("(lDAPDisplayName={})", filter_value(n)))
        .collect();
    *searches += 1;
    match reader
        .search_paged(
            "linked attributes among those read",
            schema_nc,
            LdapScope::OneLevel,
            &format!("(&(objectClass=attributeSchema)(linkID=*)(|{any_of}))"),
            &["lDAPDisplayName"],
        )
        .await
    {
        Ok(linked) => {
            if let Some(e) = linked.first() {
                tracing::debug!(attribute = %e.dn, "a linked attribute is read: logon-timestamp changes are synced as changes");
            }
            Ok(linked.is_empty())
        }
        Err(DirectoryError::Search { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
