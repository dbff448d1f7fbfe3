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
//! full passes make of the same directory, and a full pass must find nothing left to do.

#[allow(dead_code)]
#[path = "support/idc_sim.rs"]
mod idc_sim;

use std::collections::{BTreeMap, BTreeSet};

use idc_sim::Sim;
use proptest::prelude::*;
use scim_sync::model::settings::UserAttribute;
use scim_sync::model::{
    ChangedGroup, ChangedUser, DirectoryChanges, DirectoryGroup, DirectorySnapshot, DirectoryUser,
    IdcGroup, IdcSnapshot,
};
use scim_sync::plan::incremental::{
    affected, cut_down, groups_to_look_up, scope_of, users_to_plan, IdcView,
};
use scim_sync::plan::{plan, Policy};

const DOMAIN: &str = "S-1-5-21-7-8-9";
const USERS: usize = 10;
const SYNCED: usize = 4;
const TEAMS: usize = 3;
/// Users 0 and 1 may be others' managers. They join the sync group but never leave it: a
/// manager who leaves the scope empties its reports' manager only in the next full pass
/// (an incremental pass does not know the leaver's DN; see docs/operations.md).
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
                // The sync group is in the scope chain and not a group in scope itself.
                let c = ChangedGroup {
                    dn: "CN=sync,OU=AWS,DC=corp".into(),
                    object_guid: "30000000-0000-4000-8000-000000000000".into(),
                    synced: Vec::new(),
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
        (0..USERS, any::<bool>()).prop_map(|(u, on)| Change::SyncGroup(u, on || u < MANAGERS)),
        (0..USERS, proptest::option::of(0..MANAGERS)).prop_map(|(u, m)| Change::Manager(u, m)),
        (0..SYNCED, 0..USERS, any::<bool>()).prop_map(|(g, u, on)| Change::Direct(g, u, on)),
        (0..TEAMS, 0..USERS, any::<bool>()).prop_map(|(t, u, on)| Change::Team(t, u, on)),
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
    )
        .prop_map(
            |(enabled, display, in_sync_group, direct, team, nested_in, manager)| Model {
                enabled,
                display,
                in_sync_group,
                direct,
                team,
                nested_in,
                manager,
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
    dir: &DirectorySnapshot,
    a: &scim_sync::plan::incremental::Affected,
    sim: &Sim,
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
    for x in groups_to_look_up(dir, a, &view) {
        if let Some(g) = find_group(&x) {
            view.groups.insert(x, g);
        }
    }
    (view, planned)
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
        let mut m = start;
        let mut dir = m.snapshot();
        let mut incremental_sim = Sim::default();
        converge(&dir, &mut incremental_sim, &policy)?;
        let mut full_sim = incremental_sim.clone();

        for step in steps {
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
                    .map(|u| ChangedUser { dn: format!("CN=u{u},OU=Staff,DC=corp"), object_sid: sid(u) })
                    .collect(),
                groups: changed_groups,
                ldap_searches: 0,
                unsynced_users: 0,
                outside: Vec::new(),
            };

            let a = affected(&dir, &changes, &before_scope);
            let (view, planned) = look_up(&dir, &a, &incremental_sim);
            let (dir_sub, idc_sub, _notes) = cut_down(&dir, &a, &planned, &view);
            let p = plan(&dir_sub, &idc_sub, &policy);
            incremental_sim.apply(&p, false).map_err(TestCaseError::fail)?;

            converge(&dir, &mut full_sim, &policy)?;
            let left = plan(&dir, &full_snapshot(&incremental_sim, &dir), &policy);
            prop_assert!(
                left.operations.is_empty(),
                "after {step:?} a full pass still plans {:#?}\nincremental plan: {p:#?}",
                left.operations
            );
            prop_assert_eq!(named(&incremental_sim), named(&full_sim), "after {:?}", step);
        }
    }
}
