//! The planner with the `attributes` setting: defaults, removal in the one update, no-op,
//! bad values held, unmapped attributes left alone, managers.

use super::planner_tests::{dir_user, idc_user, sid, DOMAIN};

use super::*;
use crate::model::settings::{AttributeMapping, UserAttribute as A};
use crate::model::{DirectorySnapshot, DirectoryUser, IdcSnapshot, IdcUser};

fn dir(users: Vec<DirectoryUser>) -> DirectorySnapshot {
    DirectorySnapshot {
        users,
        groups: vec![],
        skipped: vec![],
        domain_sids: vec![DOMAIN.into()],
        read_at: None,
        excluded: Vec::new(),
    }
}

fn idc(users: Vec<IdcUser>) -> IdcSnapshot {
    IdcSnapshot {
        users,
        groups: vec![],
        read_errors: vec![],
    }
}

fn with(mut u: DirectoryUser, attrs: &[(&str, &str)]) -> DirectoryUser {
    for (k, v) in attrs {
        u.attributes
            .insert(k.to_lowercase().into(), Some((*v).into()));
    }
    u
}

fn holding(mut u: IdcUser, attrs: &[(UserAttribute, &str)]) -> IdcUser {
    for (a, v) in attrs {
        u.attributes.insert(*a, (*v).into());
    }
    u
}

use crate::model::settings::UserAttribute;

#[test]
fn the_originals_three_attributes_are_created_by_default() {
    let u = with(
        dir_user(1),
        &[
            ("title", " Engineer "),
            ("department", "R&D"),
            ("company", "Corp"),
            ("employeeID", "7"),
        ],
    );
    let plan = plan(&dir(vec![u]), &idc(vec![]), &Policy::default());
    let Operation::CreateUser { user, .. } = &plan.operations[0] else {
        panic!("{plan:#?}")
    };
    let expected: crate::model::AttributeValues = [
        (A::Title, "Engineer"),
        (A::Organization, "Corp"),
        (A::Department, "R&D"),
    ]
    .into_iter()
    .map(|(a, v)| (a, v.into()))
    .collect();
    assert_eq!(user.attributes, expected);
}

#[test]
fn changes_and_a_removal_are_one_update_and_the_next_pass_is_a_no_op() {
    let u = with(dir_user(1), &[("title", "Lead"), ("company", "Corp")]);
    let current = holding(
        idc_user(1),
        &[
            (A::Title, "Engineer"),
            (A::Department, "Sales"),
            (A::Organization, "Corp"),
            (A::NickName, "set by hand"),
        ],
    );
    let plan1 = plan(
        &dir(vec![u.clone()]),
        &idc(vec![current]),
        &Policy::default(),
    );
    assert_eq!(plan1.operations.len(), 1, "{plan1:#?}");
    let Operation::UpdateUser { user, changed, .. } = &plan1.operations[0] else {
        panic!("{plan1:#?}")
    };
    assert_eq!(
        changed,
        &vec![
            UserField::Attribute(A::Title),
            UserField::Attribute(A::Department)
        ]
    );
    assert_eq!(user.attributes.get(&A::Department), None);
    // The unmanaged nickName is kept as it is, never removed.
    assert_eq!(
        user.attributes.get(&A::NickName).map(|v| &**v),
        Some("set by hand")
    );
    let after = holding(
        idc_user(1),
        &[
            (A::Title, "Lead"),
            (A::Organization, "Corp"),
            (A::NickName, "set by hand"),
        ],
    );
    let plan2 = plan(&dir(vec![u]), &idc(vec![after]), &Policy::default());
    assert!(plan2.is_empty(), "{plan2:#?}");
}

#[test]
fn a_bad_value_is_held_with_a_note_and_the_user_still_synced() {
    let u = with(
        dir_user(1),
        &[("title", &"t".repeat(1025)), ("department", "R&D")],
    );
    let mut u = u;
    u.display_name = Some("Renamed".into());
    let current = holding(idc_user(1), &[(A::Title, "Old")]);
    let plan = plan(&dir(vec![u]), &idc(vec![current]), &Policy::default());
    let Operation::UpdateUser { user, changed, .. } = only_op(&plan) else {
        panic!()
    };
    assert_eq!(
        changed,
        &vec![UserField::DisplayName, UserField::Attribute(A::Department)]
    );
    assert_eq!(user.attributes.get(&A::Title).map(|v| &**v), Some("Old"));
    assert!(plan.skipped.is_empty());
    assert!(
        plan.notes
            .iter()
            .any(|n| n.text.contains("title not synced") && n.text.contains("1024")),
        "{:?}",
        plan.notes
    );
}

fn only_op(plan: &Plan) -> &Operation {
    assert_eq!(plan.operations.len(), 1, "{plan:#?}");
    &plan.operations[0]
}

#[test]
fn unmapped_attributes_are_never_sent_nor_removed() {
    let policy = Policy {
        attributes: AttributeMapping::none(),
        ..Policy::default()
    };
    let u = with(dir_user(1), &[("title", "Lead")]);
    let current = holding(idc_user(1), &[(A::Title, "Engineer"), (A::Department, "X")]);
    assert!(plan(&dir(vec![u.clone()]), &idc(vec![current]), &policy).is_empty());
    let created = plan(&dir(vec![u]), &idc(vec![]), &policy);
    let Operation::CreateUser { user, .. } = only_op(&created) else {
        panic!()
    };
    assert!(user.attributes.is_empty());
}

#[test]
fn a_manager_is_its_identity_center_id_or_is_left_empty() {
    let mut policy = Policy::default();
    policy.attributes.set(A::Manager, "manager");
    let boss = dir_user(2);
    let report = with(dir_user(1), &[("manager", &boss.dn.to_uppercase())]);
    let plan1 = plan(
        &dir(vec![report.clone(), boss.clone()]),
        &idc(vec![idc_user(1), idc_user(2)]),
        &policy,
    );
    let Operation::UpdateUser { user, changed, .. } = only_op(&plan1) else {
        panic!()
    };
    assert_eq!(changed, &vec![UserField::Attribute(A::Manager)]);
    assert_eq!(user.attributes.get(&A::Manager).map(|v| &**v), Some("u-2"));

    // The manager is not synced: an old value is removed, with a note.
    let current = holding(idc_user(1), &[(A::Manager, "u-9")]);
    let plan3 = plan(&dir(vec![report]), &idc(vec![current]), &policy);
    let Operation::UpdateUser { user, changed, .. } = only_op(&plan3) else {
        panic!()
    };
    assert_eq!(changed, &vec![UserField::Attribute(A::Manager)]);
    assert!(!user.attributes.contains_key(&A::Manager));
    assert_eq!(codes(&plan3.notes), vec![ReasonCode::ManagerNotSynced]);
}

fn codes(findings: &[Finding]) -> Vec<ReasonCode> {
    findings.iter().map(|f| f.code).collect()
}

fn manager_policy() -> Policy {
    let mut policy = Policy::default();
    policy.attributes.set(A::Manager, "manager");
    policy
}

#[test]
fn a_user_and_its_manager_both_new_are_linked_in_the_same_pass() {
    let policy = manager_policy();
    let boss = dir_user(2);
    let report = with(dir_user(1), &[("manager", &boss.dn.to_uppercase())]);
    let users = dir(vec![report.clone(), boss]);
    let first = plan(&users, &idc(vec![]), &policy);
    assert!(
        first.notes.is_empty(),
        "nothing left for later: {:#?}",
        first.notes
    );
    assert_eq!(first.operations.len(), 3, "{first:#?}");
    for op in &first.operations[..2] {
        let Operation::CreateUser { user, .. } = op else {
            panic!("{first:#?}")
        };
        assert!(
            !user.attributes.contains_key(&A::Manager),
            "no id yet: {op:?}"
        );
    }
    let set = &first.operations[2];
    assert_eq!(set.phase(), Phase::Additions, "after the creates");
    assert!(!set.is_destructive());
    assert_eq!(set.reason().code, ReasonCode::ManagerCreatedThisPass);
    assert_eq!(
        set,
        &Operation::SetManager {
            user: UserRef::New(sid(1).into()),
            user_name: "user1@corp.example".into(),
            manager: UserRef::New(sid(2).into()),
            manager_name: "user2@corp.example".into(),
            from: None,
            reason: set.reason().clone(),
        }
    );

    // Once both exist with the link, nothing is written.
    let after = idc(vec![
        holding(idc_user(1), &[(A::Manager, "u-2")]),
        idc_user(2),
    ]);
    let second = plan(&users, &after, &policy);
    assert!(second.is_empty(), "{second:#?}");
}

#[test]
fn an_existing_user_gets_a_new_manager_after_its_create_and_nothing_else_changes() {
    let policy = manager_policy();
    let boss = dir_user(2);
    let report = with(dir_user(1), &[("manager", &boss.dn)]);
    let current = holding(idc_user(1), &[(A::Manager, "u-9")]);
    let plan = plan(&dir(vec![report, boss]), &idc(vec![current]), &policy);
    assert_eq!(plan.operations.len(), 2, "no update of user 1: {plan:#?}");
    assert!(
        matches!(&plan.operations[0], Operation::CreateUser { user, .. } if user.external_id == sid(2))
    );
    let Operation::SetManager {
        user,
        manager,
        from,
        ..
    } = &plan.operations[1]
    else {
        panic!("{plan:#?}")
    };
    assert_eq!(user, &UserRef::Existing("u-1".into()));
    assert_eq!(manager, &UserRef::New(sid(2).into()));
    assert_eq!(from.as_deref(), Some("u-9"));
}

#[test]
fn a_manager_not_created_in_this_pass_is_never_referenced() {
    let policy = manager_policy();
    // The manager's userName is held by a user scim-sync does not manage: a conflict, so
    // the manager is not synced and the report's manager is left empty.
    let boss = dir_user(2);
    let report = with(dir_user(1), &[("manager", &boss.dn)]);
    let mut squatter = idc_user(7);
    squatter.external_id = None;
    squatter.user_name = "user2@corp.example".into();
    let plan1 = plan(
        &dir(vec![report.clone(), boss.clone()]),
        &idc(vec![squatter]),
        &policy,
    );
    assert!(
        plan1
            .operations
            .iter()
            .all(|o| !matches!(o, Operation::SetManager { .. })),
        "{plan1:#?}"
    );
    assert_eq!(plan1.conflicts.len(), 1, "{plan1:#?}");
    assert_eq!(codes(&plan1.notes), vec![ReasonCode::ManagerNotSynced]);

    // The manager takes a userName another user of ours gives up in this pass: it is
    // created in the next pass, and the report's manager kept until then.
    let mut boss = boss;
    boss.user_principal_name = Some("user3@corp.example".into());
    let mut three = dir_user(3);
    three.user_principal_name = Some("renamed@corp.example".into());
    let current = holding(idc_user(1), &[(A::Manager, "u-9")]);
    let plan2 = plan(
        &dir(vec![report, boss, three]),
        &idc(vec![current, idc_user(3)]),
        &policy,
    );
    assert!(
        plan2
            .operations
            .iter()
            .all(|o| matches!(o, Operation::UpdateUser { id, .. } if id == "u-3")),
        "only user 3's rename: {plan2:#?}"
    );
    let mut notes = codes(&plan2.notes);
    notes.sort();
    assert_eq!(
        notes,
        vec![
            ReasonCode::NameReleasedThisPass,
            ReasonCode::ManagerNextPass
        ]
    );

    // The report's own create is refused: no manager for it either.
    let boss = dir_user(2);
    let report = with(dir_user(1), &[("manager", &boss.dn)]);
    let mut squatter = idc_user(7);
    squatter.external_id = None;
    squatter.user_name = "user1@corp.example".into();
    let plan3 = plan(&dir(vec![report, boss]), &idc(vec![squatter]), &policy);
    assert!(
        plan3
            .operations
            .iter()
            .all(|o| matches!(o, Operation::CreateUser { user, .. } if user.external_id == sid(2))),
        "{plan3:#?}"
    );
}
