//! What the audit trail needs to name objects: both snapshots, indexed once per pass.
//!
//! The plan refers to users by Identity Center id or objectSid; a record names them by
//! userName and DN, and an update's record shows each attribute's previous value, which only
//! Identity Center's snapshot knows.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::record::{AuditObject, AuditResult, ChangeRecord, Changes};
use crate::model::settings::UserAttribute;
use crate::model::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, IdcGroup, IdcSnapshot, IdcUser,
};
use crate::plan::{GroupRef, Operation, Plan, UserAttributes, UserField, UserRef};

/// Anchors compare without case (SIDs are upper-case by convention, GUIDs lower-case).
fn key(anchor: &str) -> String {
    anchor.trim().to_ascii_lowercase()
}

/// Indexes of both sides of one pass, by the names a plan refers to objects by.
#[derive(Default)]
pub struct AuditBook<'a> {
    pass_id: String,
    idc_users: HashMap<&'a str, &'a IdcUser>,
    idc_groups: HashMap<&'a str, &'a IdcGroup>,
    dir_users: HashMap<String, &'a DirectoryUser>,
    dir_groups: HashMap<String, &'a DirectoryGroup>,
    /// userNames of the users this plan creates, by objectSid.
    new_user_names: HashMap<String, &'a str>,
}

impl<'a> AuditBook<'a> {
    pub fn new(
        pass_id: impl Into<String>,
        dir: &'a DirectorySnapshot,
        idc: &'a IdcSnapshot,
        plan: &'a Plan,
    ) -> Self {
        let new_user_names = plan
            .operations
            .iter()
            .filter_map(|op| match op {
                Operation::CreateUser { user, .. } => {
                    Some((key(&user.external_id), user.user_name.as_str()))
                }
                _ => None,
            })
            .collect();
        Self {
            pass_id: pass_id.into(),
            idc_users: idc.users.iter().map(|u| (u.id.as_ref(), u)).collect(),
            idc_groups: idc.groups.iter().map(|g| (g.id.as_str(), g)).collect(),
            dir_users: dir.users.iter().map(|u| (key(&u.object_sid), u)).collect(),
            dir_groups: dir
                .groups
                .iter()
                .map(|g| (key(&g.object_guid), g))
                .collect(),
            new_user_names,
        }
    }

    /// A book that knows no names (records then carry ids only): for tests of the executor.
    pub fn empty(pass_id: impl Into<String>) -> Self {
        Self {
            pass_id: pass_id.into(),
            ..Self::default()
        }
    }

    pub fn pass_id(&self) -> &str {
        &self.pass_id
    }

    /// The userName a member reference stands for, else the id itself.
    pub fn member_name(&self, user: &UserRef) -> String {
        match user {
            UserRef::Existing(id) => self.user_name_of_id(id),
            UserRef::New(sid) => self
                .new_user_names
                .get(&key(sid))
                .map_or_else(|| sid.to_string(), |n| n.to_string()),
        }
    }

    /// The userName of an Identity Center user id, else the id itself.
    pub fn user_name_of_id(&self, id: &str) -> String {
        self.idc_users
            .get(id)
            .map_or_else(|| id.to_string(), |u| u.user_name.clone())
    }

    fn dn_of_user(&self, external_id: &str) -> Option<String> {
        self.dir_users.get(&key(external_id)).map(|u| u.dn.clone())
    }

    fn dn_of_group(&self, external_id: &str) -> Option<String> {
        self.dir_groups.get(&key(external_id)).map(|g| g.dn.clone())
    }

    fn user(&self, user_name: &str, id: Option<&str>, external_id: &str) -> AuditObject {
        AuditObject {
            kind: "user",
            user_name: Some(user_name.to_string()),
            id: id.map(str::to_string),
            external_id: (!external_id.is_empty()).then(|| external_id.to_string()),
            dn: self.dn_of_user(external_id),
            ..AuditObject::default()
        }
    }

    fn group(&self, name: &str, id: Option<&str>, external_id: Option<&str>) -> AuditObject {
        let external_id = external_id
            .map(str::to_string)
            .or_else(|| id.and_then(|i| self.idc_groups.get(i)?.external_id.clone()));
        AuditObject {
            kind: "group",
            display_name: Some(name.to_string()),
            id: id.map(str::to_string),
            dn: external_id.as_deref().and_then(|e| self.dn_of_group(e)),
            external_id,
            ..AuditObject::default()
        }
    }

    /// The record of `op` before it ends (result `ok` until told otherwise). Member changes
    /// get their members from [`Self::members_record`] instead, one record per PATCH.
    pub fn record(&self, op: &Operation) -> ChangeRecord {
        let mut changes = Changes::default();
        let object = match op {
            Operation::CreateUser { user, .. } => {
                created_attributes(user, &mut changes);
                self.user(&user.user_name, None, &user.external_id)
            }
            Operation::UpdateUser {
                id, user, changed, ..
            } => {
                self.updated_attributes(id, user, changed, &mut changes);
                let current = self.idc_users.get(id.as_str());
                let name = current.map_or(user.user_name.as_str(), |u| u.user_name.as_str());
                self.user(name, Some(id), &user.external_id)
            }
            Operation::DisableUser {
                id,
                external_id,
                user_name,
                ..
            } => {
                changes.set("active", json!(true), json!(false));
                self.user(user_name, Some(id), external_id)
            }
            Operation::DeleteUser {
                id,
                external_id,
                user_name,
                ..
            } => self.user(user_name, Some(id), external_id),
            Operation::CreateGroup {
                external_id,
                display_name,
                ..
            } => {
                changes.set("displayName", Value::Null, json!(display_name));
                self.group(display_name, None, Some(external_id))
            }
            Operation::RenameGroup {
                id,
                external_id,
                from,
                to,
                ..
            } => {
                changes.set("displayName", json!(from), json!(to));
                self.group(to, Some(id), Some(external_id))
            }
            Operation::AdoptGroup {
                id,
                external_id,
                display_name,
                ..
            } => {
                changes.set("externalId", Value::Null, json!(external_id));
                self.group(display_name, Some(id), Some(external_id))
            }
            Operation::DeleteGroup {
                id,
                external_id,
                display_name,
                ..
            } => self.group(display_name, Some(id), Some(external_id)),
            Operation::AddMembers {
                group, group_name, ..
            } => match group {
                GroupRef::Existing(id) => self.group(group_name, Some(id), None),
                GroupRef::New(ext) => self.group(group_name, None, Some(ext)),
            },
            Operation::RemoveMembers {
                group_id,
                group_name,
                ..
            } => self.group(group_name, Some(group_id), None),
            Operation::SetManager {
                user,
                user_name,
                manager,
                from,
                ..
            } => {
                // `to` is the manager's reference until the executor knows its new id.
                changes.set(
                    UserField::Attribute(UserAttribute::Manager).scim_name(),
                    json!(from),
                    json!(manager.as_str()),
                );
                match user {
                    UserRef::Existing(id) => {
                        let ext = self
                            .idc_users
                            .get(&**id)
                            .and_then(|u| u.external_id.as_deref())
                            .unwrap_or_default();
                        self.user(user_name, Some(id), ext)
                    }
                    UserRef::New(ext) => self.user(user_name, None, ext),
                }
            }
        };
        ChangeRecord {
            event: "change",
            pass_id: self.pass_id.clone(),
            action: action(op),
            object,
            reason: op.reason().clone(),
            changes,
            result: AuditResult::Ok,
            error: None,
            held_back: None,
        }
    }

    /// The record of one membership PATCH of `op`'s group (or of a group's members withheld
    /// or not started), naming the members by userName.
    pub fn members_record(
        &self,
        op: &Operation,
        group_id: Option<&str>,
        added: &[String],
        removed: &[String],
    ) -> ChangeRecord {
        let mut r = self.record(op);
        if group_id.is_some() {
            r.object.id = group_id.map(str::to_string);
        }
        r.action = "changeMembers";
        if added.is_empty() && !removed.is_empty() && matches!(op, Operation::AddMembers { .. }) {
            // Removals sent with the group's additions: they have the removals' reason.
            r.reason = crate::model::Reason::new(
                crate::model::ReasonCode::MemberLeftGroup,
                "no longer direct or nested members of the group in the directory, or no \
                 longer users in scope",
            );
        }
        r.changes.members_added = added.to_vec();
        r.changes.members_removed = removed.to_vec();
        r
    }

    fn updated_attributes(
        &self,
        id: &str,
        user: &UserAttributes,
        changed: &[UserField],
        changes: &mut Changes,
    ) {
        let current = self.idc_users.get(id);
        for field in changed {
            let from = current.map_or(Value::Null, |c| current_value(c, *field));
            changes.set(field.scim_name(), from, wanted_value(user, *field));
        }
    }
}

/// The operation's name as the JSON plan spells it.
pub fn action(op: &Operation) -> &'static str {
    match op {
        Operation::CreateUser { .. } => "createUser",
        Operation::UpdateUser { .. } => "updateUser",
        Operation::DisableUser { .. } => "disableUser",
        Operation::DeleteUser { .. } => "deleteUser",
        Operation::CreateGroup { .. } => "createGroup",
        Operation::RenameGroup { .. } => "renameGroup",
        Operation::AdoptGroup { .. } => "adoptGroup",
        Operation::DeleteGroup { .. } => "deleteGroup",
        Operation::AddMembers { .. } => "addMembers",
        Operation::RemoveMembers { .. } => "removeMembers",
        Operation::SetManager { .. } => "setManager",
    }
}

fn created_attributes(user: &UserAttributes, changes: &mut Changes) {
    for field in UserField::CORE {
        changes.set(field.scim_name(), Value::Null, wanted_value(user, field));
    }
    for a in user.attributes.keys() {
        let field = UserField::Attribute(*a);
        changes.set(field.scim_name(), Value::Null, wanted_value(user, field));
    }
}

/// One field's value as JSON. The wanted side (`UserAttributes`) and Identity Center's
/// (`IdcUser`) name their fields alike, so one list of them serves both.
macro_rules! field_value {
    ($user:expr, $field:expr) => {
        match $field {
            UserField::UserName => json!($user.user_name),
            UserField::DisplayName => json!($user.display_name),
            UserField::GivenName => json!($user.given_name),
            UserField::FamilyName => json!($user.family_name),
            UserField::Email => json!($user.email),
            UserField::Active => json!($user.active),
            UserField::Attribute(a) => json!($user.attributes.get(&a)),
        }
    };
}

fn wanted_value(user: &UserAttributes, field: UserField) -> Value {
    field_value!(user, field)
}

fn current_value(user: &IdcUser, field: UserField) -> Value {
    field_value!(user, field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::UserAttribute as A;
    use crate::model::{AttributeValues, IdcUser, Reason, ReasonCode};

    fn current() -> IdcUser {
        IdcUser {
            id: "u1".into(),
            external_id: Some("S-1-5-21-1-2-3-1001".into()),
            user_name: "ada@example.test".into(),
            display_name: Some("Ada".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            email: None,
            active: true,
            attributes: AttributeValues::from_iter([
                (A::Title, "Engineer".into()),
                (A::Department, "Analytics".into()),
                (A::CostCenter, "CC-7".into()),
            ]),
        }
    }

    fn update(changed: Vec<UserField>) -> Operation {
        Operation::UpdateUser {
            id: "u1".into(),
            user: UserAttributes {
                external_id: "S-1-5-21-1-2-3-1001".into(),
                user_name: "ada@example.test".into(),
                display_name: "Ada".into(),
                given_name: "Ada".into(),
                family_name: "Lovelace".into(),
                email: None,
                active: true,
                // Title changed, department emptied in the directory, cost center untouched.
                attributes: AttributeValues::from_iter([
                    (A::Title, "Lead Engineer".into()),
                    (A::CostCenter, "CC-7".into()),
                ]),
            },
            changed,
            reason: Reason::new(ReasonCode::AttributeChanged, "title, department"),
        }
    }

    #[test]
    fn an_attribute_change_records_its_value_before_and_after() {
        let idc = IdcSnapshot {
            users: vec![current()],
            ..IdcSnapshot::default()
        };
        let dir = DirectorySnapshot::default();
        let op = update(vec![
            UserField::Attribute(A::Title),
            UserField::Attribute(A::Department),
        ]);
        let plan = Plan {
            operations: vec![op.clone()],
            ..Plan::default()
        };
        let record = AuditBook::new("pass-1", &dir, &idc, &plan).record(&op);
        let attrs = &record.changes.attributes;
        assert_eq!(attrs["title"].from, json!("Engineer"));
        assert_eq!(attrs["title"].to, json!("Lead Engineer"));
        assert_eq!(
            (
                &attrs["enterprise.department"].from,
                &attrs["enterprise.department"].to
            ),
            (&json!("Analytics"), &Value::Null),
            "an attribute emptied in the directory is recorded as removed"
        );
        assert!(
            !attrs.contains_key("enterprise.costCenter"),
            "only the changed attributes are recorded: {attrs:?}"
        );
        assert_eq!(record.object.id.as_deref(), Some("u1"));
    }
}
