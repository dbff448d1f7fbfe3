#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]
//! Property tests of the planner: random directories against random Identity Center
//! contents (owned and foreign users and groups, random memberships, deliberate collisions),
//! applied to an in-memory model of Identity Center that enforces its uniqueness rules.

#[path = "support/idc_sim.rs"]
mod idc_sim;

use std::collections::{BTreeSet, HashSet};

use idc_sim::{Sim, SimGroup};
use proptest::prelude::*;
use scim_sync::model::settings::{AttributeMapping, UserAttribute};
use scim_sync::model::ReasonCode;
use scim_sync::model::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, EntryKind, IdcSnapshot, IdcUser, SkippedEntry,
};
use scim_sync::plan::{
    apply_guard, is_owned_group_external_id, is_owned_user_external_id, is_sid, plan, EmailSource,
    GroupRef, GuardSettings, Operation, OutOfScopeAction, Plan, Policy, UserField, UserNameSource,
    UserRef,
};

const NAMES: [&str; 6] = ["ann", "bob", "cy", "dee", "eve", "fay"];
const GIVEN: [&str; 3] = ["Ann", "Bob", "Cy"];

/// This directory's domain.
const DOMAIN: &str = "S-1-5-21-7-8-9";

fn sid(n: u8) -> String {
    format!("{DOMAIN}-{}", 1000 + u32::from(n))
}

/// An account of another domain with the same RID as `sid(n)`: another forest's domain, or a
/// child domain whose SID starts with ours.
fn foreign_sid(n: u8, child: bool) -> String {
    if child {
        format!("{DOMAIN}-1000-{}", 1000 + u32::from(n))
    } else {
        format!("S-1-5-21-70-80-90-{}", 1000 + u32::from(n))
    }
}

fn guid(n: u8) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn cased(s: String, upper: bool) -> String {
    if upper {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    } else {
        s
    }
}

/// A name in one of the shapes the three userName sources produce, so directory and
/// Identity Center values collide often.
fn value(kind: u8, idx: usize, upper: bool) -> String {
    let n = NAMES[idx % NAMES.len()];
    cased(
        match kind % 3 {
            0 => format!("{n}@corp.example"),
            1 => format!("{n}@mail.example"),
            _ => n.to_string(),
        },
        upper,
    )
}

/// How a generated directory entry is broken, if at all (most are not).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Broken {
    No,
    SpaceInUserName,
    InvisibleGivenName,
    NoSurname,
}

#[derive(Debug, Clone)]
struct World {
    dir: DirectorySnapshot,
    /// SIDs of directory entries generated invalid: the planner must skip them.
    broken: BTreeSet<String>,
    sim: Sim,
    unread: BTreeSet<String>,
    policy: Policy,
}

impl World {
    /// The group anchors a pass asks Identity Center about: its directory groups' objectGUIDs.
    fn wanted(&self) -> BTreeSet<String> {
        self.dir
            .groups
            .iter()
            .map(|g| g.object_guid.clone())
            .collect()
    }
}

fn dir_user() -> impl Strategy<Value = (u8, DirectoryUser, Broken)> {
    (
        (
            0u8..14,
            0usize..6,
            any::<bool>(),
            proptest::option::weighted(0.9, 0usize..6),
        ),
        (
            0usize..3,
            any::<bool>(),
            proptest::option::of(0usize..6),
            any::<bool>(),
        ),
        prop_oneof![
            8 => Just(Broken::No),
            1 => Just(Broken::SpaceInUserName),
            1 => Just(Broken::InvisibleGivenName),
            1 => Just(Broken::NoSurname),
        ],
        // The manager, as the DN of another directory user (or of none), in either case.
        proptest::option::weighted(0.4, (0u8..16, any::<bool>())),
    )
        .prop_map(
            |((s, name, upper, mail), (given, display, sam, enabled), broken, manager)| {
                let mut u = DirectoryUser {
                    object_sid: sid(s).into(),
                    object_guid: format!("10000000-0000-4000-8000-{s:012}"),
                    dn: format!("CN=u{s},OU=Staff,DC=corp"),
                    sam_account_name: value(2, sam.unwrap_or(name), upper),
                    user_principal_name: Some(value(0, name, upper)),
                    given_name: Some(GIVEN[given].to_string()),
                    surname: Some("Doe".to_string()),
                    display_name: display.then(|| format!("{} Doe", GIVEN[given])),
                    mail: mail.map(|m| value(1, m, !upper)),
                    enabled,
                    account_expires: None,
                    attributes: Default::default(),
                };
                if let Some((m, upper)) = manager {
                    let dn = cased(format!("CN=u{m},OU=Staff,DC=corp"), upper);
                    u.attributes.insert("manager".into(), Some(dn.into()));
                }
                match broken {
                    Broken::No => {}
                    Broken::SpaceInUserName => {
                        u.user_principal_name = Some("a b@corp.example".into());
                        u.sam_account_name = "a b".into();
                        u.mail = Some("a b@mail.example".into());
                    }
                    Broken::InvisibleGivenName => u.given_name = Some("\u{200B}".into()),
                    Broken::NoSurname => u.surname = None,
                }
                (s, u, broken)
            },
        )
}

fn idc_user() -> impl Strategy<Value = IdcUser> {
    (
        (0u8..6, 0u8..14, 0u8..3, 0usize..6, any::<bool>()),
        (
            proptest::option::of((0usize..6, any::<bool>())),
            0usize..3,
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((owner, s, kind, name, upper), (mail, given, display, active))| IdcUser {
                id: "".into(),
                external_id: match owner {
                    0 | 1 => Some(sid(s)),
                    2 => None,
                    3 => Some(format!("okta-{s}")),
                    o => Some(foreign_sid(s, o == 5)),
                },
                user_name: value(kind, name, upper),
                display_name: Some(if display {
                    format!("{} Doe", GIVEN[given])
                } else {
                    "Old Name".into()
                }),
                given_name: Some(GIVEN[given].to_string()),
                family_name: Some("Doe".into()),
                email: mail.map(|(m, u)| value(1, m, u)),
                active,
                attributes: Default::default(),
            },
        )
}

fn dir_group() -> impl Strategy<Value = DirectoryGroup> {
    (
        0u8..6,
        0usize..5,
        any::<bool>(),
        proptest::collection::vec(0u8..16, 0..8),
    )
        .prop_map(|(g, name, upper, members)| DirectoryGroup {
            object_guid: guid(g),
            object_sid: None,
            dn: format!("CN=g{g},OU=Groups,DC=corp"),
            name: cased(format!("aws-{}", NAMES[name]), upper),
            account_name: None,
            description: None,
            member_sids: members.into_iter().map(|m| sid(m).into()).collect(),
            members_partial: None,
        })
}

fn idc_group() -> impl Strategy<Value = (SimGroup, Vec<usize>, bool)> {
    (
        (0u8..4, 0u8..6, 0usize..5, any::<bool>()),
        proptest::collection::vec(0usize..12, 0..8),
        proptest::bool::weighted(0.15),
    )
        .prop_map(|((owner, g, name, upper), members, unread)| {
            (
                SimGroup {
                    external_id: match owner {
                        0 | 1 => Some(guid(g)),
                        2 => None,
                        _ => Some(format!("ext-{g}")),
                    },
                    display_name: cased(format!("aws-{}", NAMES[name]), upper),
                    members: BTreeSet::new(),
                },
                members,
                unread,
            )
        })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(oos, adopt, delete_groups, source, lower, upn_email, managers)| Policy {
                out_of_scope_users: [
                    OutOfScopeAction::Disable,
                    OutOfScopeAction::Delete,
                    OutOfScopeAction::Ignore,
                ][oos as usize],
                adopt_groups_by_name: adopt,
                delete_groups_out_of_scope: delete_groups,
                user_name_source: [
                    UserNameSource::UserPrincipalName,
                    UserNameSource::Mail,
                    UserNameSource::SamAccountName,
                ][source as usize],
                lowercase_user_names: lower,
                email_source: if upn_email {
                    EmailSource::UserPrincipalName
                } else {
                    EmailSource::Mail
                },
                // A pass-level filter of the directory: nothing for the planner to see.
                exclude_sync_group: false,
                attributes: {
                    let mut m = AttributeMapping::default();
                    if managers {
                        m.set(UserAttribute::Manager, "manager");
                    }
                    m
                },
                ..Policy::default()
            },
        )
}

fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(dir_user(), 0..12),
        proptest::collection::vec(dir_group(), 0..5),
        proptest::collection::vec(0u8..16, 0..3),
        proptest::collection::vec(idc_user(), 0..12),
        proptest::collection::vec(idc_group(), 0..6),
        policy(),
    )
        .prop_map(|(users, groups, skipped, idc_users, idc_groups, policy)| {
            let mut seen = HashSet::new();
            let mut dir = DirectorySnapshot {
                domain_sids: vec![DOMAIN.to_string()],
                ..DirectorySnapshot::default()
            };
            let mut broken = BTreeSet::new();
            for (s, u, b) in users {
                if seen.insert(s) {
                    if b != Broken::No {
                        broken.insert(u.object_sid.to_string());
                    }
                    dir.users.push(u);
                }
            }
            let mut seen_groups = HashSet::new();
            dir.groups = groups
                .into_iter()
                .filter(|g| seen_groups.insert(g.object_guid.clone()))
                .collect();
            dir.skipped = skipped
                .into_iter()
                .map(|s| SkippedEntry {
                    dn: format!("CN=skipped{s}"),
                    anchor: Some(sid(s)),
                    code: scim_sync::model::ReasonCode::UnreadableEntry,
                    reason: "unreadable".into(),
                    kind: EntryKind::User,
                    user_names: Vec::new(),
                })
                .collect();
            let mut unread_flags = Vec::new();
            let groups = idc_groups
                .into_iter()
                .map(|(g, m, unread)| {
                    unread_flags.push(unread);
                    (g, m)
                })
                .collect();
            let sim = Sim::seeded(idc_users, groups);
            let unread = sim
                .groups
                .keys()
                .zip(unread_flags)
                .filter(|(_, u)| *u)
                .map(|(id, _)| id.clone())
                .collect();
            World {
                dir,
                broken,
                sim,
                unread,
                policy,
            }
        })
}

/// Directory users the plan must not touch: skipped by the reader, or reported as skipped.
fn untouchable_sids(w: &World, plan: &Plan) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = w
        .dir
        .skipped
        .iter()
        .filter_map(|e| e.anchor.clone())
        .collect();
    for u in &w.dir.users {
        if plan.skipped.iter().any(|m| m.concerns(&u.dn)) {
            s.insert(u.object_sid.to_string());
        }
    }
    s
}

fn owned_user_ids(snap: &IdcSnapshot) -> HashSet<String> {
    let domains = [DOMAIN.to_string()];
    snap.users
        .iter()
        .filter(|u| {
            u.external_id
                .as_deref()
                .is_some_and(|e| is_owned_user_external_id(e, &domains))
        })
        .map(|u| u.id.to_string())
        .collect()
}

/// Users whose externalId is a SID, but of another domain: another deployment's.
fn other_domain_user_ids(snap: &IdcSnapshot) -> HashSet<String> {
    snap.users
        .iter()
        .filter(|u| {
            u.external_id.as_deref().is_some_and(|e| {
                let rid = e.strip_prefix(&format!("{DOMAIN}-"));
                is_sid(e) && rid.is_none_or(|r| r.contains('-'))
            })
        })
        .map(|u| u.id.to_string())
        .collect()
}

fn owned_group_ids(snap: &IdcSnapshot) -> HashSet<String> {
    snap.groups
        .iter()
        .filter(|g| {
            g.external_id
                .as_deref()
                .is_some_and(|e| is_owned_group_external_id(e, &[DOMAIN.to_string()]))
        })
        .map(|g| g.id.clone())
        .collect()
}

/// Every id an operation writes to must be ours (or a group adopted in the same plan), and
/// users whose directory entry was skipped are not written to at all.
fn check_targets(w: &World, snap: &IdcSnapshot, plan: &Plan) -> Result<(), TestCaseError> {
    let users = owned_user_ids(snap);
    let mut groups = owned_group_ids(snap);
    for op in &plan.operations {
        if let Operation::AdoptGroup { id, .. } = op {
            prop_assert!(w.policy.adopt_groups_by_name, "adoption without the policy");
            let g = snap.groups.iter().find(|g| &g.id == id).unwrap();
            prop_assert!(
                g.external_id.is_none(),
                "adopted a group with an externalId"
            );
            groups.insert(id.clone());
        }
    }
    let other_domain = other_domain_user_ids(snap);
    let skipped = untouchable_sids(w, plan);
    prop_assert!(
        w.broken.is_subset(&skipped),
        "broken entries not skipped: {:?} vs {:?}",
        w.broken,
        plan.skipped
    );
    let skipped_ids: HashSet<&str> = snap
        .users
        .iter()
        .filter(|u| u.external_id.as_ref().is_some_and(|e| skipped.contains(e)))
        .map(|u| u.id.as_ref())
        .collect();
    for op in &plan.operations {
        prop_assert!(
            !names_other_domain_user(op, &other_domain, &groups),
            "an account of another domain named: {op:?}"
        );
        if let Operation::UpdateUser { user, changed, .. } = op {
            prop_assert!(
                user.active || !changed.contains(&UserField::Active),
                "a deactivation carried by an update: {op:?}"
            );
        }
        match op {
            Operation::UpdateUser { id, .. } | Operation::DeleteUser { id, .. } => {
                prop_assert!(users.contains(id), "foreign user targeted: {op:?}");
                prop_assert!(
                    !skipped_ids.contains(id.as_str()),
                    "skipped user touched: {op:?}"
                );
            }
            Operation::DisableUser {
                id, external_id, ..
            } => {
                prop_assert!(users.contains(id), "foreign user targeted: {op:?}");
                // Only a planner-skipped entry that the directory says is disabled.
                if skipped_ids.contains(id.as_str()) {
                    let reader_skipped = w
                        .dir
                        .skipped
                        .iter()
                        .any(|e| e.anchor.as_ref() == Some(external_id));
                    let disabled = w
                        .dir
                        .users
                        .iter()
                        .any(|u| *u.object_sid == **external_id && !u.enabled);
                    prop_assert!(!reader_skipped && disabled, "skipped user disabled: {op:?}");
                }
            }
            Operation::CreateUser { user, .. } => {
                prop_assert!(!skipped.contains(&user.external_id), "skipped user created");
            }
            Operation::RenameGroup { id, .. } | Operation::DeleteGroup { id, .. } => {
                prop_assert!(groups.contains(id), "foreign group targeted: {op:?}");
            }
            Operation::RemoveMembers {
                group_id, user_ids, ..
            } => {
                prop_assert!(groups.contains(group_id), "foreign group targeted: {op:?}");
                for u in user_ids {
                    prop_assert!(!skipped_ids.contains(u.as_str()), "skipped user removed");
                }
            }
            Operation::AddMembers {
                group, users: refs, ..
            } => {
                if let GroupRef::Existing(id) = group {
                    prop_assert!(groups.contains(id), "foreign group targeted: {op:?}");
                }
                for r in refs {
                    if let UserRef::Existing(id) = r {
                        prop_assert!(users.contains(&**id), "foreign user added: {op:?}");
                        prop_assert!(!skipped_ids.contains(&**id), "skipped user added");
                    }
                }
            }
            Operation::SetManager { user, manager, .. } => {
                prop_assert!(
                    w.policy.attributes.is_managed(UserAttribute::Manager),
                    "a manager set without the mapping: {op:?}"
                );
                if let UserRef::Existing(id) = user {
                    prop_assert!(users.contains(&**id), "foreign user targeted: {op:?}");
                    prop_assert!(!skipped_ids.contains(&**id), "skipped user touched");
                }
                let UserRef::New(ext) = manager else {
                    return Err(TestCaseError::fail(format!(
                        "an existing manager goes in the user's own write: {op:?}"
                    )));
                };
                prop_assert!(
                    plan.operations.iter().any(|o| matches!(o,
                        Operation::CreateUser { user, .. } if *user.external_id == **ext)),
                    "a manager this plan does not create: {op:?}"
                );
            }
            Operation::CreateGroup { .. } | Operation::AdoptGroup { .. } => {}
        }
    }
    Ok(())
}

/// True when `op` names a user of another domain anywhere but in a member removal from one of
/// our groups (a group that is ours holds exactly the directory's members, as in the
/// original): never updated, disabled, deleted or added.
fn names_other_domain_user(
    op: &Operation,
    other_domain: &HashSet<String>,
    our_groups: &HashSet<String>,
) -> bool {
    match op {
        Operation::UpdateUser { id, .. }
        | Operation::DisableUser { id, .. }
        | Operation::DeleteUser { id, .. } => other_domain.contains(id),
        Operation::AddMembers { users, .. } => users
            .iter()
            .any(|r| matches!(r, UserRef::Existing(id) if other_domain.contains(&**id))),
        Operation::RemoveMembers {
            group_id, user_ids, ..
        } => !our_groups.contains(group_id) && user_ids.iter().any(|u| other_domain.contains(u)),
        _ => false,
    }
}

/// After convergence: every sendable, enabled directory user exists unless a conflict or a
/// note names it, and every managed group's members are exactly the directory's (ignoring
/// skipped users).
fn check_converged(w: &World, sim: &Sim, first: &Plan, last: &Plan) -> Result<(), TestCaseError> {
    let skipped = untouchable_sids(w, first);
    let by_ext = |ext: &str| {
        sim.users
            .values()
            .find(|u| u.external_id.as_deref() == Some(ext))
    };
    let reported = |u: &DirectoryUser| {
        last.conflicts
            .iter()
            .chain(&last.notes)
            .any(|m| m.concerns(&u.dn))
    };
    for u in w
        .dir
        .users
        .iter()
        .filter(|u| u.enabled && !skipped.contains(&*u.object_sid))
    {
        prop_assert!(
            by_ext(&u.object_sid).is_some() || reported(u),
            "user {} neither exists nor is reported: {last:#?}",
            u.dn
        );
    }
    let skipped_ids: HashSet<&str> = sim
        .users
        .values()
        .filter(|u| u.external_id.as_ref().is_some_and(|e| skipped.contains(e)))
        .map(|u| u.id.as_ref())
        .collect();
    for g in &w.dir.groups {
        let Some((gid, sg)) = sim
            .groups
            .iter()
            .find(|(_, sg)| sg.external_id.as_deref() == Some(g.object_guid.as_str()))
        else {
            continue;
        };
        if w.unread.contains(gid) || last.skipped.iter().any(|m| m.concerns(&g.dn)) {
            continue;
        }
        let wanted: BTreeSet<String> = g
            .member_sids
            .iter()
            .filter(|s| w.dir.users.iter().any(|u| *u.object_sid == ***s))
            .filter_map(|s| by_ext(s))
            .map(|u| u.id.to_string())
            .filter(|id| !skipped_ids.contains(id.as_str()))
            .collect();
        let actual: BTreeSet<String> = sg
            .members
            .iter()
            .filter(|id| !skipped_ids.contains(id.as_str()))
            .cloned()
            .collect();
        prop_assert_eq!(actual, wanted, "members of {}", g.dn);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// plan → apply → plan again converges (at once, unless the plan announced a deferral),
    /// no operation targets a foreign object, skipped users are never touched, and the
    /// simulator's uniqueness rules never reject a planned write, in either order.
    #[test]
    fn planning_converges_safely(w in world()) {
        let snap = w.sim.snapshot(&w.unread, &w.wanted());
        let first = plan(&w.dir, &snap, &w.policy);
        prop_assert_eq!(&first, &plan(&w.dir, &snap, &w.policy), "deterministic");
        check_targets(&w, &snap, &first)?;

        let mut reversed = w.sim.clone();
        reversed.apply(&first, true).map_err(|e| TestCaseError::fail(format!("reversed: {e}")))?;
        let mut sim = w.sim.clone();
        sim.apply(&first, false).map_err(TestCaseError::fail)?;

        let none = BTreeSet::new();
        let mut last = first.clone();
        for pass in 2..=6 {
            let snap = sim.snapshot(&none, &w.wanted());
            let next = plan(&w.dir, &snap, &w.policy);
            // A manager that is not synced is a lasting state, not a change left for later.
            let deferred = first.notes.iter().any(|n| n.code != ReasonCode::ManagerNotSynced);
            if pass == 2 && !deferred {
                prop_assert!(next.is_empty(), "second plan not empty: {next:#?}");
            }
            check_targets(&w, &snap, &next)?;
            sim.apply(&next, false).map_err(TestCaseError::fail)?;
            let done = next.is_empty();
            last = next;
            if done {
                break;
            }
        }
        prop_assert!(last.is_empty(), "no convergence after 6 passes: {last:#?}");
        check_converged(&w, &sim, &first, &last)?;
    }

    /// The guard never lets more through than its limits, keeps the safe part intact, and
    /// changes nothing when it has nothing to say.
    #[test]
    fn the_guard_never_exceeds_its_limits(
        w in world(),
        share in 0.0f64..0.6,
        count in 0u64..8,
        allow in proptest::bool::weighted(0.2),
    ) {
        let snap = w.sim.snapshot(&w.unread, &w.wanted());
        let planned = plan(&w.dir, &snap, &w.policy);
        let g = GuardSettings { max_destructive_share: share, max_destructive_count: count, allow_mass_changes: allow };
        let (kept, withheld) = apply_guard(planned.clone(), &snap, &w.dir, &g);
        if withheld.is_empty() {
            prop_assert_eq!(&kept, &planned, "nothing withheld, so nothing changed");
        }
        if allow {
            prop_assert!(withheld.is_empty(), "the override lets everything through");
            return Ok(());
        }
        let users_lost = kept.operations.iter()
            .filter(|op| matches!(op, Operation::DisableUser { .. } | Operation::DeleteUser { .. }))
            .count() as u64;
        let removed: u64 = kept.operations.iter().map(|op| match op {
            Operation::RemoveMembers { user_ids, .. } => user_ids.len() as u64,
            _ => 0,
        }).sum();
        let groups_deleted = kept.operations.iter().filter(|op| matches!(op, Operation::DeleteGroup { .. })).count() as u64;
        let owned_users = owned_user_ids(&snap).len() as u64;
        let owned_groups = owned_group_ids(&snap);
        let owned_members: u64 = snap.groups.iter()
            .filter(|g| owned_groups.contains(&g.id))
            .map(|g| g.member_ids.as_ref().map_or(0, |m| m.len() as u64))
            .sum();
        // The documented rule, stated as inequalities rather than as the guard's own formula:
        // a pass loses at most `count` and at most `share` of the owned base, rounded up
        // (so `lost - 1` stays below the exact share).
        let within = |lost: u64, base: u64| {
            lost <= count && (lost == 0 || ((lost - 1) as f64) < share * base as f64 - 1e-9)
        };
        prop_assert!(within(users_lost, owned_users), "{users_lost} of {owned_users} users lost");
        prop_assert!(within(removed, owned_members), "{removed} of {owned_members} memberships removed");
        prop_assert!(within(groups_deleted, owned_groups.len() as u64));
        // And the guard is not stricter than the rule: it holds back only a plan that breaks it.
        if !withheld.is_empty() {
            let planned_users_lost = planned.operations.iter()
                .filter(|op| matches!(op, Operation::DisableUser { .. } | Operation::DeleteUser { .. }))
                .count() as u64;
            let planned_removed: u64 = planned.operations.iter().map(|op| match op {
                Operation::RemoveMembers { user_ids, .. } => user_ids.len() as u64,
                _ => 0,
            }).sum();
            let planned_groups_deleted = planned.operations.iter().filter(|op| matches!(op, Operation::DeleteGroup { .. })).count() as u64;
            let emptied = w.dir.users.is_empty() && owned_users > 0;
            prop_assert!(
                emptied
                    || !within(planned_users_lost, owned_users)
                    || !within(planned_removed, owned_members)
                    || !within(planned_groups_deleted, owned_groups.len() as u64),
                "withheld although the plan was within the limits: {withheld:?}"
            );
        }
        if w.dir.users.is_empty() && owned_users > 0 {
            prop_assert!(kept.operations.iter().all(|op| !op.is_destructive()));
        }
        if !withheld.is_empty() {
            prop_assert!(kept.operations.iter().all(|op| !op.is_destructive()));
            let safe = |p: &Plan| p.operations.iter()
                .filter(|op| matches!(op, Operation::CreateUser { .. } | Operation::CreateGroup { .. } | Operation::AddMembers { .. } | Operation::RenameGroup { .. } | Operation::AdoptGroup { .. } | Operation::SetManager { .. }))
                .cloned().collect::<Vec<_>>();
            prop_assert_eq!(safe(&kept), safe(&planned), "the safe part is kept");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator against the emulator
//
// The properties above run on `Sim`, a fast in-memory model. So that it cannot drift away from
// the emulator (the project's faithful model of Identity Center), the same worlds are seeded into
// both, planned from each one's own read, applied (the emulator through the real executor and
// SCIM client), and the resulting states compared with ids replaced by names.

#[path = "support/emulator.rs"]
mod emulator;

use std::collections::BTreeMap;

use scim_sync::apply::{execute, ExecuteOptions};
use scim_sync::identity_center::read_state;
use scim_sync::model::Summary;

/// externalId, displayName, given name, family name, email (folded), active, the manager's
/// userName (folded).
type NamedUser = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
);

/// A state with ids replaced by what identifies an object to a person.
#[derive(Debug, PartialEq, Eq)]
struct Named {
    /// userName (folded) → what the pass manages of that user.
    users: BTreeMap<String, NamedUser>,
    /// group name (folded) → member userNames (folded), for the groups whose members are read.
    groups: BTreeMap<String, Option<BTreeSet<String>>>,
}

fn named(snap: &IdcSnapshot) -> Named {
    let fold = |s: &str| s.to_lowercase();
    let names: BTreeMap<&str, String> = snap
        .users
        .iter()
        .map(|u| (u.id.as_ref(), fold(&u.user_name)))
        .collect();
    Named {
        users: snap
            .users
            .iter()
            .map(|u| {
                let value = (
                    u.external_id.clone(),
                    u.display_name.clone(),
                    u.given_name.clone(),
                    u.family_name.clone(),
                    u.email.as_deref().map(fold),
                    u.active,
                    u.attributes
                        .get(&UserAttribute::Manager)
                        .map(|m| names.get(m.as_ref()).cloned().unwrap_or_default()),
                );
                (fold(&u.user_name), value)
            })
            .collect(),
        groups: snap
            .groups
            .iter()
            .map(|g| {
                let members = g.member_ids.as_ref().map(|m| {
                    m.iter()
                        .map(|id| names.get(id.as_ref()).cloned().unwrap_or_default())
                        .collect()
                });
                (fold(&g.display_name), members)
            })
            .collect(),
    }
}

/// Seeds the emulator with the simulator's objects; `None` when the emulator refuses one that
/// the simulator accepted (a stricter rule: such a world is not a valid starting point).
fn seed(emu: &idc_emulator::RunningEmulator, sim: &Sim) -> Option<()> {
    let mut ids = BTreeMap::new();
    for u in sim.users.values() {
        let mut body = serde_json::json!({
            "userName": u.user_name,
            "displayName": u.display_name,
            "name": {"givenName": u.given_name, "familyName": u.family_name},
            "active": u.active,
        });
        if let Some(ext) = &u.external_id {
            body["externalId"] = ext.clone().into();
        }
        if let Some(email) = &u.email {
            body["emails"] = serde_json::json!([{"value": email, "type": "work", "primary": true}]);
        }
        ids.insert(u.id.to_string(), emu.insert_user(&body).ok()?);
    }
    for g in sim.groups.values() {
        let id = emu
            .insert_group(&g.display_name, g.external_id.as_deref())
            .ok()?;
        let members: Vec<String> = g
            .members
            .iter()
            .filter_map(|m| ids.get(m).cloned())
            .collect();
        emu.add_members(&id, &members).ok()?;
    }
    Some(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// From the same start, the simulator and the emulator read the same state, and after one
    /// planned pass (each planned from its own read) they hold the same state again.
    #[test]
    fn the_simulator_agrees_with_the_emulator(w in world()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let emu = emulator::start(idc_emulator::Behaviour::default()).await;
            if seed(&emu, &w.sim).is_none() {
                return Ok(());
            }
            let client = emulator::client(&emu);
            let wanted = w.wanted();
            let none = BTreeSet::new();

            let emu_before = read_state(&client, &wanted).await.unwrap();
            let sim_before = w.sim.snapshot(&none, &wanted);
            prop_assert_eq!(named(&emu_before), named(&sim_before), "the same start");

            let mut sim = w.sim.clone();
            sim.apply(&plan(&w.dir, &sim_before, &w.policy), false).map_err(TestCaseError::fail)?;
            let emu_plan = plan(&w.dir, &emu_before, &w.policy);
            let mut summary = Summary::default();
            execute(&client, &emu_plan, &ExecuteOptions::default(), &mut summary).await;
            prop_assert!(summary.failures.is_empty(), "the emulator refused writes the simulator took: {:?}", summary.failures);

            let emu_after = read_state(&client, &wanted).await.unwrap();
            prop_assert_eq!(named(&emu_after), named(&sim.snapshot(&none, &wanted)), "the same end");
            Ok(())
        })?;
    }
}
