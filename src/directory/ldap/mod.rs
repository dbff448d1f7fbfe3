//! The LDAP source: one bound connection, four kinds of search, one snapshot.
//!
//! Users are the sync group's direct and nested members: the nested groups come from AD's
//! in-chain rule (server-side, so the directory's own nesting semantics decide), the users
//! from indexed `memberOf` searches over that chain. Groups come from a paged search under
//! the group search base; their `member` values (ranged) and those of the groups nested in
//! them are flattened client-side by the same code the LDIF source uses.

mod affected;
mod chain;
mod changed;
mod changes;
mod connect;
mod deleted;
mod expiry;
mod metadata;
mod range;
mod rules;
mod search;
mod walk_up;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use ldap3::Scope as LdapScope;

use crate::model::settings::{LdapSettings, Scope};
use crate::model::{DirectorySnapshot, EntryKind, ReasonCode, SharedStrings, SkippedEntry};

use super::dn::{dn_key, domain_head, looks_like_dn};
use super::entry::{decode_group, decode_user, RawEntry};
use super::error::DirectoryError;
use super::filter_escape::filter_value;
use super::mapping::AttributeMap;
use super::scope::{assemble, primary_group_sid, validate_scope, GroupCandidate, MembershipGraph};

pub(crate) use search::Reader;

pub use chain::read_ldap_ancestry;
pub use changes::{open_change_reader, ChangeReader};
pub use expiry::Expiries;

/// Reads the directory in scope over LDAP (Active Directory attribute profile).
pub async fn read_ldap(
    settings: &LdapSettings,
    scope: &Scope,
) -> Result<DirectorySnapshot, DirectoryError> {
    read_ldap_with(settings, scope, &AttributeMap::active_directory()).await
}

/// [`read_ldap`] with an explicit attribute profile.
pub async fn read_ldap_with(
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
) -> Result<DirectorySnapshot, DirectoryError> {
    let mut reader = open_reader(settings, scope).await?;
    let result = read_all(&mut reader, settings, scope, map).await;
    let _ = reader.ldap.unbind().await;
    result
}

/// Checks the scope, connects and binds: a reader ready for searches (the snapshot read and
/// `explain`'s walk up the directory open it the same way, and so does the `openldap`
/// profile's reader).
pub(crate) async fn open_reader(
    settings: &LdapSettings,
    scope: &Scope,
) -> Result<Reader, DirectoryError> {
    validate_scope(scope)?;
    let url = settings.url.as_str().to_string();
    let ldap = connect::connect_and_bind(settings, &url).await?;
    Ok(Reader {
        ldap,
        url,
        page_size: settings.page_size,
        timeout: settings.operation_timeout,
    })
}

async fn read_all(
    reader: &mut Reader,
    settings: &LdapSettings,
    scope: &Scope,
    map: &AttributeMap,
) -> Result<DirectorySnapshot, DirectoryError> {
    let base = search_base(reader, settings, map, &mut 0).await?;
    let mut skipped: Vec<SkippedEntry> = Vec::new();
    let sync_dns = rules::resolve_sync_groups(reader, &base, scope, map, &mut skipped).await?;
    // Group SID → DN of every group read, to place primary-group members.
    let mut group_dn_by_sid: HashMap<String, String> = HashMap::new();
    let (mut users, mut primary) = read_users(
        reader,
        &base,
        &sync_dns,
        scope.rules.user_filter.as_ref().map(|f| f.as_str()),
        map,
        &mut skipped,
        &mut group_dn_by_sid,
    )
    .await?;
    let mut excluded =
        rules::drop_excluded(reader, &base, scope, map, &mut users, &mut primary).await?;
    excluded.extend(rules::filtered_out(reader, &base, &sync_dns, scope, map).await?);

    let member_request = range::first_request(map.member, settings.range_window);
    let group_filter = if scope.group_prefix.is_empty() {
        map.group_filter.to_string()
    } else {
        format!(
            "(&{}({}={}*))",
            map.group_filter,
            map.group_name,
            filter_value(&scope.group_prefix)
        )
    };
    let group_attrs: Vec<&str> = map
        .group_attributes()
        .into_iter()
        .chain([member_request.as_str()])
        .collect();
    let mut found = GroupsFound::default();
    // Groups whose members the server cut short (AD's 1500-value ranges): read after the
    // search, since completing them needs the connection the search is using.
    let mut ranged: Vec<RawEntry> = Vec::new();
    for group_base in scope.group_search_bases() {
        reader
            .search_each(
                "groups in scope",
                group_base.trim(),
                LdapScope::Subtree,
                &group_filter,
                &group_attrs,
                |e| {
                    if !found.first_sight(&e.dn) {
                        return Ok(()); // under two of the search bases
                    }
                    let (values, next) = range::values_in_entry(&e, map.member)?;
                    if next.is_some() {
                        ranged.push(e);
                    } else {
                        found.accept(&e, texts(values, map), map, &mut skipped);
                    }
                    Ok(())
                },
            )
            .await?;
    }
    for e in ranged {
        let members = member_dns(reader, &e, map, settings.range_window).await?;
        let members = members
            .as_ref()
            .map(|m| m.iter().map(String::as_str).collect());
        found.accept(&e, members.map_err(String::clone), map, &mut skipped);
    }

    let GroupsFound {
        mut graph,
        groups,
        members,
        ..
    } = found;
    for g in &groups {
        if let Some(sid) = &g.group.object_sid {
            group_dn_by_sid.insert(sid.to_ascii_uppercase(), g.group.dn.clone());
        }
    }
    let nested = expand_nested_groups(
        reader,
        &base,
        map,
        settings.range_window,
        &users,
        &mut graph,
        &members,
    )
    .await?;
    group_dn_by_sid.extend(nested.group_dn_by_sid);
    // AD lists no primary-group member in `member`: a user whose primary group is a synced
    // group, or one nested in it, is a member all the same.
    for (user_dn, group_sid) in &primary {
        if let Some(group_dn) = group_dn_by_sid.get(group_sid) {
            graph.add(group_dn, user_dn);
        }
    }
    let mut bases = vec![base.as_str()];
    bases.extend(scope.group_search_bases().map(str::trim));
    let domain_sids = read_domain_sids(reader, &bases, map).await?;
    let mut snapshot = assemble(users, groups, &graph, skipped, &nested.unreadable);
    snapshot.domain_sids = domain_sids;
    snapshot.excluded = super::scope::sorted_exclusions(excluded);
    Ok(snapshot)
}

/// The `objectSid` of the domain head (naming context) of each search base, read every pass:
/// only Identity Center users whose externalId is an account SID of these domains are ours.
/// A base whose head carries no objectSid (not Active Directory) adds nothing.
pub(super) async fn read_domain_sids(
    reader: &mut Reader,
    bases: &[&str],
    map: &AttributeMap,
) -> Result<Vec<String>, DirectoryError> {
    let mut heads: Vec<String> = bases.iter().filter_map(|b| domain_head(b)).collect();
    heads.sort_by_key(|h| dn_key(h));
    heads.dedup_by_key(|h| dn_key(h));
    let mut sids = Vec::new();
    for head in heads {
        // A base outside this server's naming contexts has no head here to read.
        let entry = reader
            .read_entry_here(
                "read the domain head",
                &head,
                "(objectClass=*)",
                &[map.object_sid],
            )
            .await?;
        let sid = entry.as_ref().and_then(|e| e.sid(map.object_sid));
        sids.extend(sid);
    }
    Ok(sids)
}

/// The groups in scope as the search delivers them, with their direct members in the graph.
#[derive(Default)]
struct GroupsFound {
    graph: MembershipGraph,
    groups: Vec<GroupCandidate>,
    /// Every direct member of a group in scope, by number: the candidates for nesting.
    members: HashSet<u32>,
    /// DN keys of the groups the searches returned (a group under two search bases once).
    seen: HashSet<String>,
}

impl GroupsFound {
    /// True the first time a group's DN is seen.
    fn first_sight(&mut self, dn: &str) -> bool {
        self.seen.insert(dn_key(dn))
    }

    /// Takes a group entry and its member DNs (or the reason they are unusable).
    fn accept(
        &mut self,
        e: &RawEntry,
        members: Result<Vec<&str>, String>,
        map: &AttributeMap,
        skipped: &mut Vec<SkippedEntry>,
    ) {
        let members = match members {
            Ok(m) => m,
            Err(reason) => {
                let anchor = decode_group(e, map).ok().map(|g| g.object_guid);
                skipped.push(SkippedEntry {
                    dn: e.dn.clone(),
                    anchor,
                    code: ReasonCode::UnreadableMembers,
                    reason,
                    kind: EntryKind::Group,
                    user_names: Vec::new(),
                });
                return;
            }
        };
        match decode_group(e, map) {
            Ok(g) => {
                let group = self.graph.touch(&e.dn);
                for m in members {
                    let member = self.graph.intern(m);
                    self.graph.add_ids(group, member);
                    self.members.insert(member);
                }
                self.groups.push(GroupCandidate { group: g });
            }
            Err(s) => skipped.push(s),
        }
    }
}

/// Member values as DNs; the `Err` is a reason to skip the group.
fn texts<'e>(values: Vec<&'e [u8]>, map: &AttributeMap) -> Result<Vec<&'e str>, String> {
    values
        .into_iter()
        .map(|v| {
            std::str::from_utf8(v).map_err(|_| format!("a {} value is not valid UTF-8", map.member))
        })
        .collect()
}

/// How many groups one user search names (`(|(memberOf=g1)(memberOf=g2)…)`), keeping
/// filters well under servers' request size limits.
const GROUPS_PER_USER_SEARCH: usize = 100;

/// The users in scope: direct members of a sync group or of any group nested in one, that
/// match `user_filter` (`scope.userFilter`) when there is one; see [`each_member_entry`].
/// Users in scope, and for those with a `primaryGroupID`, (DN, primary group SID).
type UsersRead = (Vec<crate::model::DirectoryUser>, Vec<(String, String)>);

async fn read_users(
    reader: &mut Reader,
    base: &str,
    sync_dns: &[String],
    user_filter: Option<&str>,
    map: &AttributeMap,
    skipped: &mut Vec<SkippedEntry>,
    group_dn_by_sid: &mut HashMap<String, String>,
) -> Result<UsersRead, DirectoryError> {
    let shared = SharedStrings::default();
    let mut users = Vec::new();
    let mut primary = Vec::new();
    let attrs = map.user_attributes();
    each_member_entry(
        reader,
        MemberSearch {
            base,
            heads: sync_dns,
            user_filter,
            attrs: &attrs,
            map,
        },
        group_dn_by_sid,
        |e| match decode_user(&e, map, &shared) {
            Ok(u) => {
                if let Some(g) = primary_group_sid(&e, map) {
                    primary.push((e.dn.clone(), g));
                }
                users.push(u);
            }
            Err(s) => skipped.push(s),
        },
    )
    .await?;
    Ok((users, primary))
}

/// What [`each_member_entry`] searches: the users under `base` that are direct members of
/// one of `heads` or of a group nested in one (and match `user_filter`), read with `attrs`.
pub(super) struct MemberSearch<'a> {
    pub base: &'a str,
    pub heads: &'a [String],
    pub user_filter: Option<&'a str>,
    pub attrs: &'a [&'a str],
    pub map: &'a AttributeMap,
}

/// Calls `each` once per user entry that is a direct member of a head group or of any group
/// nested in one, at any depth, or has one of them as its primary group.
///
/// AD's in-chain rule finds the nested groups (few candidates, cheap); the users then come
/// from indexed `memberOf` equality searches. That is the same set as an in-chain search
/// over users, which directories evaluate against every user object (on Samba, seconds
/// for a few thousand users instead of a fraction of a second). `group_dn_by_sid` learns
/// the SID → DN of every group of the chain (to place primary-group members). Returns the
/// number of searches made.
pub(super) async fn each_member_entry(
    reader: &mut Reader,
    search: MemberSearch<'_>,
    group_dn_by_sid: &mut HashMap<String, String>,
    mut each: impl FnMut(RawEntry),
) -> Result<u64, DirectoryError> {
    let MemberSearch {
        base,
        heads,
        user_filter,
        attrs,
        map,
    } = search;
    let mut closure: Vec<String> = Vec::new();
    let mut in_closure: HashSet<String> = HashSet::new();
    let mut closure_sids: HashSet<String> = HashSet::new();
    let mut searches = 0u64;
    for head_dn in heads {
        searches += 2;
        let nested_filter = format!(
            "(&{}({}:{}:={}))",
            map.group_filter,
            map.member_of,
            map.in_chain_rule,
            filter_value(head_dn)
        );
        let head_entry = reader
            .read_entry(
                "read sync group",
                head_dn,
                map.group_filter,
                &[map.object_sid],
            )
            .await?;
        let nested = reader
            .search_paged(
                "groups nested in the sync group",
                base,
                LdapScope::Subtree,
                &nested_filter,
                &[map.object_sid],
            )
            .await?;
        for e in head_entry.iter().chain(&nested) {
            if let Some(sid) = e.sid(map.object_sid) {
                let sid = sid.to_ascii_uppercase();
                group_dn_by_sid.insert(sid.clone(), e.dn.clone());
                closure_sids.insert(sid);
            }
        }
        let dns = std::iter::once(head_dn.clone()).chain(nested.into_iter().map(|e| e.dn));
        for dn in dns {
            if in_closure.insert(dn_key(&dn)) {
                closure.push(dn);
            }
        }
    }
    let extra = user_filter.unwrap_or_default();
    let mut seen = HashSet::new();
    // (else a member of several groups of the chain)
    let mut accept = |e: RawEntry| {
        if seen.insert(dn_key(&e.dn)) {
            each(e);
        }
    };
    for chunk in closure.chunks(GROUPS_PER_USER_SEARCH) {
        let any_of: String = chunk
            .iter()
            .map(|g| format!("({}={})", map.member_of, filter_value(g)))
            .collect();
        let filter = format!("(&{}{extra}(|{any_of}))", map.user_filter);
        searches += 1;
        reader
            .search_each(
                "users in scope",
                base,
                LdapScope::Subtree,
                &filter,
                attrs,
                |e| {
                    accept(e);
                    Ok(())
                },
            )
            .await?;
    }
    // Members by primary group: listed in no `member`, so found by primaryGroupID (a RID,
    // checked against the whole SID since RIDs repeat across domains).
    let rids: BTreeSet<&str> = closure_sids
        .iter()
        .filter_map(|s| s.rsplit_once('-').map(|(_, rid)| rid))
        .collect();
    let rids: Vec<&str> = rids.into_iter().collect();
    for chunk in rids.chunks(GROUPS_PER_USER_SEARCH) {
        let any_of: String = chunk
            .iter()
            .map(|rid| format!("({}={rid})", map.primary_group_id))
            .collect();
        let filter = format!("(&{}{extra}(|{any_of}))", map.user_filter);
        searches += 1;
        reader
            .search_each(
                "users in scope by primary group",
                base,
                LdapScope::Subtree,
                &filter,
                attrs,
                |e| {
                    if primary_group_sid(&e, map).is_some_and(|g| closure_sids.contains(&g)) {
                        accept(e);
                    }
                    Ok(())
                },
            )
            .await?;
    }
    Ok(searches)
}

/// Reads the members of every group nested (at any depth) in the groups in scope, so that
/// flattening sees the whole chain. Only DNs that are groups are followed; which DNs are
/// groups comes from one paged DN-only search, so out-of-scope users cost nothing. Returns the
/// SID → DN of the nested groups read, to place their primary-group members.
async fn expand_nested_groups(
    reader: &mut Reader,
    base: &str,
    map: &AttributeMap,
    window: Option<u32>,
    users: &[crate::model::DirectoryUser],
    graph: &mut MembershipGraph,
    members: &HashSet<u32>,
) -> Result<NestedRead, DirectoryError> {
    let mut found = NestedRead::default();
    let group_dn_by_sid = &mut found.group_dn_by_sid;
    let user_ids: HashSet<u32> = users
        .iter()
        .filter_map(|u| graph.id_of_key(&dn_key(&u.dn)))
        .collect();
    let unknown: HashSet<u32> = members
        .iter()
        .copied()
        .filter(|m| !user_ids.contains(m) && !graph.knows_id(*m))
        .collect();
    if unknown.is_empty() {
        return Ok(found);
    }
    // DN keys parse as themselves, so the queue can hold keys and DNs alike.
    let mut queue: VecDeque<String> = graph
        .keys()
        .filter(|(_, id)| unknown.contains(id))
        .map(|(key, _)| key.to_string())
        .collect();
    let group_dns: HashMap<String, String> = reader
        .search_paged(
            "list groups",
            base,
            LdapScope::Subtree,
            map.group_filter,
            &["1.1"],
        )
        .await?
        .into_iter()
        .map(|e| (dn_key(&e.dn), e.dn))
        .collect();
    let member_request = range::first_request(map.member, window);
    while let Some(candidate) = queue.pop_front() {
        let key = dn_key(&candidate);
        if graph.knows(&key) {
            continue;
        }
        let Some(dn) = group_dns.get(&key) else {
            continue; // a user (out of scope) or an object outside the base
        };
        graph.touch(dn);
        let Some(e) = reader
            .read_entry(
                "read nested group",
                dn,
                map.group_filter,
                &[member_request.as_str(), map.object_sid],
            )
            .await?
        else {
            continue; // deleted since it was listed
        };
        if let Some(sid) = e.sid(map.object_sid) {
            group_dn_by_sid.insert(sid.to_ascii_uppercase(), dn.clone());
        }
        match member_dns(reader, &e, map, window).await? {
            Ok(members) => {
                for m in members {
                    graph.add(dn, &m);
                    if !graph.knows(&dn_key(&m)) {
                        queue.push_back(m);
                    }
                }
            }
            Err(reason) => {
                // Unknown, not empty: every synced group it feeds is a partial read.
                tracing::warn!(group = %dn, %reason, "nested group's members could not be read");
                let id = graph.intern(dn);
                found.unreadable.insert(id, format!("{dn}: {reason}"));
            }
        }
    }
    Ok(found)
}

/// What reading the nested groups learns besides their members.
#[derive(Default)]
struct NestedRead {
    /// SID → DN of every nested group read, to place their primary-group members.
    group_dn_by_sid: HashMap<String, String>,
    /// Nested groups whose members could not be read, with "DN: reason".
    unreadable: HashMap<u32, String>,
}

/// All member DNs of a group entry (ranged); the inner `Err` is a reason to skip the group.
async fn member_dns(
    reader: &mut Reader,
    e: &RawEntry,
    map: &AttributeMap,
    window: Option<u32>,
) -> Result<Result<Vec<String>, String>, DirectoryError> {
    let raw = range::all_values(reader, e, map.member, window).await?;
    let values = texts(raw.iter().map(Vec::as_slice).collect(), map);
    Ok(values.map(|v| v.into_iter().map(str::to_string).collect()))
}

/// The base DN searches start from: the configured one, or else the server's default
/// naming context (one rootDSE read, counted in `searches`).
pub(super) async fn search_base(
    reader: &mut Reader,
    settings: &LdapSettings,
    map: &AttributeMap,
    searches: &mut u64,
) -> Result<String, DirectoryError> {
    match &settings.base_dn {
        Some(b) if !b.trim().is_empty() => Ok(b.trim().to_string()),
        _ => {
            *searches += 1;
            default_naming_context(reader, map).await
        }
    }
}

async fn default_naming_context(
    reader: &mut Reader,
    map: &AttributeMap,
) -> Result<String, DirectoryError> {
    let root = reader
        .read_entry(
            "read rootDSE",
            "",
            "(objectClass=*)",
            &[map.default_naming_context],
        )
        .await?;
    root.and_then(|e| e.text(map.default_naming_context).ok().flatten())
        .ok_or_else(|| {
            DirectoryError::Settings(
                "the server's rootDSE names no defaultNamingContext; set the base DN explicitly"
                    .into(),
            )
        })
}

/// The sync group's DN as the server spells it: a configured DN is checked to be a group;
/// a name is looked up by `sAMAccountName` or `cn` with an escaped filter.
pub(super) async fn resolve_sync_group(
    reader: &mut Reader,
    base: &str,
    scope: &Scope,
    map: &AttributeMap,
) -> Result<String, DirectoryError> {
    resolve_group(reader, base, &scope.sync_group, map).await
}

/// [`resolve_sync_group`] for any group named in the scope settings (a name or a DN); a
/// group that is not there is [`DirectoryError::SyncGroupNotFound`].
pub(super) async fn resolve_group(
    reader: &mut Reader,
    base: &str,
    wanted: &str,
    map: &AttributeMap,
) -> Result<String, DirectoryError> {
    let wanted = wanted.trim();
    let not_found = || DirectoryError::SyncGroupNotFound {
        name: wanted.to_string(),
        base: base.to_string(),
    };
    if looks_like_dn(wanted) {
        return match reader
            .read_entry_here("find sync group", wanted, map.group_filter, &["1.1"])
            .await
        {
            Ok(Some(e)) => Ok(e.dn),
            // A DN outside the server's naming contexts is "not found" for the operator.
            Ok(None) => Err(not_found()),
            Err(e) => Err(e),
        };
    }
    let v = filter_value(wanted);
    let filter = format!(
        "(&{}(|({}={v})({}={v})))",
        map.group_filter, map.account_name, map.group_name
    );
    let found = reader
        .search_paged(
            "find sync group",
            base,
            LdapScope::Subtree,
            &filter,
            &["1.1"],
        )
        .await?;
    match found.as_slice() {
        [] => Err(not_found()),
        [one] => Ok(one.dn.clone()),
        many => Err(DirectoryError::SyncGroupAmbiguous {
            name: wanted.to_string(),
            dns: many.iter().map(|e| e.dn.clone()).collect(),
        }),
    }
}
