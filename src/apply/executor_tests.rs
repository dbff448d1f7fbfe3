//! The executor's ordering and failure rules, with a recording writer. A real server cannot be
//! made to fail exactly one chosen write, which is what these rules are about; the executor
//! against the real emulator is covered by the end-to-end and safety suites.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{execute, ExecuteOptions, WriteError, Writer};
use crate::audit::{AuditBook, AuditResult, Collect};
use crate::model::{Reason, ReasonCode, Summary};
use crate::plan::{GroupRef, Operation, Plan, UserAttributes, UserField, UserRef};

#[derive(Debug)]
struct FakeError {
    auth: bool,
    conflict: bool,
    deadline: bool,
}

impl std::fmt::Display for FakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.auth {
            "token rejected"
        } else {
            "refused"
        })
    }
}

impl WriteError for FakeError {
    fn is_auth_failure(&self) -> bool {
        self.auth
    }
    fn is_conflict(&self) -> bool {
        self.conflict
    }
    fn is_deadline_reached(&self) -> bool {
        self.deadline
    }
}

/// Records every write in order; fails the writes whose target is listed.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<String>>,
    fail: Vec<&'static str>,
    reject_token_at: Option<&'static str>,
    conflict_at: Option<&'static str>,
    deadline_at: Option<&'static str>,
}

impl Recorder {
    fn write(&self, entry: String, target: &str) -> Result<(), FakeError> {
        self.log.lock().unwrap().push(entry);
        if self.reject_token_at == Some(target) {
            return Err(FakeError {
                auth: true,
                conflict: false,
                deadline: false,
            });
        }
        if self.conflict_at == Some(target) {
            return Err(FakeError {
                auth: false,
                conflict: true,
                deadline: false,
            });
        }
        if self.deadline_at == Some(target) {
            return Err(FakeError {
                auth: false,
                conflict: false,
                deadline: true,
            });
        }
        if self.fail.contains(&target) {
            return Err(FakeError {
                auth: false,
                conflict: false,
                deadline: false,
            });
        }
        Ok(())
    }
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Writer for Recorder {
    type Error = FakeError;
    async fn create_user(&self, u: &UserAttributes) -> Result<String, FakeError> {
        self.write(format!("create user {}", u.user_name), &u.user_name)?;
        Ok(format!("id-{}", u.user_name))
    }
    async fn update_user(
        &self,
        id: &str,
        _: &UserAttributes,
        _: &[UserField],
    ) -> Result<(), FakeError> {
        self.write(format!("update user {id}"), id)
    }
    async fn set_manager(&self, id: &str, manager_id: &str) -> Result<(), FakeError> {
        self.write(format!("set manager {id} {manager_id}"), id)
    }
    async fn set_user_active(&self, id: &str, active: bool) -> Result<(), FakeError> {
        self.write(format!("set active {id} {active}"), id)
    }
    async fn delete_user(&self, id: &str) -> Result<(), FakeError> {
        self.write(format!("delete user {id}"), id)
    }
    async fn create_group(&self, name: &str, _: &str) -> Result<String, FakeError> {
        self.write(format!("create group {name}"), name)?;
        Ok(format!("gid-{name}"))
    }
    async fn rename_group(&self, id: &str, name: &str) -> Result<(), FakeError> {
        self.write(format!("rename group {id} {name}"), id)
    }
    async fn set_group_external_id(&self, id: &str, _: &str) -> Result<(), FakeError> {
        self.write(format!("adopt group {id}"), id)
    }
    async fn delete_group(&self, id: &str) -> Result<(), FakeError> {
        self.write(format!("delete group {id}"), id)
    }
    async fn add_members(&self, group_id: &str, ids: &[String]) -> Result<(), FakeError> {
        self.write(format!("add {group_id} {}", ids.join(",")), group_id)
    }
    async fn remove_members(&self, group_id: &str, ids: &[String]) -> Result<(), FakeError> {
        self.write(format!("remove {group_id} {}", ids.join(",")), group_id)
    }
    async fn change_members(
        &self,
        group_id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), FakeError> {
        if remove.is_empty() {
            return self.add_members(group_id, add).await;
        }
        if add.is_empty() {
            return self.remove_members(group_id, remove).await;
        }
        self.write(
            format!("change {group_id} +{} -{}", add.join(","), remove.join(",")),
            group_id,
        )
    }
}

fn why() -> Reason {
    Reason::new(ReasonCode::AttributeChanged, "a test")
}

fn user(name: &str, active: bool) -> UserAttributes {
    UserAttributes {
        external_id: format!("S-1-5-21-{name}"),
        user_name: name.to_string(),
        display_name: name.to_string(),
        given_name: "G".to_string(),
        family_name: "F".to_string(),
        email: None,
        active,
        attributes: Default::default(),
    }
}

fn sample_plan() -> Plan {
    Plan {
        operations: vec![
            Operation::RemoveMembers {
                group_id: "g-old".into(),
                group_name: "old".into(),
                user_ids: vec!["u9".into()],
                reason: why(),
            },
            Operation::DisableUser {
                id: "u9".into(),
                external_id: "S-1-5-21-9".into(),
                user_name: "gone".into(),
                reason: why(),
            },
            Operation::AddMembers {
                group: GroupRef::New("guid-new".into()),
                group_name: "new".into(),
                users: vec![
                    UserRef::New("S-1-5-21-alice".into()),
                    UserRef::Existing("u1".into()),
                ],
                reason: why(),
            },
            Operation::CreateUser {
                user: user("alice", true),
                reason: why(),
            },
            Operation::CreateGroup {
                external_id: "guid-new".into(),
                display_name: "new".into(),
                reason: why(),
            },
            Operation::UpdateUser {
                id: "u1".into(),
                user: user("bob", true),
                changed: vec![UserField::DisplayName],
                reason: why(),
            },
        ],
        ..Plan::default()
    }
}

fn position(log: &[String], prefix: &str) -> usize {
    log.iter()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("{prefix} not in {log:?}"))
}

#[tokio::test]
async fn creates_come_first_additions_use_their_ids_destructive_changes_last() {
    let w = Recorder::default();
    let mut summary = Summary::default();
    execute(&w, &sample_plan(), &ExecuteOptions::default(), &mut summary).await;
    let log = w.log();
    let add = position(&log, "add gid-new");
    assert!(position(&log, "create user alice") < add);
    assert!(position(&log, "create group new") < add);
    assert!(log[add].ends_with("id-alice,u1"), "{log:?}");
    assert!(add < position(&log, "remove g-old"));
    assert!(add < position(&log, "set active u9 false"));
    assert_eq!(
        (
            summary.users_created,
            summary.groups_created,
            summary.users_updated
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (
            summary.members_added,
            summary.members_removed,
            summary.users_disabled
        ),
        (2, 1, 1)
    );
    assert!(summary.failures.is_empty());
}

#[tokio::test]
async fn one_failed_write_does_not_stop_the_others() {
    let w = Recorder {
        fail: vec!["alice"],
        ..Recorder::default()
    };
    let mut summary = Summary::default();
    execute(&w, &sample_plan(), &ExecuteOptions::default(), &mut summary).await;
    assert_eq!(summary.failures.len(), 1);
    assert!(summary.failures[0].target.contains("alice"));
    // The group's other member is still added; every other write still happens.
    assert!(
        w.log().iter().any(|l| l == "add gid-new u1"),
        "{:?}",
        w.log()
    );
    assert_eq!(summary.members_added, 1);
    assert_eq!(summary.users_disabled, 1);
    assert_eq!(summary.members_removed, 1);
}

#[tokio::test]
async fn destructive_changes_are_held_back_when_not_allowed() {
    let w = Recorder::default();
    let mut summary = Summary::default();
    let opts = ExecuteOptions {
        allow_destructive: false,
        ..ExecuteOptions::default()
    };
    execute(&w, &sample_plan(), &opts, &mut summary).await;
    let log = w.log();
    assert!(
        !log.iter()
            .any(|l| l.starts_with("remove") || l.starts_with("set active")),
        "{log:?}"
    );
    assert_eq!(summary.members_added, 2);
}

#[tokio::test]
async fn a_rejected_token_stops_everything_that_has_not_started() {
    let w = Recorder {
        reject_token_at: Some("new"),
        ..Recorder::default()
    };
    let mut summary = Summary::default();
    let opts = ExecuteOptions {
        concurrency: 1,
        ..ExecuteOptions::default()
    };
    execute(&w, &sample_plan(), &opts, &mut summary).await;
    assert!(summary.token_rejected);
    let log = w.log();
    assert!(
        !log.iter().any(|l| l.starts_with("add")
            || l.starts_with("remove")
            || l.starts_with("set active")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_conflict_is_reported_as_a_conflict_not_a_failure() {
    let w = Recorder {
        conflict_at: Some("alice"),
        ..Recorder::default()
    };
    let mut summary = Summary::default();
    execute(&w, &sample_plan(), &ExecuteOptions::default(), &mut summary).await;
    assert!(summary.failures.is_empty());
    assert_eq!(summary.conflicts.len(), 1);
    assert_eq!(summary.conflicts[0].code, ReasonCode::WriteConflict);
    assert!(summary.conflicts[0].text.contains("alice"));
}

#[tokio::test]
async fn a_write_the_deadline_cut_short_is_unfinished_not_failed() {
    let w = Recorder {
        deadline_at: Some("gid-new"),
        ..Recorder::default()
    };
    let mut summary = Summary::default();
    execute(&w, &sample_plan(), &ExecuteOptions::default(), &mut summary).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert!(summary.incomplete);
    assert_eq!(summary.unfinished.len(), 1, "{:?}", summary.unfinished);
    assert!(summary.unfinished[0].text.contains("group new"));
    assert_eq!(summary.members_added, 0);
}

#[tokio::test]
async fn nothing_starts_after_the_deadline() {
    let w = Recorder::default();
    let mut summary = Summary::default();
    let past = Instant::now()
        .checked_sub(Duration::from_millis(1))
        .unwrap_or_else(Instant::now);
    let opts = ExecuteOptions {
        stop_starting_at: Some(past),
        ..ExecuteOptions::default()
    };
    execute(&w, &sample_plan(), &opts, &mut summary).await;
    assert!(w.log().is_empty());
    assert!(summary.incomplete);
}

#[tokio::test]
async fn a_rename_with_a_deactivation_is_written_even_when_destructive_changes_are_held() {
    let w = Recorder::default();
    let plan = Plan {
        operations: vec![
            Operation::UpdateUser {
                id: "u5".into(),
                user: user("carol", true),
                changed: vec![UserField::DisplayName],
                reason: why(),
            },
            Operation::DisableUser {
                id: "u5".into(),
                external_id: "S-1-5-21-carol".into(),
                user_name: "carol".into(),
                reason: why(),
            },
        ],
        ..Plan::default()
    };
    let mut summary = Summary::default();
    let opts = ExecuteOptions {
        allow_destructive: false,
        ..ExecuteOptions::default()
    };
    execute(&w, &plan, &opts, &mut summary).await;
    assert_eq!(w.log(), vec!["update user u5".to_string()]);
    assert_eq!((summary.users_updated, summary.users_disabled), (1, 0));
    let w = Recorder::default();
    let mut summary = Summary::default();
    execute(&w, &plan, &ExecuteOptions::default(), &mut summary).await;
    assert_eq!(w.log().len(), 2, "{:?}", w.log());
    assert_eq!(
        w.log()[0],
        "update user u5",
        "the update runs before the disable"
    );
    assert_eq!((summary.users_updated, summary.users_disabled), (1, 1));
}

#[tokio::test]
async fn an_update_that_would_deactivate_is_refused_not_sent() {
    let w = Recorder::default();
    let plan = Plan {
        operations: vec![Operation::UpdateUser {
            id: "u5".into(),
            user: user("carol", false),
            changed: vec![UserField::Active],
            reason: why(),
        }],
        ..Plan::default()
    };
    let mut summary = Summary::default();
    execute(&w, &plan, &ExecuteOptions::default(), &mut summary).await;
    assert!(w.log().is_empty(), "{:?}", w.log());
    assert_eq!(summary.failures.len(), 1);
    assert!(summary.failures[0].error.contains("may not deactivate"));
}

#[tokio::test]
async fn a_dry_run_counts_what_the_pass_then_does() {
    let mut planned = Summary::default();
    super::count_planned(&sample_plan(), &mut planned);
    let mut done = Summary::default();
    execute(
        &Recorder::default(),
        &sample_plan(),
        &ExecuteOptions::default(),
        &mut done,
    )
    .await;
    assert_eq!(planned, done);
    assert_eq!(planned.members_added, 2);
}

fn add_and_remove_plan() -> Plan {
    Plan {
        operations: vec![
            Operation::AddMembers {
                group: GroupRef::Existing("g1".into()),
                group_name: "g1".into(),
                users: vec![UserRef::Existing("u1".into())],
                reason: why(),
            },
            Operation::RemoveMembers {
                group_id: "g1".into(),
                group_name: "g1".into(),
                user_ids: vec!["u2".into()],
                reason: why(),
            },
        ],
        ..Plan::default()
    }
}

#[tokio::test]
async fn a_group_that_gains_and_loses_members_changes_in_one_request() {
    let w = Recorder::default();
    let mut summary = Summary::default();
    execute(
        &w,
        &add_and_remove_plan(),
        &ExecuteOptions::default(),
        &mut summary,
    )
    .await;
    assert_eq!(w.log(), vec!["change g1 +u1 -u2".to_string()]);
    assert_eq!((summary.members_added, summary.members_removed), (1, 1));

    // With destructive changes held back, only the addition is sent.
    let w = Recorder::default();
    let opts = ExecuteOptions {
        allow_destructive: false,
        ..ExecuteOptions::default()
    };
    execute(&w, &add_and_remove_plan(), &opts, &mut Summary::default()).await;
    assert_eq!(w.log(), vec!["add g1 u1".to_string()]);
}

/// Runs `plan` with an audit trail and returns the records.
async fn audited(
    w: &Recorder,
    plan: &Plan,
    opts: &ExecuteOptions,
) -> Vec<crate::audit::ChangeRecord> {
    let sink = Collect::default();
    let book = AuditBook::empty("pass-1");
    let mut summary = Summary::default();
    super::execute_audited(w, plan, opts, &mut summary, &book, &sink).await;
    sink.take()
}

#[tokio::test]
async fn every_write_yields_exactly_one_record_when_it_ends() {
    let w = Recorder {
        fail: vec!["alice"],
        ..Recorder::default()
    };
    let records = audited(&w, &sample_plan(), &ExecuteOptions::default()).await;
    // The new group is created with its members: one write for the SCIM client (members in
    // the POST), which this recorder, using the trait's default, logs as a create and an add.
    assert_eq!(
        records.len() + 1,
        w.log().len(),
        "{records:#?} {:?}",
        w.log()
    );
    let create = records.iter().find(|r| r.action == "createGroup").unwrap();
    assert_eq!(create.changes.members_added.len(), 1, "{create:#?}");
    let mut actions: Vec<(&str, AuditResult)> =
        records.iter().map(|r| (r.action, r.result)).collect();
    actions.sort_by_key(|(a, _)| *a);
    assert_eq!(
        actions,
        vec![
            ("changeMembers", AuditResult::Ok),
            ("createGroup", AuditResult::Ok),
            ("createUser", AuditResult::Failed),
            ("disableUser", AuditResult::Ok),
            ("updateUser", AuditResult::Ok),
        ]
    );
    assert!(records
        .iter()
        .all(|r| r.pass_id == "pass-1" && r.event == "change"));
    let failed = records
        .iter()
        .find(|r| r.result == AuditResult::Failed)
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("refused"));
    let created = records.iter().find(|r| r.action == "createGroup").unwrap();
    assert_eq!(
        created.object.id.as_deref(),
        Some("gid-new"),
        "the new id is recorded"
    );
    let disabled = records.iter().find(|r| r.action == "disableUser").unwrap();
    assert_eq!(
        disabled.changes.attributes["active"].to,
        serde_json::json!(false)
    );
}

#[tokio::test]
async fn withheld_and_not_started_changes_are_recorded_with_why() {
    let opts = ExecuteOptions {
        allow_destructive: false,
        ..ExecuteOptions::default()
    };
    let records = audited(&Recorder::default(), &sample_plan(), &opts).await;
    let withheld: Vec<&str> = records
        .iter()
        .filter(|r| r.result == AuditResult::Withheld)
        .map(|r| r.action)
        .collect();
    assert_eq!(withheld.len(), 2, "{records:#?}");
    assert!(records
        .iter()
        .filter(|r| r.result == AuditResult::Withheld)
        .all(|r| r.held_back.as_ref().map(|h| h.code) == Some(ReasonCode::PartialRead)));

    let past = Instant::now()
        .checked_sub(Duration::from_millis(1))
        .unwrap_or_else(Instant::now);
    let opts = ExecuteOptions {
        stop_starting_at: Some(past),
        ..ExecuteOptions::default()
    };
    let w = Recorder::default();
    let records = audited(&w, &sample_plan(), &opts).await;
    assert!(w.log().is_empty());
    assert_eq!(records.len(), 6, "one per planned operation: {records:#?}");
    assert!(records.iter().all(|r| r.result == AuditResult::NotStarted
        && r.held_back.as_ref().map(|h| h.code) == Some(ReasonCode::DeadlineReached)));
}

#[tokio::test]
async fn member_changes_are_recorded_one_patch_at_a_time() {
    let users: Vec<UserRef> = (0..250)
        .map(|n| UserRef::Existing(format!("u{n:03}").into()))
        .collect();
    let plan = Plan {
        operations: vec![Operation::AddMembers {
            group: GroupRef::Existing("g1".into()),
            group_name: "g1".into(),
            users,
            reason: why(),
        }],
        ..Plan::default()
    };
    let w = Recorder::default();
    let records = audited(&w, &plan, &ExecuteOptions::default()).await;
    assert_eq!(w.log().len(), 3, "one writer call per 100 changes");
    let sizes: Vec<usize> = records
        .iter()
        .map(|r| r.changes.members_added.len())
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(records[0].changes.members_added[0], "u000");
    assert!(records.iter().all(|r| r.action == "changeMembers"));
}

/// A new user whose manager is new too: both created, then the link, by their new ids.
fn manager_plan() -> Plan {
    Plan {
        operations: vec![
            Operation::CreateUser {
                user: user("alice", true),
                reason: why(),
            },
            Operation::CreateUser {
                user: user("boss", true),
                reason: why(),
            },
            Operation::SetManager {
                user: UserRef::New("S-1-5-21-alice".into()),
                user_name: "alice".into(),
                manager: UserRef::New("S-1-5-21-boss".into()),
                manager_name: "boss".into(),
                from: None,
                reason: Reason::new(ReasonCode::ManagerCreatedThisPass, "a test"),
            },
        ],
        ..Plan::default()
    }
}

#[tokio::test]
async fn a_manager_created_in_the_pass_is_set_by_its_new_id_after_both_creates() {
    let w = Recorder::default();
    let sink = Collect::default();
    let book = AuditBook::empty("pass-1");
    let mut summary = Summary::default();
    let plan = manager_plan();
    super::execute_audited(
        &w,
        &plan,
        &ExecuteOptions::default(),
        &mut summary,
        &book,
        &sink,
    )
    .await;
    let log = w.log();
    let set = position(&log, "set manager");
    assert!(position(&log, "create user alice") < set);
    assert!(position(&log, "create user boss") < set);
    assert_eq!(log[set], "set manager id-alice id-boss");
    assert_eq!((summary.users_created, summary.users_updated), (2, 1));

    // The dry run counts it as the real pass does.
    let mut planned = Summary::default();
    super::count_planned(&plan, &mut planned);
    assert_eq!((planned.users_created, planned.users_updated), (2, 1));

    let records = sink.take();
    let r = records.iter().find(|r| r.action == "setManager").unwrap();
    assert_eq!(r.result, AuditResult::Ok);
    assert_eq!(r.reason.code, ReasonCode::ManagerCreatedThisPass);
    assert_eq!(r.object.id.as_deref(), Some("id-alice"));
    assert_eq!(r.object.user_name.as_deref(), Some("alice"));
    let change = &r.changes.attributes["enterprise.manager"];
    assert_eq!(
        (&change.from, &change.to),
        (&serde_json::Value::Null, &serde_json::json!("id-boss"))
    );
}

#[tokio::test]
async fn a_failed_create_skips_the_manager_link_with_a_record_never_a_dangling_id() {
    for failing in ["boss", "alice"] {
        let w = Recorder {
            fail: vec![failing],
            ..Recorder::default()
        };
        let mut summary = Summary::default();
        let sink = Collect::default();
        let book = AuditBook::empty("pass-1");
        super::execute_audited(
            &w,
            &manager_plan(),
            &ExecuteOptions::default(),
            &mut summary,
            &book,
            &sink,
        )
        .await;
        assert!(
            !w.log().iter().any(|l| l.starts_with("set manager")),
            "{:?}",
            w.log()
        );
        assert_eq!(summary.users_updated, 0);
        assert_eq!(summary.failures.len(), 1, "only the create: {summary:?}");
        let records = sink.take();
        let r = records.iter().find(|r| r.action == "setManager").unwrap();
        assert_eq!(r.result, AuditResult::NotStarted);
        let why = r.held_back.as_ref().unwrap();
        assert_eq!(why.code, ReasonCode::EarlierWriteFailed);
        let whose = if failing == "boss" {
            "manager's"
        } else {
            "user's"
        };
        assert!(why.text.contains(whose), "{why:?}");
    }
}

#[tokio::test]
async fn a_refused_manager_link_is_a_failure_of_that_user() {
    let w = Recorder {
        fail: vec!["id-alice"],
        ..Recorder::default()
    };
    let mut summary = Summary::default();
    execute(
        &w,
        &manager_plan(),
        &ExecuteOptions::default(),
        &mut summary,
    )
    .await;
    assert_eq!(summary.failures.len(), 1, "{summary:?}");
    assert_eq!(summary.failures[0].operation, "set manager");
    assert!(summary.failures[0].target.contains("alice"));
}
