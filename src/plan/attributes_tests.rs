//! The planner with the `attributes` setting: defaults, removal in the one update, no-op,
//! bad values held, unmapped attributes left alone, managers.

use super::planner_tests::{dir_user, idc_user, DOMAIN};

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
        u.attributes.insert(k.to_lowercase(), Some(v.to_string()));
    }
    u
}

fn holding(mut u: IdcUser, attrs: &[(UserAttribute, &str)]) -> IdcUser {
    for (a, v) in attrs {
        u.attributes.insert(*a, v.to_string());
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
    .map(|(a, v)| (a, v.to_string()))
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
        user.attributes.get(&A::NickName).map(String::as_str),
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
    assert_eq!(
        user.attributes.get(&A::Title).map(String::as_str),
        Some("Old")
    );
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
fn a_manager_is_its_identity_center_id_or_waits_or_is_left_empty() {
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
    assert_eq!(
        user.attributes.get(&A::Manager).map(String::as_str),
        Some("u-2")
    );

    // The manager is created in this pass: the report is created without it, noted.
    let plan2 = plan(&dir(vec![report.clone(), boss]), &idc(vec![]), &policy);
    assert_eq!(plan2.operations.len(), 2);
    assert!(plan2
        .operations
        .iter()
        .all(|o| matches!(o, Operation::CreateUser { user, .. } if !user.attributes.contains_key(&A::Manager))));
    assert!(plan2
        .notes
        .iter()
        .any(|n| n.text.contains("created in this pass")));

    // The manager is not synced: an old value is removed, with a note.
    let current = holding(idc_user(1), &[(A::Manager, "u-9")]);
    let plan3 = plan(&dir(vec![report]), &idc(vec![current]), &policy);
    let Operation::UpdateUser { user, changed, .. } = only_op(&plan3) else {
        panic!()
    };
    assert_eq!(changed, &vec![UserField::Attribute(A::Manager)]);
    assert!(!user.attributes.contains_key(&A::Manager));
    assert!(plan3
        .notes
        .iter()
        .any(|n| n.text.contains("not a user scim-sync")));
}
