//! The in-memory identity store: users, groups, memberships and the indexes that keep every
//! supported filter O(1) or O(log n), so 100k users and 1M memberships stay fast.
//!
//! Records are keyed by a monotonic `slot` (creation order). Slots give a stable order for
//! keyset (cursor) pagination and make membership sets small (`u64` instead of id strings).

use crate::errors::{ScimError, ScimResult};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

/// The values a user must keep unique, as given by the client (case preserved).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserKeys {
    pub user_name: String,
    pub email: Option<String>,
    pub external_id: Option<String>,
}

/// One stored user.
#[derive(Debug, Clone)]
pub struct UserRec {
    pub id: String,
    /// Validated attributes as AWS would return them (no id, meta or schemas).
    pub attrs: Map<String, Value>,
    pub keys: UserKeys,
    pub created: String,
    pub modified: String,
    /// Slots of the groups this user belongs to.
    pub groups: BTreeSet<u64>,
    /// Hidden from reads until this instant (the visibility-delay fault).
    pub visible_at: Option<Instant>,
}

/// One stored group.
#[derive(Debug, Clone)]
pub struct GroupRec {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created: String,
    pub modified: String,
    /// Slots of the member users.
    pub members: BTreeSet<u64>,
    pub visible_at: Option<Instant>,
}

/// Store plus indexes. All mutation goes through methods that keep the indexes consistent.
#[derive(Debug, Default)]
pub struct Store {
    next_slot: u64,
    case_insensitive: bool,
    pub users: BTreeMap<u64, UserRec>,
    pub groups: BTreeMap<u64, GroupRec>,
    user_ids: HashMap<String, u64>,
    group_ids: HashMap<String, u64>,
    user_by_name: HashMap<String, u64>,
    user_by_email: HashMap<String, u64>,
    user_by_ext: HashMap<String, u64>,
    group_by_name: HashMap<String, u64>,
    group_by_ext: HashMap<String, u64>,
}

/// Current time in SCIM `meta` format, e.g. `2020-03-31T02:36:15Z`.
pub fn meta_timestamp() -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

fn visible(at: Option<Instant>) -> bool {
    at.is_none_or(|t| Instant::now() >= t)
}

impl UserRec {
    /// False while the visibility-delay fault hides a fresh user.
    pub fn is_visible(&self) -> bool {
        visible(self.visible_at)
    }
}

impl GroupRec {
    /// False while the visibility-delay fault hides a fresh group.
    pub fn is_visible(&self) -> bool {
        visible(self.visible_at)
    }
}

impl Store {
    /// An empty store with the given case rule for uniqueness and `eq` lookups.
    pub fn new(case_insensitive: bool) -> Self {
        Self {
            case_insensitive,
            ..Self::default()
        }
    }

    /// Normalises a unique value according to the case switch.
    pub fn key(&self, v: &str) -> String {
        if self.case_insensitive {
            v.to_lowercase()
        } else {
            v.to_string()
        }
    }

    /// Switches the case rule, rebuilding every index.
    pub fn set_case_insensitive(&mut self, ci: bool) {
        if self.case_insensitive == ci {
            return;
        }
        self.case_insensitive = ci;
        self.user_by_name.clear();
        self.user_by_email.clear();
        self.user_by_ext.clear();
        self.group_by_name.clear();
        self.group_by_ext.clear();
        let users: Vec<(u64, UserKeys)> = self
            .users
            .iter()
            .map(|(s, u)| (*s, u.keys.clone()))
            .collect();
        for (slot, keys) in users {
            self.index_user(slot, &keys);
        }
        let groups: Vec<(u64, String, Option<String>)> = self
            .groups
            .iter()
            .map(|(s, g)| (*s, g.display_name.clone(), g.external_id.clone()))
            .collect();
        for (slot, name, ext) in groups {
            self.index_group(slot, &name, ext.as_deref());
        }
    }

    fn alloc_slot(&mut self) -> u64 {
        self.next_slot += 1;
        self.next_slot
    }

    /// Slot of the user with this id.
    pub fn user_slot(&self, id: &str) -> Option<u64> {
        self.user_ids.get(id).copied()
    }

    /// Slot of the group with this id.
    pub fn group_slot(&self, id: &str) -> Option<u64> {
        self.group_ids.get(id).copied()
    }

    /// Slot of the user with this userName (case per switch).
    pub fn user_by_name(&self, v: &str) -> Option<u64> {
        self.user_by_name.get(&self.key(v)).copied()
    }

    /// Slot of the user with this externalId.
    pub fn user_by_external_id(&self, v: &str) -> Option<u64> {
        self.user_by_ext.get(&self.key(v)).copied()
    }

    /// Slot of the group with this displayName.
    pub fn group_by_name(&self, v: &str) -> Option<u64> {
        self.group_by_name.get(&self.key(v)).copied()
    }

    /// Slot of the group with this externalId.
    pub fn group_by_external_id(&self, v: &str) -> Option<u64> {
        self.group_by_ext.get(&self.key(v)).copied()
    }

    fn clashes(map: &HashMap<String, u64>, key: &str, me: Option<u64>) -> bool {
        map.get(key).is_some_and(|s| Some(*s) != me)
    }

    /// 409 if `keys` would duplicate another user's userName, primary email or externalId.
    pub fn check_user_unique(&self, keys: &UserKeys, me: Option<u64>) -> ScimResult<()> {
        let dup = Self::clashes(&self.user_by_name, &self.key(&keys.user_name), me)
            || keys
                .email
                .as_ref()
                .is_some_and(|e| Self::clashes(&self.user_by_email, &self.key(e), me))
            || keys
                .external_id
                .as_ref()
                .is_some_and(|e| Self::clashes(&self.user_by_ext, &self.key(e), me));
        if dup {
            Err(ScimError::conflict())
        } else {
            Ok(())
        }
    }

    /// 409 if the name or externalId would duplicate another group's.
    pub fn check_group_unique(
        &self,
        name: &str,
        ext: Option<&str>,
        me: Option<u64>,
    ) -> ScimResult<()> {
        let dup = Self::clashes(&self.group_by_name, &self.key(name), me)
            || ext.is_some_and(|e| Self::clashes(&self.group_by_ext, &self.key(e), me));
        if dup {
            Err(ScimError::conflict())
        } else {
            Ok(())
        }
    }

    fn index_user(&mut self, slot: u64, keys: &UserKeys) {
        let k = self.key(&keys.user_name);
        self.user_by_name.insert(k, slot);
        if let Some(e) = &keys.email {
            let k = self.key(e);
            self.user_by_email.insert(k, slot);
        }
        if let Some(e) = &keys.external_id {
            let k = self.key(e);
            self.user_by_ext.insert(k, slot);
        }
    }

    fn unindex_user(&mut self, slot: u64, keys: &UserKeys) {
        let k = self.key(&keys.user_name);
        remove_if(&mut self.user_by_name, &k, slot);
        if let Some(e) = &keys.email {
            let k = self.key(e);
            remove_if(&mut self.user_by_email, &k, slot);
        }
        if let Some(e) = &keys.external_id {
            let k = self.key(e);
            remove_if(&mut self.user_by_ext, &k, slot);
        }
    }

    fn index_group(&mut self, slot: u64, name: &str, ext: Option<&str>) {
        let k = self.key(name);
        self.group_by_name.insert(k, slot);
        if let Some(e) = ext {
            let k = self.key(e);
            self.group_by_ext.insert(k, slot);
        }
    }

    fn unindex_group(&mut self, slot: u64, name: &str, ext: Option<&str>) {
        let k = self.key(name);
        remove_if(&mut self.group_by_name, &k, slot);
        if let Some(e) = ext {
            let k = self.key(e);
            remove_if(&mut self.group_by_ext, &k, slot);
        }
    }

    /// Stores a validated new user; returns its slot.
    pub fn insert_user(
        &mut self,
        id: String,
        attrs: Map<String, Value>,
        keys: UserKeys,
        visible_at: Option<Instant>,
    ) -> ScimResult<u64> {
        self.check_user_unique(&keys, None)?;
        let slot = self.alloc_slot();
        let now = meta_timestamp();
        self.index_user(slot, &keys);
        self.user_ids.insert(id.clone(), slot);
        self.users.insert(
            slot,
            UserRec {
                id,
                attrs,
                keys,
                created: now.clone(),
                modified: now,
                groups: BTreeSet::new(),
                visible_at,
            },
        );
        Ok(slot)
    }

    /// Replaces a user's attributes (PUT, PATCH) after the uniqueness check.
    pub fn replace_user(
        &mut self,
        slot: u64,
        attrs: Map<String, Value>,
        keys: UserKeys,
    ) -> ScimResult<()> {
        self.check_user_unique(&keys, Some(slot))?;
        let old = match self.users.get(&slot) {
            Some(u) => u.keys.clone(),
            None => return Err(ScimError::not_found("User", "")),
        };
        self.unindex_user(slot, &old);
        self.index_user(slot, &keys);
        if let Some(u) = self.users.get_mut(&slot) {
            u.attrs = attrs;
            u.keys = keys;
            u.modified = meta_timestamp();
        }
        Ok(())
    }

    /// Deletes a user and, as AWS does, its memberships.
    pub fn delete_user(&mut self, slot: u64) -> Option<UserRec> {
        let user = self.users.remove(&slot)?;
        self.unindex_user(slot, &user.keys);
        self.user_ids.remove(&user.id);
        for g in &user.groups {
            if let Some(group) = self.groups.get_mut(g) {
                group.members.remove(&slot);
            }
        }
        Some(user)
    }

    /// Stores a validated new group with its initial members; returns its slot.
    pub fn insert_group(
        &mut self,
        id: String,
        name: String,
        ext: Option<String>,
        members: &[u64],
        visible_at: Option<Instant>,
    ) -> ScimResult<u64> {
        self.check_group_unique(&name, ext.as_deref(), None)?;
        let slot = self.alloc_slot();
        let now = meta_timestamp();
        self.index_group(slot, &name, ext.as_deref());
        self.group_ids.insert(id.clone(), slot);
        self.groups.insert(
            slot,
            GroupRec {
                id,
                display_name: name,
                external_id: ext,
                created: now.clone(),
                modified: now,
                members: BTreeSet::new(),
                visible_at,
            },
        );
        for m in members {
            self.add_member(slot, *m);
        }
        Ok(slot)
    }

    /// Renames a group and/or changes its externalId after the uniqueness check.
    pub fn update_group(&mut self, slot: u64, name: String, ext: Option<String>) -> ScimResult<()> {
        self.check_group_unique(&name, ext.as_deref(), Some(slot))?;
        let (old_name, old_ext) = match self.groups.get(&slot) {
            Some(g) => (g.display_name.clone(), g.external_id.clone()),
            None => return Err(ScimError::not_found("Group", "")),
        };
        self.unindex_group(slot, &old_name, old_ext.as_deref());
        self.index_group(slot, &name, ext.as_deref());
        if let Some(g) = self.groups.get_mut(&slot) {
            g.display_name = name;
            g.external_id = ext;
            g.modified = meta_timestamp();
        }
        Ok(())
    }

    /// Adds a membership; returns false if it already existed.
    pub fn add_member(&mut self, group: u64, user: u64) -> bool {
        let added = self
            .groups
            .get_mut(&group)
            .is_some_and(|g| g.members.insert(user));
        if added {
            if let Some(u) = self.users.get_mut(&user) {
                u.groups.insert(group);
            }
        }
        added
    }

    /// Removes a membership; returns false if there was none.
    pub fn remove_member(&mut self, group: u64, user: u64) -> bool {
        let removed = self
            .groups
            .get_mut(&group)
            .is_some_and(|g| g.members.remove(&user));
        if removed {
            if let Some(u) = self.users.get_mut(&user) {
                u.groups.remove(&group);
            }
        }
        removed
    }

    /// True if the user is a member of the group.
    pub fn is_member(&self, group: u64, user: u64) -> bool {
        self.groups
            .get(&group)
            .is_some_and(|g| g.members.contains(&user))
    }

    /// Deletes a group and its memberships.
    pub fn delete_group(&mut self, slot: u64) -> Option<GroupRec> {
        let group = self.groups.remove(&slot)?;
        self.unindex_group(slot, &group.display_name, group.external_id.as_deref());
        self.group_ids.remove(&group.id);
        for u in &group.members {
            if let Some(user) = self.users.get_mut(u) {
                user.groups.remove(&slot);
            }
        }
        Some(group)
    }

    /// Total number of memberships (for the admin state summary).
    pub fn membership_count(&self) -> usize {
        self.groups.values().map(|g| g.members.len()).sum()
    }
}

fn remove_if(map: &mut HashMap<String, u64>, key: &str, slot: u64) {
    if map.get(key) == Some(&slot) {
        map.remove(key);
    }
}
