//! Full state dumps for test assertions and the admin API: every user (as GET returns it,
//! plus a flat summary), every group with its member ids, hidden (not yet visible) objects
//! included.

use crate::groups::group_json;
use crate::state::UserRec;
use crate::users::user_json;
use crate::Inner;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Flat view of one user, convenient for assertions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The primary (only) email.
    pub email: Option<String>,
    /// Ids of the groups the user belongs to.
    pub group_ids: Vec<String>,
}

/// One group with its memberships (which GET never shows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub member_ids: Vec<String>,
}

/// The whole store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateDump {
    /// Users exactly as `GET /Users/{id}` returns them.
    pub users: Vec<Value>,
    /// The same users, flattened, in the same order.
    pub user_records: Vec<DumpUser>,
    /// Groups with member ids.
    pub groups: Vec<DumpGroup>,
    /// Groups exactly as `GET /Groups/{id}` returns them (per the current echo switch).
    pub group_resources: Vec<Value>,
}

impl StateDump {
    /// The user with this userName (exact match).
    pub fn user(&self, user_name: &str) -> Option<&DumpUser> {
        self.user_records.iter().find(|u| u.user_name == user_name)
    }

    /// The user with this id.
    pub fn user_by_id(&self, id: &str) -> Option<&DumpUser> {
        self.user_records.iter().find(|u| u.id == id)
    }

    /// The user with this externalId.
    pub fn user_by_external_id(&self, ext: &str) -> Option<&DumpUser> {
        self.user_records
            .iter()
            .find(|u| u.external_id.as_deref() == Some(ext))
    }

    /// The group with this displayName (exact match).
    pub fn group(&self, display_name: &str) -> Option<&DumpGroup> {
        self.groups.iter().find(|g| g.display_name == display_name)
    }

    /// The group with this externalId.
    pub fn group_by_external_id(&self, ext: &str) -> Option<&DumpGroup> {
        self.groups
            .iter()
            .find(|g| g.external_id.as_deref() == Some(ext))
    }

    /// Sorted userNames of a group's members (empty if the group does not exist).
    pub fn member_user_names(&self, display_name: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .group(display_name)
            .map(|g| {
                g.member_ids
                    .iter()
                    .filter_map(|id| self.user_by_id(id).map(|u| u.user_name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Total number of memberships.
    pub fn membership_count(&self) -> usize {
        self.groups.iter().map(|g| g.member_ids.len()).sum()
    }
}

fn attr_str(u: &UserRec, path: &[&str]) -> Option<String> {
    let mut v = u.attrs.get(path[0])?;
    for p in &path[1..] {
        v = v.get(p)?;
    }
    v.as_str().map(str::to_string)
}

pub(crate) fn dump(inner: &Inner) -> StateDump {
    let store = &inner.store;
    let group_id = |slot: &u64| store.groups.get(slot).map(|g| g.id.clone());
    let user_id = |slot: &u64| store.users.get(slot).map(|u| u.id.clone());
    let mut out = StateDump::default();
    for u in store.users.values() {
        out.users.push(user_json(u));
        out.user_records.push(DumpUser {
            id: u.id.clone(),
            user_name: u.keys.user_name.clone(),
            external_id: u.keys.external_id.clone(),
            active: u
                .attrs
                .get("active")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            display_name: attr_str(u, &["displayName"]),
            given_name: attr_str(u, &["name", "givenName"]),
            family_name: attr_str(u, &["name", "familyName"]),
            email: u.keys.email.clone(),
            group_ids: u.groups.iter().filter_map(group_id).collect(),
        });
    }
    let echo = inner.behaviour.echo_group_external_id;
    for g in store.groups.values() {
        out.group_resources.push(group_json(g, echo, true));
        out.groups.push(DumpGroup {
            id: g.id.clone(),
            display_name: g.display_name.clone(),
            external_id: g.external_id.clone(),
            member_ids: g.members.iter().filter_map(user_id).collect(),
        });
    }
    out
}
