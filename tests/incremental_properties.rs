#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]
//! Property test of incremental passes (issue 19): random sequences of directory changes
//! (disable, enable, rename, join and leave the sync group, direct and nested group
//! membership changes, a user's manager) go through incremental passes (`plan::incremental`:
//! affected objects, lookups by anchor simulated on an in-memory Identity Center, both sides
//! cut down, the ordinary planner), and after every step Identity Center must be exactly what
//! full passes make of the same directory, and a full pass must find nothing left to do. Each
//! case runs twice: with the directory read whole (a mapped `manager`), and with only its
//! affected part read as `ChangeReader::read_affected` does (the primary users, the groups
//! holding them, the changed groups whole with their members as objectSids; the scope listed
//! only when the chain changed), plus the two reads the pass adds (the entries of a whole
//! group's members on one side only, groups holding a leaver).

#[allow(dead_code)]
#[path = "support/idc_sim.rs"]
mod idc_sim;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use idc_sim::Sim;
use proptest::prelude::*;
use scim_sync::model::settings::UserAttribute;
use scim_sync::model::{
    ChangedGroup, ChangedUser, DirectoryChanges, DirectoryGroup, DirectorySnapshot, DirectoryUser,
    IdcGroup, IdcSnapshot,
};
use scim_sync::plan::incremental::{
    affected, affected_between, cut_down, groups_not_read, groups_to_look_up,
    scope_after_user_changes, scope_may_have_moved, scope_of, users_to_plan, whole_group_dns,
    whole_members_unread, Affected, IdcView,
};
use scim_sync::plan::{plan, Policy};

const DOMAIN: &str = "S-1-5-21-7-8-9";
const USERS: usize = 10;
const SYNCED: usize = 4;
const TEAMS: usize = 3;
/// Users 0 and 1 may be others' managers (and join and leave the scope like anyone).
const MANAGERS: usize = 2;

fn sid(u: usize) -> String {
    format!("{DOMAIN}-{}", 1000 + u)
}

fn guid(g: usize) -> String {
    format!("20000000-0000-4000-8000-{g:012}")
}

fn group_dn(g: usize) -> String {
    format!("CN=aws-g{g},OU=AWS,DC=corp")
}

/// A directory as AD holds it: users, a sync group, groups in scope and team groups nested
/// in some of them (not in scope themselves).
#[derive(Debug, Clone)]
struct Model {
    enabled: [bool; USERS],
    display: [u8; USERS],
    in_sync_group: [bool; USERS],
    /// Direct members of each group in scope.
    direct: [BTreeSet<usize>; SYNCED],
    /// Members of each team group.
    team: [BTreeSet<usize>; TEAMS],
    /// Which groups in scope each team group is nested in.
    nested_in: [BTreeSet<usize>; TEAMS],
    /// Each user's manager (AD's `manager`, a DN), one of the first `MANAGERS` users.
    manager: [Option<usize>; USERS],
    /// Whether the sync group is nested in group 0 in scope (which then holds the whole
    /// scope: the change detector reports it in `scope_wide_groups`).
    holds_sync: bool,
}

impl Model {
    fn snapshot(&self) -> DirectorySnapshot {
        let users = (0..USERS)
            .filter(|u| self.in_sync_group[*u])
            .map(|u| DirectoryUser {
                object_sid: sid(u).into(),
                object_guid: format!("10000000-0000-4000-8000-{u:012}"),
                dn: format!("CN=u{u},OU=Staff,DC=corp"),
                sam_account_name: format!("u{u}"),
                user_principal_name: Some(format!("u{u}@corp.example")),
                given_name: Some("Ann".into()),
                surname: Some(format!("Doe{}", self.display[u])),
                display_name: Some(format!("Ann Doe {}", self.display[u])),
                mail: Some(format!("u{u}@corp.example")),
                enabled: self.enabled[u],
                account_expires: None,
                attributes: self.manager[u]
                    .map(|m| {
                        (
                            "manager".into(),
                            Some(format!("CN=u{m},OU=Staff,DC=corp").into()),
                        )
                    })
                    .into_iter()
                    .collect(),
            })
            .collect();
        let groups = (0..SYNCED)
            .map(|g| {
                let mut members = self.direct[g].clone();
                if g == 0 && self.holds_sync {
                    members.extend(0..USERS);
                }
                for t in 0..TEAMS {
                    if self.nested_in[t].contains(&g) {
                        members.extend(self.team[t].iter().copied());
                    }
                }
                DirectoryGroup {
                    object_guid: guid(g),
                    object_sid: None,
                    dn: group_dn(g),
                    name: format!("aws-g{g}"),
                    account_name: None,
                    description: None,
                    member_sids: members
                        .into_iter()
                        .filter(|u| self.in_sync_group[*u])
                        .map(|u| sid(u).into())
                        .collect(),
                    members_partial: None,
                }
            })
            .collect();
        DirectorySnapshot {
            users,
            groups,
            domain_sids: vec![DOMAIN.into()],
            ..DirectorySnapshot::default()
        }
    }
}

/// One directory change, and what the change detector reports for it.
#[derive(Debug, Clone)]
enum Change {
    Enable(usize, bool),
    Rename(usize, u8),
    SyncGroup(usize, bool),
    Direct(usize, usize, bool),
    Team(usize, usize, bool),
    Manager(usize, Option<usize>),
    /// The sync group is nested in group 0, or taken out of it (a change to group 0).
    Nest(bool),
}

impl Change {
    /// Applies the change; returns the changed user (its `uSNChanged` moved) or group.
    fn apply(&self, m: &mut Model) -> (Option<usize>, Option<ChangedGroup>) {
        let set = |s: &mut BTreeSet<usize>, u: usize, on: bool| {
            if on {
                s.insert(u);
            } else {
                s.remove(&u);
            }
        };
        match *self {
            Change::Enable(u, on) => {
                m.enabled[u] = on;
                (Some(u), None)
            }
            Change::Rename(u, d) => {
                m.display[u] = d;
                (Some(u), None)
            }
            Change::Manager(u, boss) => {
                m.manager[u] = boss;
                (Some(u), None)
            }
            Change::SyncGroup(u, on) => {
                m.in_sync_group[u] = on;
                // The sync group is in the scope chain and not a group in scope itself; it
                // may be nested in group 0.
                let c = ChangedGroup {
                    dn: "CN=sync,OU=AWS,DC=corp".into(),
                    object_guid: "30000000-0000-4000-8000-000000000000".into(),
                    synced: if m.holds_sync {
                        vec![group_dn(0)]
                    } else {
                        Vec::new()
                    },
                    in_scope_chain: true,
                };
                (None, Some(c))
            }
            Change::Direct(g, u, on) => {
                set(&mut m.direct[g], u, on);
                let c = ChangedGroup {
                    dn: group_dn(g),
                    object_guid: guid(g),
                    synced: vec![group_dn(g)],
                    in_scope_chain: false,
                };
                (None, Some(c))
            }
            Change::Nest(on) => {
                m.holds_sync = on;
                let c = ChangedGroup {
                    dn: group_dn(0),
                    object_guid: guid(0),
                    synced: vec![group_dn(0)],
                    in_scope_chain: false,
                };
                (None, Some(c))
            }
            Change::Team(t, u, on) => {
                set(&mut m.team[t], u, on);
                let c = ChangedGroup {
                    dn: format!("CN=team{t},OU=Teams,DC=corp"),
                    object_guid: format!("40000000-0000-4000-8000-{t:012}"),
                    synced: m.nested_in[t].iter().map(|g| group_dn(*g)).collect(),
                    in_scope_chain: false,
                };
                (None, Some(c))
            }
        }
    }
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..USERS, any::<bool>()).prop_map(|(u, on)| Change::Enable(u, on)),
        (0..USERS, 0u8..3).prop_map(|(u, d)| Change::Rename(u, d)),
        (0..USERS, any::<bool>()).prop_map(|(u, on)| Change::SyncGroup(u, on)),
        (0..USERS, proptest::option::of(0..MANAGERS)).prop_map(|(u, m)| Change::Manager(u, m)),
        (0..SYNCED, 0..USERS, any::<bool>()).prop_map(|(g, u, on)| Change::Direct(g, u, on)),
        (0..TEAMS, 0..USERS, any::<bool>()).prop_map(|(t, u, on)| Change::Team(t, u, on)),
        any::<bool>().prop_map(Change::Nest),
    ]
}

fn set_of(n: usize) -> impl Strategy<Value = BTreeSet<usize>> {
    proptest::collection::btree_set(0..n, 0..n)
}

fn model() -> impl Strategy<Value = Model> {
    (
        proptest::array::uniform10(any::<bool>()),
        proptest::array::uniform10(0u8..3),
        proptest::array::uniform10(proptest::bool::weighted(0.7)),
        proptest::array::uniform4(set_of(USERS)),
        proptest::array::uniform3(set_of(USERS)),
        proptest::array::uniform3(set_of(SYNCED)),
        proptest::array::uniform10(proptest::option::weighted(0.4, 0..MANAGERS)),
        any::<bool>(),
    )
        .prop_map(
            |(enabled, display, in_sync_group, direct, team, nested_in, manager, holds_sync)| {
                Model {
                    enabled,
                    display,
                    in_sync_group,
                    direct,
                    team,
                    nested_in,
                    manager,
                    holds_sync,
                }
            },
        )
}

/// Full passes until nothing is left to do (at most 4).
fn converge(dir: &DirectorySnapshot, sim: &mut Sim, policy: &Policy) -> Result<(), TestCaseError> {
    for _ in 0..4 {
        let p = plan(dir, &full_snapshot(sim, dir), policy);
        if p.operations.is_empty() {
            return Ok(());
        }
        sim.apply(&p, false).map_err(TestCaseError::fail)?;
    }
    Err(TestCaseError::fail("full passes did not converge"))
}

fn full_snapshot(sim: &Sim, dir: &DirectorySnapshot) -> IdcSnapshot {
    let wanted = dir.groups.iter().map(|g| g.object_guid.clone()).collect();
    sim.snapshot(&BTreeSet::new(), &wanted)
}

/// What the pass's lookups would read from `sim`: groups and users by externalId, a whole
/// group's members, a user's groups (with their externalIds, as the emulator echoes them).
fn look_up(
    dir: &mut DirectorySnapshot,
    a: &Affected,
    sim: &Sim,
    part: Option<&Part>,
) -> (IdcView, BTreeSet<String>) {
    let find_group = |x: &str| {
        sim.groups
            .iter()
            .find(|(_, g)| g.external_id.as_deref() == Some(x))
            .map(|(id, g)| IdcGroup {
                id: id.clone(),
                external_id: g.external_id.clone(),
                display_name: g.display_name.clone(),
                member_ids: None,
            })
    };
    let mut view = IdcView::default();
    for x in &a.whole_groups {
        if let Some(g) = find_group(x) {
            let members = sim.groups[&g.id]
                .members
                .iter()
                .filter_map(|id| sim.users.get(id).cloned())
                .collect();
            view.whole_members.insert(x.clone(), members);
            view.groups.insert(x.clone(), g);
        }
    }
    if let Some(part) = part {
        // The pass reads the entries of the whole groups' members on one side only.
        let missing = whole_members_unread(dir, a, &view, &part.now);
        dir.users.extend(
            part.full
                .users
                .iter()
                .filter(|u| missing.contains(&u.object_sid.to_string()))
                .cloned(),
        );
    }
    let planned = users_to_plan(dir, a, &view);
    for x in &planned {
        if let Some(u) = sim
            .users
            .values()
            .find(|u| u.external_id.as_deref() == Some(x.as_str()))
        {
            view.users.push(u.clone());
        }
    }
    let primary_ids: Vec<String> = view
        .users
        .iter()
        .chain(view.whole_members.values().flatten())
        .filter(|u| {
            u.external_id
                .as_ref()
                .is_some_and(|x| a.primary.contains(x))
        })
        .map(|u| u.id.to_string())
        .collect();
    for id in primary_ids {
        let groups = sim
            .groups
            .iter()
            .filter(|(_, g)| g.members.contains(&id))
            .map(|(gid, g)| IdcGroup {
                id: gid.clone(),
                external_id: g.external_id.clone(),
                display_name: g.display_name.clone(),
                member_ids: None,
            })
            .collect();
        view.user_groups.insert(id, groups);
    }
    if let Some(part) = part {
        // And the groups in scope that hold a primary user in Identity Center only, with no
        // member (every group of the model is in scope).
        let unknown = groups_not_read(dir, &view);
        for g in &part.full.groups {
            if unknown.contains(&g.object_guid) {
                let mut g = g.clone();
                g.member_sids.clear();
                dir.groups.push(g);
            }
        }
    }
    for x in groups_to_look_up(dir, a, &view) {
        if let Some(g) = find_group(&x) {
            view.groups.insert(x, g);
        }
    }
    (view, planned)
}

/// What an incremental pass that reads only the affected part of the directory learns
/// besides the part: the whole directory (which the simulated LDAP reads take entries from)
/// and the scope now.
struct Part {
    full: DirectorySnapshot,
    now: HashSet<String>,
}

/// The part of `full` the directory side reads (`ChangeReader::read_affected`): the primary
/// users in scope now (changed, joined) and the groups holding them with only them as
/// members, and the changed groups in scope whole (their members as objectSids only).
fn read_part(
    full: &DirectorySnapshot,
    changes: &DirectoryChanges,
    now: &HashSet<String>,
    before: &HashSet<String>,
) -> DirectorySnapshot {
    let mut primary: BTreeSet<String> = changes
        .users
        .iter()
        .map(|u| u.object_sid.to_uppercase())
        .collect();
    primary.extend(now.difference(before).cloned());
    let whole = whole_group_dns(changes);
    let users: BTreeSet<String> = primary
        .iter()
        .filter(|s| now.contains(*s))
        .cloned()
        .collect();
    let mut groups = Vec::new();
    for g in &full.groups {
        let mut g = g.clone();
        if !whole.contains(&g.dn) {
            g.member_sids.retain(|m| primary.contains(m.as_ref()));
            if g.member_sids.is_empty() {
                continue;
            }
        }
        groups.push(g);
    }
    DirectorySnapshot {
        users: full
            .users
            .iter()
            .filter(|u| users.contains(u.object_sid.as_ref()))
            .cloned()
            .collect(),
        groups,
        domain_sids: full.domain_sids.clone(),
        ..DirectorySnapshot::default()
    }
}

/// Identity Center's state without its ids: users by externalId (with their manager's),
/// groups by externalId with their members' externalIds.
type Named = (
    BTreeMap<String, (String, Option<String>, bool, Option<String>)>,
    BTreeMap<String, (String, BTreeSet<String>)>,
);

fn named(sim: &Sim) -> Named {
    let x_of = |id: &str| {
        sim.users
            .get(id)
            .and_then(|u| u.external_id.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let users = sim
        .users
        .values()
        .map(|u| {
            (
                u.external_id.clone().unwrap_or_default(),
                (
                    u.user_name.clone(),
                    u.display_name.clone(),
                    u.active,
                    u.attributes.get(&UserAttribute::Manager).map(|m| x_of(m)),
                ),
            )
        })
        .collect();
    let groups = sim
        .groups
        .values()
        .map(|g| {
            (
                g.external_id.clone().unwrap_or_default(),
                (
                    g.display_name.clone(),
                    g.members.iter().map(|m| x_of(m)).collect(),
                ),
            )
        })
        .collect();
    (users, groups)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn incremental_passes_end_where_full_passes_do(
        start in model(),
        steps in proptest::collection::vec(proptest::collection::vec(change(), 1..5), 1..6),
    ) {
        let mut policy = Policy::default();
        policy.attributes.set(UserAttribute::Manager, "manager");
        for read_only_affected in [false, true] {
            if read_only_affected {
                // The pass reads only the affected part when no manager is mapped.
                policy = Policy::default();
            }
            run_steps(start.clone(), &steps, &policy, read_only_affected)?;
        }
    }
}

/// Runs `steps` through incremental passes against full passes from `start`: with the whole
/// directory read, or (`read_only_affected`) only its affected part.
fn run_steps(
    start: Model,
    steps: &[Vec<Change>],
    policy: &Policy,
    read_only_affected: bool,
) -> Result<(), TestCaseError> {
    let policy = policy.clone();
    let mut m = start;
    let mut dir = m.snapshot();
    let mut incremental_sim = Sim::default();
    converge(&dir, &mut incremental_sim, &policy)?;
    let mut full_sim = incremental_sim.clone();

    for step in steps {
        let step = step.clone();
        let before_scope = scope_of(&dir).sids().unwrap();
        let mut changed_users = BTreeSet::new();
        let mut changed_groups = Vec::new();
        for c in &step {
            let (u, g) = c.apply(&mut m);
            changed_users.extend(u);
            changed_groups.extend(g);
        }
        dir = m.snapshot();
        let changes = DirectoryChanges {
            // The detector reports changed users that are in scope now.
            users: changed_users
                .into_iter()
                .filter(|u| m.in_sync_group[*u])
                .map(|u| ChangedUser {
                    dn: format!("CN=u{u},OU=Staff,DC=corp"),
                    object_sid: sid(u),
                })
                .collect(),
            groups: changed_groups,
            ldap_searches: 0,
            unsynced_users: 0,
            outside: Vec::new(),
            out_of_scope_groups: Vec::new(),
            deleted_users: Vec::new(),
            searched_bytes: 0,
            // Group 0 holds the sync group, and held it before unless it changed itself.
            scope_wide_groups: if m.holds_sync
                && !step
                    .iter()
                    .any(|c| matches!(c, Change::Direct(0, _, _) | Change::Nest(_)))
            {
                vec![group_dn(0)]
            } else {
                Vec::new()
            },
        };

        let (mut read, a, part) = if read_only_affected {
            let before: HashSet<String> = before_scope.iter().cloned().collect();
            let listed: HashSet<String> = scope_of(&dir).sids().unwrap().into_iter().collect();
            let now = if scope_may_have_moved(&changes) {
                listed
            } else {
                // No group of the scope chain changed: the scope moved for the changed
                // users alone, and the pass knows it without listing it.
                let now = scope_after_user_changes(&changes, &before, &BTreeSet::new());
                prop_assert_eq!(&now, &listed);
                now
            };
            let read = read_part(&dir, &changes, &now, &before);
            let a = affected_between(&read, &changes, &before, &now);
            (
                read,
                a,
                Some(Part {
                    full: dir.clone(),
                    now,
                }),
            )
        } else {
            let mut a = affected(&dir, &changes, &before_scope);
            // The pass reads the leavers' entries by objectSid for their DNs.
            let now: BTreeSet<String> = scope_of(&dir).sids().unwrap().into_iter().collect();
            a.former_users = (0..USERS)
                .filter(|u| a.primary.contains(&sid(*u)) && !now.contains(&sid(*u)))
                .map(|u| format!("CN=u{u},OU=Staff,DC=corp"))
                .collect();
            (dir.clone(), a, None)
        };
        let (view, planned) = look_up(&mut read, &a, &incremental_sim, part.as_ref());
        let (dir_sub, idc_sub, _notes) = cut_down(&read, &a, &planned, &view);
        let p = plan(&dir_sub, &idc_sub, &policy);
        incremental_sim
            .apply(&p, false)
            .map_err(TestCaseError::fail)?;

        converge(&dir, &mut full_sim, &policy)?;
        let left = plan(&dir, &full_snapshot(&incremental_sim, &dir), &policy);
        prop_assert!(
            left.operations.is_empty(),
            "after {step:?} a full pass still plans {:#?}\nincremental plan: {p:#?}",
            left.operations
        );
        prop_assert_eq!(
            named(&incremental_sim),
            named(&full_sim),
            "after {:?}",
            step
        );
    }
    Ok(())
}
