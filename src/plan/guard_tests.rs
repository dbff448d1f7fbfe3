//! Unit tests of the mass-change guard.

use super::planner_tests::{dir_group, dir_user, idc_group, idc_user, DOMAIN};
use super::*;
use crate::model::{DirectorySnapshot, IdcSnapshot};

/// `owned` users in Identity Center, the first `in_scope` of them still in the directory.
fn world(owned: u32, in_scope: u32) -> (DirectorySnapshot, IdcSnapshot) {
    let dir = DirectorySnapshot {
        users: (1..=in_scope).map(dir_user).collect(),
        domain_sids: vec![DOMAIN.into()],
        ..Default::default()
    };
    let idc = IdcSnapshot {
        users: (1..=owned).map(idc_user).collect(),
        ..Default::default()
    };
    (dir, idc)
}

fn disables(plan: &Plan) -> usize {
    plan.operations
        .iter()
        .filter(|op| matches!(op, Operation::DisableUser { .. }))
        .count()
}

#[test]
fn a_plan_within_the_limits_passes_unchanged() {
    let (dir, idc) = world(100, 90);
    let plan = plan(&dir, &idc, &Policy::default());
    assert_eq!(disables(&plan), 10);
    let (kept, withheld) = apply_guard(plan.clone(), &idc, &dir, &GuardSettings::default());
    assert_eq!(kept, plan);
    assert!(withheld.is_empty());
}

#[test]
fn more_than_the_share_is_withheld_and_the_safe_part_kept() {
    let (mut dir, idc) = world(100, 89);
    dir.users.push(dir_user(500));
    let plan = plan(&dir, &idc, &Policy::default());
    let (kept, withheld) = apply_guard(plan, &idc, &dir, &GuardSettings::default());
    assert_eq!(disables(&kept), 0);
    assert_eq!(kept.operations.len(), 1, "the create stays: {kept:#?}");
    assert_eq!(withheld.len(), 1);
    assert_eq!(withheld[0].code, crate::model::ReasonCode::HeldBackByGuard);
    assert!(
        withheld[0].text.starts_with("11 of 100 managed users"),
        "{withheld:?}"
    );
    assert!(withheld[0].text.contains("guard.allowMassChanges"));
}

#[test]
fn more_than_the_count_is_withheld_even_under_the_share() {
    let (dir, idc) = world(1000, 940);
    let plan = plan(&dir, &idc, &Policy::default());
    let (kept, withheld) = apply_guard(plan, &idc, &dir, &GuardSettings::default());
    assert!(kept.is_empty());
    assert!(withheld[0].text.contains("at most 50"), "{withheld:?}");
}

#[test]
fn a_small_installation_may_still_lose_one_user() {
    let (dir, idc) = world(3, 2);
    let plan = plan(&dir, &idc, &Policy::default());
    let (kept, withheld) = apply_guard(plan, &idc, &dir, &GuardSettings::default());
    assert_eq!(disables(&kept), 1);
    assert!(withheld.is_empty());
}

#[test]
fn an_empty_directory_disables_nobody_unless_overridden() {
    let (dir, idc) = world(1, 0);
    let plan = plan(&dir, &idc, &Policy::default());
    assert_eq!(disables(&plan), 1);
    let (kept, withheld) = apply_guard(plan.clone(), &idc, &dir, &GuardSettings::default());
    assert!(kept.is_empty());
    assert!(
        withheld[0].text.contains("no users in scope"),
        "{withheld:?}"
    );

    let lax = GuardSettings {
        max_destructive_share: 1.0,
        max_destructive_count: 1000,
        allow_mass_changes: false,
    };
    assert!(apply_guard(plan.clone(), &idc, &dir, &lax).0.is_empty());
    let allow = GuardSettings {
        allow_mass_changes: true,
        ..GuardSettings::default()
    };
    let (kept, withheld) = apply_guard(plan.clone(), &idc, &dir, &allow);
    assert_eq!(kept, plan);
    assert!(withheld.is_empty());
}

#[test]
fn deactivations_count_as_disables_and_keep_their_other_changes() {
    let (mut dir, idc) = world(10, 10);
    for u in &mut dir.users[..5] {
        u.enabled = false;
    }
    dir.users[0].display_name = Some("Renamed".into());
    let plan = plan(&dir, &idc, &Policy::default());
    assert_eq!(disables(&plan), 5);
    assert_eq!(
        plan.operations.len(),
        6,
        "one update, five disables: {plan:#?}"
    );
    let (kept, withheld) = apply_guard(plan, &idc, &dir, &GuardSettings::default());
    assert!(
        withheld[0].text.starts_with("5 of 10 managed users"),
        "{withheld:?}"
    );
    let [Operation::UpdateUser { user, changed, .. }] = &kept.operations[..] else {
        panic!("{kept:#?}")
    };
    assert_eq!(changed, &vec![UserField::DisplayName]);
    assert!(user.active, "the user keeps its current state");
}

#[test]
fn member_removals_are_measured_against_owned_memberships() {
    let members: Vec<u32> = (1..=20).collect();
    let dir = DirectorySnapshot {
        users: members.iter().map(|n| dir_user(*n)).collect(),
        groups: vec![dir_group(1, &members[..17]), dir_group(2, &members)],
        skipped: vec![],
        domain_sids: vec![DOMAIN.into()],
        read_at: None,
        excluded: Vec::new(),
    };
    let idc = IdcSnapshot {
        users: members.iter().map(|n| idc_user(*n)).collect(),
        groups: vec![idc_group(1, &members), idc_group(2, &members)],
        read_errors: vec![],
    };
    let plan = plan(&dir, &idc, &Policy::default());
    // 3 of 40 memberships removed: within 10 % (4).
    let (kept, withheld) = apply_guard(plan.clone(), &idc, &dir, &GuardSettings::default());
    assert!(withheld.is_empty() && kept == plan);
    let strict = GuardSettings {
        max_destructive_count: 2,
        ..GuardSettings::default()
    };
    let (kept, withheld) = apply_guard(plan, &idc, &dir, &strict);
    assert!(kept.is_empty());
    assert!(
        withheld[0].text.starts_with("3 of 40 memberships"),
        "{withheld:?}"
    );
}
