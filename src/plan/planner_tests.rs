//! Unit tests of the planner's rules, one behaviour each, on hand-built snapshots.

use super::*;
use crate::model::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, IdcGroup, IdcSnapshot, IdcUser, SkippedEntry,
};

/// The domain of every directory user these tests build.
pub(super) const DOMAIN: &str = "S-1-5-21-100-200-300";

/// A placeholder reason: expected operations are compared with [`bare`], their codes with
/// [`op_codes`].
fn any() -> Reason {
    Reason::new(ReasonCode::NewInScope, "")
}

/// The operations with every reason replaced by [`any`].
fn bare(ops: &[Operation]) -> Vec<Operation> {
    ops.iter()
        .cloned()
        .map(|mut op| {
            *op.reason_mut() = any();
            op
        })
        .collect()
}

fn op_codes(ops: &[Operation]) -> Vec<ReasonCode> {
    ops.iter().map(|op| op.reason().code).collect()
}

fn codes(findings: &[Finding]) -> Vec<ReasonCode> {
    findings.iter().map(|f| f.code).collect()
}

pub(super) fn sid(n: u32) -> String {
    format!("{DOMAIN}-{n}")
}

pub(super) fn guid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

pub(super) fn dir_user(n: u32) -> DirectoryUser {
    DirectoryUser {
        object_sid: sid(n).into(),
        object_guid: format!("10000000-0000-4000-8000-{n:012}"),
        dn: format!("CN=User {n},OU=Staff,DC=corp"),
        sam_account_name: format!("user{n}"),
        user_principal_name: Some(format!("user{n}@corp.example")),
        given_name: Some(format!("Given{n}")),
        surname: Some(format!("Family{n}")),
        display_name: Some(format!("User {n}")),
        mail: Some(format!("user{n}@example.com")),
        enabled: true,
        account_expires: None,
        attributes: Default::default(),
    }
}

/// The Identity Center user a converged pass leaves for `dir_user(n)`.
pub(super) fn idc_user(n: u32) -> IdcUser {
    IdcUser {
        id: format!("u-{n}").into(),
        external_id: Some(sid(n)),
        user_name: format!("user{n}@corp.example"),
        display_name: Some(format!("User {n}")),
        given_name: Some(format!("Given{n}")),
        family_name: Some(format!("Family{n}")),
        email: Some(format!("user{n}@example.com")),
        active: true,
        attributes: Default::default(),
    }
}

fn foreign_user(id: &str, user_name: &str, email: Option<&str>) -> IdcUser {
    IdcUser {
        id: id.into(),
        external_id: None,
        user_name: user_name.into(),
        display_name: Some("Someone".into()),
        given_name: Some("Some".into()),
        family_name: Some("One".into()),
        email: email.map(Into::into),
        active: true,
        attributes: Default::default(),
    }
}

pub(super) fn dir_group(n: u32, members: &[u32]) -> DirectoryGroup {
    DirectoryGroup {
        object_guid: guid(n),
        object_sid: None,
        dn: format!("CN=aws-group{n},OU=Groups,DC=corp"),
        name: format!("aws-group{n}"),
        account_name: None,
        description: None,
        member_sids: members.iter().map(|m| sid(*m).into()).collect(),
        members_partial: None,
    }
}

pub(super) fn idc_group(n: u32, members: &[u32]) -> IdcGroup {
    IdcGroup {
        id: format!("g-{n}"),
        external_id: Some(guid(n)),
        display_name: format!("aws-group{n}"),
        member_ids: Some(members.iter().map(|m| format!("u-{m}").into()).collect()),
    }
}

fn dir(users: Vec<DirectoryUser>, groups: Vec<DirectoryGroup>) -> DirectorySnapshot {
    DirectorySnapshot {
        users,
        groups,
        skipped: vec![],
        domain_sids: vec![DOMAIN.into()],
        read_at: None,
        excluded: Vec::new(),
    }
}

fn idc(users: Vec<IdcUser>, groups: Vec<IdcGroup>) -> IdcSnapshot {
    IdcSnapshot {
        users,
        groups,
        read_errors: vec![],
    }
}

/// A user entry the reader skipped before it could read its objectSid.
fn unanchored(dn: &str) -> SkippedEntry {
    SkippedEntry {
        dn: dn.into(),
        anchor: None,
        code: ReasonCode::UnreadableEntry,
        reason: "user has no objectSid".into(),
        kind: crate::model::EntryKind::User,
        user_names: Vec::new(),
    }
}

fn p() -> Policy {
    Policy::default()
}

fn only_op(plan: &Plan) -> &Operation {
    assert_eq!(plan.operations.len(), 1, "{plan:#?}");
    &plan.operations[0]
}

#[test]
fn a_converged_state_plans_nothing() {
    let d = dir(vec![dir_user(1), dir_user(2)], vec![dir_group(1, &[1, 2])]);
    let i = idc(vec![idc_user(1), idc_user(2)], vec![idc_group(1, &[1, 2])]);
    let plan = plan(&d, &i, &p());
    assert!(plan.is_empty(), "{plan:#?}");
    assert!(plan.conflicts.is_empty() && plan.skipped.is_empty() && plan.notes.is_empty());
}

#[test]
fn a_new_enabled_user_is_created_with_its_mapped_attributes() {
    let plan = plan(
        &dir(vec![dir_user(1)], vec![]),
        &IdcSnapshot::default(),
        &p(),
    );
    let Operation::CreateUser { user, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(user.external_id, sid(1));
    assert_eq!(user.user_name, "user1@corp.example");
    assert!(user.active);
}

#[test]
fn a_disabled_user_that_does_not_exist_yet_is_not_created() {
    let mut u = dir_user(1);
    u.enabled = false;
    let plan = plan(
        &dir(vec![u], vec![dir_group(1, &[1])]),
        &IdcSnapshot::default(),
        &p(),
    );
    assert_eq!(plan.operations.len(), 1, "only the group: {plan:#?}");
    assert!(matches!(plan.operations[0], Operation::CreateGroup { .. }));
}

#[test]
fn an_update_lists_only_the_changed_fields() {
    let mut u = dir_user(1);
    u.display_name = Some("New Name".into());
    u.mail = Some("other@example.com".into());
    let plan = plan(&dir(vec![u], vec![]), &idc(vec![idc_user(1)], vec![]), &p());
    let Operation::UpdateUser {
        id, user, changed, ..
    } = only_op(&plan)
    else {
        panic!("{plan:#?}")
    };
    assert_eq!(id, "u-1");
    assert_eq!(changed, &vec![UserField::DisplayName, UserField::Email]);
    assert_eq!(user.display_name, "New Name");
}

#[test]
fn case_only_differences_are_ignored_unless_lowercasing_is_on() {
    let mut u = dir_user(1);
    u.user_principal_name = Some("User1@Corp.Example".into());
    u.mail = Some("USER1@example.com".into());
    let d = dir(vec![u], vec![]);
    let i = idc(vec![idc_user(1)], vec![]);
    assert!(plan(&d, &i, &p()).is_empty());

    let mut upper = idc_user(1);
    upper.user_name = "User1@Corp.Example".into();
    let lower = Policy {
        lowercase_user_names: true,
        ..p()
    };
    let plan = plan(&d, &idc(vec![upper], vec![]), &lower);
    let Operation::UpdateUser { user, changed, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(changed, &vec![UserField::UserName]);
    assert_eq!(user.user_name, "user1@corp.example");
}

#[test]
fn a_user_disabled_in_the_directory_is_deactivated_by_a_disable_never_an_update() {
    let mut u = dir_user(1);
    u.enabled = false;
    let plan = plan(&dir(vec![u], vec![]), &idc(vec![idc_user(1)], vec![]), &p());
    assert_eq!(
        only_op(&plan),
        &Operation::DisableUser {
            id: "u-1".into(),
            external_id: sid(1),
            user_name: "user1@corp.example".into(),
            reason: Reason::new(ReasonCode::DisabledInDirectory, "disabled in the directory"),
        },
        "a user disabled in AD is not 'no longer in scope'"
    );
}

#[test]
fn a_rename_with_a_deactivation_is_an_update_and_a_disable() {
    let mut u = dir_user(1);
    u.enabled = false;
    u.display_name = Some("Renamed".into());
    let plan = plan(&dir(vec![u], vec![]), &idc(vec![idc_user(1)], vec![]), &p());
    let [Operation::UpdateUser { user, changed, .. }, Operation::DisableUser { id, .. }] =
        &plan.operations[..]
    else {
        panic!("{plan:#?}")
    };
    assert_eq!(changed, &vec![UserField::DisplayName]);
    assert!(user.active, "the update leaves `active` to the disable");
    assert_eq!(id, "u-1");
}

#[test]
fn a_user_enabled_again_in_the_directory_is_reactivated_by_an_update() {
    let mut inactive = idc_user(1);
    inactive.active = false;
    let plan = plan(
        &dir(vec![dir_user(1)], vec![]),
        &idc(vec![inactive], vec![]),
        &p(),
    );
    let Operation::UpdateUser { user, changed, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(changed, &vec![UserField::Active]);
    assert!(user.active);
}

#[test]
fn out_of_scope_users_follow_the_policy() {
    let mut inactive = idc_user(3);
    inactive.active = false;
    let i = idc(vec![idc_user(1), idc_user(2), inactive], vec![]);
    let d = dir(vec![dir_user(1)], vec![]);

    let disable = plan(&d, &i, &p());
    assert_eq!(
        op_codes(&disable.operations),
        vec![ReasonCode::LeftSyncGroup]
    );
    assert_eq!(
        bare(&disable.operations),
        vec![Operation::DisableUser {
            id: "u-2".into(),
            external_id: sid(2),
            user_name: "user2@corp.example".into(),
            reason: any(),
        }],
        "only the active one is disabled"
    );

    let delete = Policy {
        out_of_scope_users: OutOfScopeAction::Delete,
        ..p()
    };
    let ids: Vec<_> = plan(&d, &i, &delete)
        .operations
        .iter()
        .map(|op| match op {
            Operation::DeleteUser { id, .. } => id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, vec!["u-2", "u-3"]);

    let ignore = Policy {
        out_of_scope_users: OutOfScopeAction::Ignore,
        ..p()
    };
    assert!(plan(&d, &i, &ignore).is_empty());
}

#[test]
fn foreign_users_are_never_touched() {
    let i = idc(
        vec![foreign_user("f-1", "admin@corp.example", None)],
        vec![],
    );
    let delete = Policy {
        out_of_scope_users: OutOfScopeAction::Delete,
        ..p()
    };
    assert!(plan(&DirectorySnapshot::default(), &i, &delete).is_empty());
}

#[test]
fn a_user_skipped_by_the_directory_reader_is_left_alone() {
    let mut d = dir(vec![], vec![dir_group(1, &[])]);
    d.skipped.push(SkippedEntry {
        dn: "CN=User 1".into(),
        anchor: Some(sid(1)),
        code: crate::model::ReasonCode::UnreadableEntry,
        reason: "unreadable".into(),
        ..unanchored("CN=User 1")
    });
    let plan = plan(&d, &idc(vec![idc_user(1)], vec![idc_group(1, &[1])]), &p());
    assert!(plan.is_empty(), "neither disabled nor removed: {plan:#?}");
}

#[test]
fn an_entry_identity_center_would_reject_is_skipped_and_its_user_left_alone() {
    let mut u = dir_user(1);
    u.given_name = None;
    u.display_name = Some("Changed".into());
    let d = dir(vec![u, dir_user(2)], vec![dir_group(1, &[2])]);
    let i = idc(vec![idc_user(1), idc_user(2)], vec![idc_group(1, &[1, 2])]);
    let plan = plan(&d, &i, &p());
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(codes(&plan.skipped), vec![ReasonCode::MissingGivenName]);
    assert!(
        plan.skipped[0].concerns("CN=User 1,OU=Staff,DC=corp") && plan.skipped[0].concerns(&sid(1))
    );
}

#[test]
fn a_create_colliding_with_a_foreign_user_is_a_conflict() {
    for foreign in [
        foreign_user("f-1", "USER1@corp.example", None),
        foreign_user("f-1", "someone", Some("User1@Example.com")),
    ] {
        let plan = plan(
            &dir(vec![dir_user(1)], vec![]),
            &idc(vec![foreign], vec![]),
            &p(),
        );
        assert!(plan.is_empty(), "{plan:#?}");
        assert_eq!(
            codes(&plan.conflicts),
            vec![ReasonCode::NameTakenByForeignObject]
        );
        assert!(plan.conflicts[0].concerns(&sid(1)));
    }
}

#[test]
fn an_update_onto_a_foreign_users_name_changes_only_the_other_fields() {
    let mut u = dir_user(1);
    u.user_principal_name = Some("taken@corp.example".into());
    u.surname = Some("Married".into());
    let i = idc(
        vec![idc_user(1), foreign_user("f-1", "taken@corp.example", None)],
        vec![],
    );
    let plan = plan(&dir(vec![u], vec![]), &i, &p());
    let Operation::UpdateUser { user, changed, .. } = only_op(&plan) else {
        panic!("{plan:#?}")
    };
    assert_eq!(changed, &vec![UserField::FamilyName]);
    assert_eq!(
        user.user_name, "user1@corp.example",
        "user holds the state after the update"
    );
    assert_eq!(
        op_codes(&plan.operations),
        vec![ReasonCode::AttributeChanged]
    );
    assert_eq!(
        codes(&plan.conflicts),
        vec![ReasonCode::NameTakenByForeignObject]
    );
}

#[test]
fn directory_users_mapping_to_one_user_name_are_both_skipped() {
    let mut b = dir_user(2);
    b.user_principal_name = Some("USER1@corp.example".into());
    let plan = plan(
        &dir(vec![dir_user(1), b], vec![]),
        &IdcSnapshot::default(),
        &p(),
    );
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(
        codes(&plan.skipped),
        vec![ReasonCode::DuplicateInDirectory; 2]
    );
}

#[test]
fn a_name_released_in_this_pass_is_taken_in_the_next() {
    // User 1 moves to a new UPN; new user 2 gets user 1's old one.
    let mut one = dir_user(1);
    one.user_principal_name = Some("renamed@corp.example".into());
    let mut two = dir_user(2);
    two.user_principal_name = Some("user1@corp.example".into());
    let plan = plan(
        &dir(vec![one, two], vec![]),
        &idc(vec![idc_user(1)], vec![]),
        &p(),
    );
    assert!(matches!(only_op(&plan), Operation::UpdateUser { .. }));
    assert_eq!(codes(&plan.notes), vec![ReasonCode::NameReleasedThisPass]);
    assert!(plan.conflicts.is_empty());
}

#[test]
fn groups_are_created_renamed_and_kept_when_out_of_scope() {
    let mut renamed = dir_group(2, &[]);
    renamed.name = "aws-renamed".into();
    let d = dir(vec![], vec![dir_group(1, &[]), renamed]);
    let i = idc(vec![], vec![idc_group(2, &[]), idc_group(3, &[])]);
    let plan = plan(&d, &i, &p());
    assert_eq!(
        op_codes(&plan.operations),
        vec![ReasonCode::NewInScope, ReasonCode::GroupRenamed]
    );
    assert_eq!(
        bare(&plan.operations),
        vec![
            Operation::CreateGroup {
                external_id: guid(1),
                display_name: "aws-group1".into(),
                reason: any(),
            },
            Operation::RenameGroup {
                id: "g-2".into(),
                external_id: guid(2),
                from: "aws-group2".into(),
                to: "aws-renamed".into(),
                reason: any(),
            },
        ]
    );
    let delete = Policy {
        delete_groups_out_of_scope: true,
        ..p()
    };
    let plan = super::plan(&d, &i, &delete);
    assert!(op_codes(&plan.operations).contains(&ReasonCode::GroupLeftScope));
    assert!(bare(&plan.operations).contains(&Operation::DeleteGroup {
        id: "g-3".into(),
        external_id: guid(3),
        display_name: "aws-group3".into(),
        reason: any(),
    }));
}

#[test]
fn a_same_named_foreign_group_is_adopted_only_when_allowed() {
    let foreign = IdcGroup {
        id: "f-g".into(),
        external_id: None,
        display_name: "AWS-group1".into(),
        member_ids: None,
    };
    let d = dir(vec![dir_user(1)], vec![dir_group(1, &[1])]);
    let i = idc(vec![idc_user(1)], vec![foreign.clone()]);

    let off = plan(&d, &i, &p());
    assert!(off.is_empty(), "{off:#?}");
    assert_eq!(
        codes(&off.conflicts),
        vec![ReasonCode::NameTakenByForeignObject]
    );
    assert!(off.conflicts[0].text.contains("adoptGroupsByName"));

    let on = Policy {
        adopt_groups_by_name: true,
        ..p()
    };
    let adopted = plan(&d, &i, &on);
    assert_eq!(
        op_codes(&adopted.operations),
        vec![ReasonCode::AdoptedByName, ReasonCode::GroupRenamed]
    );
    assert_eq!(
        bare(&adopted.operations),
        vec![
            Operation::AdoptGroup {
                id: "f-g".into(),
                external_id: guid(1),
                display_name: "AWS-group1".into(),
                reason: any(),
            },
            Operation::RenameGroup {
                id: "f-g".into(),
                external_id: guid(1),
                from: "AWS-group1".into(),
                to: "aws-group1".into(),
                reason: any(),
            },
        ]
    );
    assert_eq!(
        codes(&adopted.notes),
        vec![
            ReasonCode::MembersManagedNextPass,
            ReasonCode::MembersNotRead
        ]
    );

    let mut tagged = foreign;
    tagged.external_id = Some("okta-123".into());
    let other = plan(&d, &idc(vec![idc_user(1)], vec![tagged]), &on);
    assert!(other.is_empty() && other.conflicts.len() == 1, "{other:#?}");
}

#[test]
fn membership_follows_the_directory_and_removes_every_other_member() {
    let d = dir(
        vec![dir_user(1), dir_user(2), dir_user(3)],
        vec![dir_group(1, &[1, 3, 3]), dir_group(2, &[1, 2])],
    );
    let mut g1 = idc_group(1, &[2]);
    g1.member_ids.as_mut().unwrap().insert("f-1".into());
    let i = idc(
        vec![idc_user(1), idc_user(2), foreign_user("f-1", "x", None)],
        vec![g1],
    );
    let plan = plan(&d, &i, &p());
    assert_eq!(
        op_codes(&plan.operations),
        vec![
            ReasonCode::NewInScope,
            ReasonCode::NewInScope,
            ReasonCode::MemberAdded,
            ReasonCode::MemberAdded,
            ReasonCode::MemberLeftGroup
        ]
    );
    assert_eq!(
        bare(&plan.operations),
        vec![
            Operation::CreateGroup {
                external_id: guid(2),
                display_name: "aws-group2".into(),
                reason: any(),
            },
            Operation::CreateUser {
                user: desired_user(&dir_user(3), &p()).unwrap(),
                reason: any(),
            },
            Operation::AddMembers {
                group: GroupRef::Existing("g-1".into()),
                group_name: "aws-group1".into(),
                users: vec![UserRef::Existing("u-1".into()), UserRef::New(sid(3).into())],
                reason: any(),
            },
            Operation::AddMembers {
                group: GroupRef::New(guid(2)),
                group_name: "aws-group2".into(),
                users: vec![
                    UserRef::Existing("u-1".into()),
                    UserRef::Existing("u-2".into())
                ],
                reason: any(),
            },
            Operation::RemoveMembers {
                group_id: "g-1".into(),
                group_name: "aws-group1".into(),
                user_ids: vec!["f-1".into(), "u-2".into()],
                reason: any(),
            },
        ]
    );
}

#[test]
fn unread_membership_is_left_alone_and_noted() {
    let mut g = idc_group(1, &[]);
    g.member_ids = None;
    let d = dir(vec![dir_user(1)], vec![dir_group(1, &[1])]);
    let plan = plan(&d, &idc(vec![idc_user(1)], vec![g]), &p());
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(codes(&plan.notes), vec![ReasonCode::MembersNotRead]);
}

#[test]
fn out_of_scope_users_lose_their_memberships_but_skipped_ones_keep_them() {
    let mut broken = dir_user(3);
    broken.surname = None;
    let d = dir(vec![dir_user(1), broken], vec![dir_group(1, &[1, 3])]);
    let i = idc(
        vec![idc_user(1), idc_user(2), idc_user(3)],
        vec![idc_group(1, &[1, 2, 3])],
    );
    let plan = plan(&d, &i, &p());
    assert!(bare(&plan.operations).contains(&Operation::RemoveMembers {
        group_id: "g-1".into(),
        group_name: "aws-group1".into(),
        user_ids: vec!["u-2".into()],
        reason: any(),
    }));
    assert!(plan
        .operations
        .iter()
        .all(|op| !format!("{op:?}").contains("\"u-3\"")));
}

#[test]
fn the_plan_does_not_depend_on_input_order() {
    let users: Vec<_> = (1..=6).map(dir_user).collect();
    let groups = vec![dir_group(1, &[1, 2, 5]), dir_group(2, &[3, 6])];
    let i = idc(vec![idc_user(2), idc_user(9)], vec![idc_group(2, &[9])]);
    let a = plan(&dir(users.clone(), groups.clone()), &i, &p());
    let mut ru = users;
    ru.reverse();
    let mut rg = groups;
    rg.reverse();
    let mut ri = i.clone();
    ri.users.reverse();
    assert_eq!(a, plan(&dir(ru, rg), &ri, &p()));
}

#[test]
fn owned_group_anchor_colliding_out_of_scope_group_is_a_conflict_or_waits_for_deletion() {
    // The directory group was re-created (new GUID) with the old name.
    let d = dir(vec![], vec![dir_group(2, &[])]);
    let mut old = idc_group(1, &[]);
    old.display_name = "aws-group2".into();
    let i = idc(vec![], vec![old]);
    let kept = plan(&d, &i, &p());
    assert!(kept.is_empty());
    assert_eq!(
        codes(&kept.conflicts),
        vec![ReasonCode::NameKeptByManagedObject]
    );
    let delete = Policy {
        delete_groups_out_of_scope: true,
        ..p()
    };
    let deleting = plan(&d, &i, &delete);
    assert!(matches!(only_op(&deleting), Operation::DeleteGroup { .. }));
    assert_eq!(
        codes(&deleting.notes),
        vec![ReasonCode::NameReleasedThisPass]
    );
}

#[test]
fn a_skipped_entry_disabled_in_the_directory_is_still_deactivated() {
    let mut u = dir_user(1);
    u.surname = None;
    u.enabled = false;
    let d = dir(vec![u], vec![dir_group(1, &[])]);
    let i = idc(vec![idc_user(1)], vec![idc_group(1, &[1])]);
    let plan = plan(&d, &i, &p());
    assert_eq!(
        op_codes(&plan.operations),
        vec![ReasonCode::DisabledInDirectory],
        "a user disabled in the directory is not 'no longer in scope'"
    );
    assert_eq!(
        bare(&plan.operations),
        vec![Operation::DisableUser {
            id: "u-1".into(),
            external_id: sid(1),
            user_name: "user1@corp.example".into(),
            reason: any(),
        }],
        "disabled, but its membership is left alone"
    );
    assert_eq!(codes(&plan.skipped), vec![ReasonCode::MissingFamilyName]);
}

#[test]
fn of_two_users_carrying_one_anchor_only_the_lowest_id_is_managed() {
    let mut twin = idc_user(1);
    twin.id = "u-9".into();
    twin.external_id = Some(sid(1).to_lowercase());
    twin.user_name = "twin".into();
    twin.email = None;
    let d = dir(vec![], vec![dir_group(1, &[])]);
    let i = idc(vec![twin, idc_user(1)], vec![idc_group(1, &[1, 9])]);
    let plan = plan(&d, &i, &p());
    assert_eq!(
        bare(&plan.operations),
        vec![
            Operation::RemoveMembers {
                group_id: "g-1".into(),
                group_name: "aws-group1".into(),
                user_ids: vec!["u-1".into()],
                reason: any(),
            },
            Operation::DisableUser {
                id: "u-1".into(),
                external_id: sid(1),
                user_name: "user1@corp.example".into(),
                reason: any(),
            },
        ],
        "u-9 is left alone: {plan:#?}"
    );
    assert_eq!(codes(&plan.notes), vec![ReasonCode::DuplicateExternalId]);
    assert!(plan.notes[0].concerns("u-9"));
}

#[test]
fn every_operation_and_finding_has_a_reason_text() {
    let mut broken = dir_user(3);
    broken.given_name = None;
    let d = dir(
        vec![dir_user(1), dir_user(2), broken],
        vec![dir_group(1, &[1, 2]), dir_group(2, &[1])],
    );
    let i = idc(
        vec![
            idc_user(2),
            idc_user(4),
            foreign_user("f-1", "user1@corp.example", None),
        ],
        vec![idc_group(1, &[4])],
    );
    let plan = plan(&d, &i, &p());
    assert!(!plan.operations.is_empty());
    for op in &plan.operations {
        assert!(!op.reason().text.is_empty(), "{op:?}");
    }
    assert_eq!(codes(&plan.skipped), vec![ReasonCode::MissingGivenName]);
    assert_eq!(
        codes(&plan.conflicts),
        vec![ReasonCode::NameTakenByForeignObject]
    );
}

#[test]
fn users_of_another_domain_are_foreign_even_when_their_sid_looks_like_ours() {
    let mut other = idc_user(7);
    other.external_id = Some("S-1-5-21-9-9-9-7".into());
    let mut child = idc_user(8);
    child.external_id = Some(format!("{DOMAIN}-5-8"));
    let i = idc(vec![idc_user(1), other, child], vec![]);
    let delete = Policy {
        out_of_scope_users: OutOfScopeAction::Delete,
        ..p()
    };
    let none = DirectorySnapshot {
        users: vec![dir_user(1)],
        ..DirectorySnapshot::default()
    };
    let plan_without_domain = plan(&none, &i, &delete);
    let plan = plan(&dir(vec![dir_user(1)], vec![]), &i, &delete);
    assert!(plan.is_empty(), "{plan:#?}");
    assert!(
        plan_without_domain
            .operations
            .iter()
            .all(|op| !op.is_destructive()),
        "without a known domain nobody is ours: {plan_without_domain:#?}"
    );
}

#[test]
fn a_directory_user_of_another_domain_is_skipped_not_created() {
    let mut u = dir_user(2);
    u.object_sid = "S-1-5-21-9-9-9-2".into();
    let plan = plan(
        &dir(vec![dir_user(1), u], vec![]),
        &IdcSnapshot::default(),
        &p(),
    );
    assert_eq!(plan.operations.len(), 1, "{plan:#?}");
    assert_eq!(codes(&plan.skipped), vec![ReasonCode::ForeignDomain]);
    assert!(
        plan.skipped[0].concerns("S-1-5-21-9-9-9-2")
            && plan.skipped[0].text.contains("scope.extraDomainSids"),
        "{:?}",
        plan.skipped
    );
}

#[test]
fn an_account_past_its_expiry_is_deactivated_and_active_again_once_extended() {
    let now = 1_800_000_000;
    let mut d = dir(vec![dir_user(1), dir_user(2), dir_user(3)], vec![]);
    d.read_at = Some(now);
    d.users[0].account_expires = Some(now - 1);
    d.users[1].account_expires = Some(now + 3600);
    d.users[2].account_expires = Some(now - 86_400);
    let i = idc(vec![idc_user(1), idc_user(2)], vec![]);
    let planned = plan(&d, &i, &p());
    assert_eq!(
        op_codes(&planned.operations),
        vec![ReasonCode::AccountExpired]
    );
    assert_eq!(
        bare(&planned.operations),
        vec![Operation::DisableUser {
            id: "u-1".into(),
            external_id: sid(1),
            user_name: "user1@corp.example".into(),
            reason: any(),
        }],
        "expired: disabled; expires later: untouched; expired and new: not created"
    );

    // The same directory an hour and a second later: user 2 has expired too, without any
    // change in the directory.
    d.read_at = Some(now + 3601);
    let later = plan(&d, &i, &p());
    assert_eq!(later.operations.len(), 2, "{later:#?}");

    // Cleared (never expires) or moved to the future: active again.
    let mut inactive = idc_user(1);
    inactive.active = false;
    d.users.truncate(1);
    d.users[0].account_expires = None;
    let again = plan(&d, &idc(vec![inactive.clone()], vec![]), &p());
    let Operation::UpdateUser { changed, .. } = only_op(&again) else {
        panic!("{again:#?}")
    };
    assert_eq!(changed, &vec![UserField::Active]);
    d.users[0].account_expires = Some(now + 86_400 * 30);
    d.read_at = Some(now);
    let extended = plan(&d, &idc(vec![inactive], vec![]), &p());
    assert_eq!(extended.operations, again.operations);
}

#[test]
fn an_unanchored_entry_protects_its_user_by_name_or_holds_every_out_of_scope_disable() {
    let i = idc(vec![idc_user(1), idc_user(2), idc_user(3)], vec![]);
    // User 2's entry lost its objectSid; it still carries user 2's UPN.
    let mut d = dir(vec![dir_user(1)], vec![]);
    let mut entry = unanchored("CN=User 2,OU=Staff,DC=corp");
    entry.user_names = vec!["USER2@corp.example".into(), "user2".into()];
    d.skipped.push(entry);
    let planned = plan(&d, &i, &p());
    let disabled: Vec<&str> = planned
        .operations
        .iter()
        .filter_map(|op| match op {
            Operation::DisableUser { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        disabled,
        ["u-3"],
        "user 2 is protected, user 3 left: {planned:#?}"
    );
    assert!(planned.withheld.is_empty());

    // An entry that matches nobody: nobody is disabled for being out of scope, and it is named.
    let mut d = dir(vec![dir_user(1)], vec![]);
    d.skipped
        .push(unanchored("CN=Nobody Known,OU=Staff,DC=corp"));
    let planned = plan(&d, &i, &p());
    assert!(planned.operations.is_empty(), "{planned:#?}");
    assert_eq!(planned.withheld.len(), 1);
    assert_eq!(codes(&planned.withheld), vec![ReasonCode::PartialRead]);
    assert!(
        planned.withheld[0].concerns("CN=Nobody Known,OU=Staff,DC=corp")
            && planned.withheld[0]
                .text
                .contains("none of the 2 users out of scope"),
        "{:?}",
        planned.withheld
    );
    // A deactivation of an in-scope user rests on its own entry, read completely: it stays.
    d.users[0].enabled = false;
    assert_eq!(plan(&d, &i, &p()).operations.len(), 1);
}

#[test]
fn a_group_fed_by_an_unreadable_nested_group_gains_members_but_loses_none() {
    let mut g = dir_group(1, &[1, 3]);
    g.members_partial = Some("CN=team,OU=Groups,DC=corp: a member value is not valid UTF-8".into());
    let d = dir(vec![dir_user(1), dir_user(2), dir_user(3)], vec![g]);
    let i = idc(
        vec![idc_user(1), idc_user(2), idc_user(3)],
        vec![idc_group(1, &[1, 2])],
    );
    let planned = plan(&d, &i, &p());
    let [Operation::AddMembers { users, .. }] = &planned.operations[..] else {
        panic!("{planned:#?}")
    };
    assert_eq!(users, &vec![UserRef::Existing("u-3".into())]);
    assert_eq!(codes(&planned.withheld), vec![ReasonCode::PartialRead]);
    assert!(
        planned.withheld[0]
            .text
            .contains("1 member removals withheld")
            && planned.withheld[0]
                .text
                .contains("CN=team,OU=Groups,DC=corp"),
        "{:?}",
        planned.withheld
    );
}

#[test]
fn a_group_entry_without_a_readable_guid_holds_back_group_deletions() {
    let delete = Policy {
        delete_groups_out_of_scope: true,
        ..p()
    };
    let i = idc(
        vec![idc_user(1)],
        vec![idc_group(1, &[1]), idc_group(2, &[])],
    );
    let mut d = dir(vec![dir_user(1)], vec![dir_group(1, &[1])]);
    assert_eq!(
        plan(&d, &i, &delete).operations.len(),
        1,
        "group 2 is deleted"
    );
    d.skipped.push(SkippedEntry {
        kind: crate::model::EntryKind::Group,
        reason: "group has no objectGUID".into(),
        ..unanchored("CN=aws-group2,OU=Groups,DC=corp")
    });
    let planned = plan(&d, &i, &delete);
    assert!(planned.operations.is_empty(), "{planned:#?}");
    assert!(
        planned.withheld[0]
            .about
            .iter()
            .any(|a| a == "CN=aws-group2,OU=Groups,DC=corp")
            || planned.withheld[0]
                .text
                .contains("CN=aws-group2,OU=Groups,DC=corp"),
        "{:?}",
        planned.withheld
    );
}
