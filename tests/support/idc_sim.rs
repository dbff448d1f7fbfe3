//! An in-memory model of Identity Center's write semantics, for planner tests: ids assigned on
//! create, case-insensitive uniqueness of userName, email, externalId and group name (409),
//! members that must be existing users, memberships cascaded on user delete, a manager that
//! must be an existing user.
//!
//! It applies a plan the way the executor does (objects, then additions, then destructive
//! changes) and is strict where a real service might be lenient: adding a present member or
//! removing an absent one is an error, so a plan that is not minimal fails the test.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use scim_sync::model::settings::UserAttribute;
use scim_sync::model::{IdcGroup, IdcSnapshot, IdcUser};
use scim_sync::plan::{GroupRef, Operation, Phase, Plan, UserField, UserRef};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGroup {
    pub external_id: Option<String>,
    pub display_name: String,
    pub members: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sim {
    pub users: BTreeMap<String, IdcUser>,
    pub groups: BTreeMap<String, SimGroup>,
    next_id: u64,
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

impl Sim {
    /// Builds a store from a list of users and groups, dropping any that would violate
    /// uniqueness (as the real service would have refused to create them).
    pub fn seeded(users: Vec<IdcUser>, groups: Vec<(SimGroup, Vec<usize>)>) -> Self {
        let mut sim = Sim::default();
        let mut ids = Vec::new();
        for mut u in users {
            u.id = sim.fresh_id("u").into();
            if sim.user_unique(&u, None).is_ok() {
                ids.push(u.id.to_string());
                sim.users.insert(u.id.to_string(), u);
            }
        }
        for (mut g, member_idx) in groups {
            g.members = member_idx
                .iter()
                .filter_map(|i| ids.get(*i).cloned())
                .collect();
            if sim
                .group_unique(&g.display_name, g.external_id.as_deref(), None)
                .is_ok()
            {
                let id = sim.fresh_id("g");
                sim.groups.insert(id, g);
            }
        }
        sim
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:04}", self.next_id)
    }

    /// What a live read returns (`identity_center::read_state`): every user and group; member
    /// lists only for the groups carrying one of `wanted` (the directory's groups' objectGUIDs),
    /// except those in `unread` (a failed read). `tests/plan_properties.rs` checks this
    /// against the emulator read through the real client.
    pub fn snapshot(&self, unread: &BTreeSet<String>, wanted: &BTreeSet<String>) -> IdcSnapshot {
        IdcSnapshot {
            users: self.users.values().cloned().collect(),
            groups: self
                .groups
                .iter()
                .map(|(id, g)| IdcGroup {
                    id: id.clone(),
                    external_id: g.external_id.clone(),
                    display_name: g.display_name.clone(),
                    member_ids: (g.external_id.as_ref().is_some_and(|x| wanted.contains(x))
                        && !unread.contains(id))
                    .then(|| g.members.iter().map(|m| m.as_str().into()).collect()),
                })
                .collect(),
            read_errors: vec![],
        }
    }

    fn user_unique(&self, u: &IdcUser, me: Option<&str>) -> Result<(), String> {
        for other in self.users.values().filter(|o| Some(o.id.as_ref()) != me) {
            if fold(&other.user_name) == fold(&u.user_name) {
                return Err(format!(
                    "409 userName {} (held by {})",
                    u.user_name, other.id
                ));
            }
            if let (Some(a), Some(b)) = (&other.email, &u.email) {
                if fold(a) == fold(b) {
                    return Err(format!("409 email {b} (held by {})", other.id));
                }
            }
            if let (Some(a), Some(b)) = (&other.external_id, &u.external_id) {
                if fold(a) == fold(b) {
                    return Err(format!("409 externalId {b} (held by {})", other.id));
                }
            }
        }
        Ok(())
    }

    fn group_unique(&self, name: &str, ext: Option<&str>, me: Option<&str>) -> Result<(), String> {
        for (id, other) in self.groups.iter().filter(|(id, _)| Some(id.as_str()) != me) {
            if fold(&other.display_name) == fold(name) {
                return Err(format!("409 group name {name} (held by {id})"));
            }
            if let (Some(a), Some(b)) = (&other.external_id, ext) {
                if fold(a) == fold(b) {
                    return Err(format!("409 group externalId {b} (held by {id})"));
                }
            }
        }
        Ok(())
    }

    /// Applies `plan` in the executor's phase order; within a phase in plan order, or
    /// reversed (the executor runs a phase concurrently, so order must not matter).
    pub fn apply(&mut self, plan: &Plan, reversed: bool) -> Result<(), String> {
        let mut created_users = HashMap::new();
        let mut created_groups = HashMap::new();
        for phase in Phase::ALL {
            let mut ops: Vec<&Operation> = plan
                .operations
                .iter()
                .filter(|op| op.phase() == phase)
                .collect();
            if reversed {
                ops.reverse();
            }
            for op in ops {
                self.apply_one(op, &mut created_users, &mut created_groups)
                    .map_err(|e| format!("{op:?}: {e}"))?;
            }
        }
        Ok(())
    }

    fn apply_one(
        &mut self,
        op: &Operation,
        created_users: &mut HashMap<String, String>,
        created_groups: &mut HashMap<String, String>,
    ) -> Result<(), String> {
        match op {
            Operation::CreateUser { user, .. } => {
                let u = IdcUser {
                    id: self.fresh_id("n").into(),
                    external_id: Some(user.external_id.clone()),
                    user_name: user.user_name.clone(),
                    display_name: Some(user.display_name.clone()),
                    given_name: Some(user.given_name.clone()),
                    family_name: Some(user.family_name.clone()),
                    email: user.email.clone(),
                    active: user.active,
                    attributes: user.attributes.clone(),
                };
                self.user_unique(&u, None)?;
                created_users.insert(user.external_id.clone(), u.id.to_string());
                self.users.insert(u.id.to_string(), u);
            }
            Operation::UpdateUser {
                id, user, changed, ..
            } => {
                let cur = self.users.get(id).ok_or("404 user")?.clone();
                if changed.is_empty() {
                    return Err("update with nothing changed".into());
                }
                let mut next = cur.clone();
                for f in changed {
                    match f {
                        UserField::UserName => next.user_name = user.user_name.clone(),
                        UserField::DisplayName => {
                            next.display_name = Some(user.display_name.clone())
                        }
                        UserField::GivenName => next.given_name = Some(user.given_name.clone()),
                        UserField::FamilyName => next.family_name = Some(user.family_name.clone()),
                        UserField::Email => next.email = user.email.clone(),
                        UserField::Active => next.active = user.active,
                        UserField::Attribute(a) => match user.attributes.get(a) {
                            Some(v) => {
                                next.attributes.insert(*a, v.clone());
                            }
                            None => {
                                next.attributes.remove(a);
                            }
                        },
                    }
                }
                // `user` must be the full state after the update.
                let full = IdcUser {
                    id: id.as_str().into(),
                    external_id: cur.external_id.clone(),
                    user_name: user.user_name.clone(),
                    display_name: Some(user.display_name.clone()),
                    given_name: Some(user.given_name.clone()),
                    family_name: Some(user.family_name.clone()),
                    email: user.email.clone(),
                    active: user.active,
                    attributes: user.attributes.clone(),
                };
                if full != next {
                    return Err(format!(
                        "`user` is not the state after the update: {next:?}"
                    ));
                }
                if next == cur {
                    return Err("update changes nothing".into());
                }
                self.user_unique(&next, Some(id))?;
                self.users.insert(id.clone(), next);
            }
            Operation::DisableUser { id, .. } => {
                let u = self.users.get_mut(id).ok_or("404 user")?;
                if !u.active {
                    return Err("disabling an inactive user".into());
                }
                u.active = false;
            }
            Operation::DeleteUser { id, .. } => {
                self.users.remove(id).ok_or("404 user")?;
                for g in self.groups.values_mut() {
                    g.members.remove(id);
                }
            }
            Operation::CreateGroup {
                external_id,
                display_name,
                ..
            } => {
                self.group_unique(display_name, Some(external_id), None)?;
                let id = self.fresh_id("h");
                created_groups.insert(external_id.clone(), id.clone());
                self.groups.insert(
                    id,
                    SimGroup {
                        external_id: Some(external_id.clone()),
                        display_name: display_name.clone(),
                        members: BTreeSet::new(),
                    },
                );
            }
            Operation::RenameGroup { id, to, from, .. } => {
                self.group_unique(to, None, Some(id))?;
                let g = self.groups.get_mut(id).ok_or("404 group")?;
                if &g.display_name != from || from == to {
                    return Err(format!(
                        "rename from {from}, but the name is {}",
                        g.display_name
                    ));
                }
                g.display_name = to.clone();
            }
            Operation::AdoptGroup {
                id, external_id, ..
            } => {
                self.group_unique("\u{0}never", Some(external_id), Some(id))?;
                let g = self.groups.get_mut(id).ok_or("404 group")?;
                if g.external_id.is_some() {
                    return Err("adopting a group that has an externalId".into());
                }
                g.external_id = Some(external_id.clone());
            }
            Operation::DeleteGroup { id, .. } => {
                self.groups.remove(id).ok_or("404 group")?;
            }
            Operation::AddMembers { group, users, .. } => {
                let gid = match group {
                    GroupRef::Existing(id) => id.clone(),
                    GroupRef::New(ext) => {
                        created_groups.get(ext).ok_or("unknown new group")?.clone()
                    }
                };
                if users.is_empty() {
                    return Err("empty add".into());
                }
                for u in users {
                    let uid = match u {
                        UserRef::Existing(id) => id.to_string(),
                        UserRef::New(ext) => {
                            created_users.get(&**ext).ok_or("unknown new user")?.clone()
                        }
                    };
                    if !self.users.contains_key(&uid) {
                        return Err(format!("400 member {uid} is not a user"));
                    }
                    let g = self.groups.get_mut(&gid).ok_or("404 group")?;
                    if !g.members.insert(uid.clone()) {
                        return Err(format!("{uid} is already a member"));
                    }
                }
            }
            Operation::SetManager { user, manager, .. } => {
                let id_of = |r: &UserRef| match r {
                    UserRef::Existing(id) => Ok(id.to_string()),
                    UserRef::New(ext) => {
                        created_users.get(&**ext).cloned().ok_or("unknown new user")
                    }
                };
                let (uid, mid) = (id_of(user)?, id_of(manager)?);
                if !self.users.contains_key(&mid) {
                    return Err(format!("manager {mid} is not a user"));
                }
                let u = self.users.get_mut(&uid).ok_or("404 user")?;
                let old = u
                    .attributes
                    .insert(UserAttribute::Manager, mid.as_str().into());
                if old.as_deref() == Some(mid.as_str()) {
                    return Err("setting the manager it has".into());
                }
            }
            Operation::RemoveMembers {
                group_id, user_ids, ..
            } => {
                let g = self.groups.get_mut(group_id).ok_or("404 group")?;
                if user_ids.is_empty() {
                    return Err("empty remove".into());
                }
                for uid in user_ids {
                    // A user deleted in the same phase has lost its memberships already.
                    if !g.members.remove(uid) && self.users.contains_key(uid) {
                        return Err(format!("{uid} is not a member"));
                    }
                }
            }
        }
        Ok(())
    }
}
