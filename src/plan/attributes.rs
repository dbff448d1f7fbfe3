//! The optional user attributes of the `attributes` setting: what each managed one should
//! hold for a directory user, and which differ from what Identity Center holds.
//!
//! Only mapped attributes are managed. A value the directory lacks (or holds only
//! whitespace) is wanted empty, so Identity Center's is removed; a value Identity Center
//! would reject is *held*: left as it is this pass, with a note, and the user still synced.

use std::collections::HashMap;
use std::sync::Arc;

use super::ownership::fold;
use super::validate;
use crate::model::settings::{AttributeMapping, UserAttribute};
use crate::model::{AttributeValues, DirectoryAttributes, DirectoryUser, Finding, ReasonCode};

/// What the managed optional attributes of one user should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct WantedAttributes<'a> {
    /// The directory user's attributes, where the wanted values are read (through the
    /// mapping, trimmed) when they are compared or sent: a managed attribute that is not held
    /// and has no value there is wanted empty. Not a map of its own: the planner holds one
    /// per user in scope, and a copy of three values cost 8 MB at 100k users.
    source: Option<&'a DirectoryAttributes>,
    /// The manager's DN as the directory names it (when `manager` is mapped and set).
    pub manager_dn: Option<&'a str>,
    /// The manager's Identity Center user id, once resolved.
    pub manager_id: Option<Arc<str>>,
    /// Held attributes, their notes and a manager created in this pass. Few users have any,
    /// so they live behind one pointer: 8 bytes per user instead of 96, and the planner holds
    /// one per user in scope.
    exceptions: Option<Box<Exceptions>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Exceptions {
    /// Managed attributes left as they are by the user's create or update (a value Identity
    /// Center would reject, an unreadable value, a manager created in this pass or the next).
    held: Vec<UserAttribute>,
    /// Why, one line per held or emptied attribute, for the plan's notes.
    notes: Vec<Finding>,
    /// A manager created in this pass: set after the creates, by its own operation.
    manager_new: Option<NewManager>,
}

/// The wanted optional attributes of `user` under `mapping`.
pub(super) fn wanted<'a>(
    user: &'a DirectoryUser,
    mapping: &AttributeMapping,
) -> WantedAttributes<'a> {
    let mut w = WantedAttributes {
        source: Some(&user.attributes),
        ..WantedAttributes::default()
    };
    for (target, source) in mapping.iter() {
        let shared = match user.attributes.get(source.to_ascii_lowercase().as_str()) {
            None => continue,
            Some(None) => {
                w.hold(
                    target,
                    Finding::new(
                        ReasonCode::UnreadableEntry,
                        format!(
                            "{}: {} not synced: the directory's {source} is not valid UTF-8; \
                             Identity Center keeps its current value",
                            user.dn,
                            target.key()
                        ),
                    )
                    .about(user.dn.as_str()),
                );
                continue;
            }
            Some(Some(v)) => v,
        };
        let raw = shared.trim();
        if raw.is_empty() {
            continue;
        }
        if target == UserAttribute::Manager {
            w.manager_dn = Some(raw);
            continue;
        }
        match validate::text(target.key(), raw) {
            Ok(()) => {}
            Err(reason) => {
                w.hold(
                    target,
                    Finding::new(
                        ReasonCode::InvalidAttribute,
                        format!(
                            "{}: {} not synced: {reason} (from {source}); Identity Center keeps \
                             its current value: fix the value in the directory",
                            user.dn,
                            target.key()
                        ),
                    )
                    .about(user.dn.as_str()),
                );
            }
        }
    }
    w
}

impl WantedAttributes<'_> {
    /// Managed attributes left as they are in this pass (a value Identity Center would
    /// reject, an unreadable value, a manager created in this very pass).
    pub fn held(&self) -> &[UserAttribute] {
        self.exceptions.as_ref().map_or(&[], |e| &e.held)
    }

    /// Why, one line per held or emptied attribute, for the plan's notes.
    #[cfg(test)]
    pub fn notes(&self) -> &[Finding] {
        self.exceptions.as_ref().map_or(&[], |e| &e.notes)
    }

    /// A manager created in this pass, which the plan sets by its own operation.
    pub fn manager_new(&self) -> Option<&NewManager> {
        self.exceptions
            .as_ref()
            .and_then(|e| e.manager_new.as_ref())
    }

    /// Moves the notes out, for the plan.
    pub fn take_notes(&mut self) -> Vec<Finding> {
        self.exceptions
            .as_mut()
            .map(|e| std::mem::take(&mut e.notes))
            .unwrap_or_default()
    }

    /// Holds `attribute` as it is in Identity Center this pass, saying why.
    fn hold(&mut self, attribute: UserAttribute, why: Finding) {
        let e = self.exceptions.get_or_insert_default();
        e.held.push(attribute);
        e.notes.push(why);
    }

    fn note(&mut self, why: Finding) {
        self.exceptions.get_or_insert_default().notes.push(why);
    }

    /// The values to send, `manager` as its resolved id.
    pub fn to_map(&self, mapping: &AttributeMapping) -> AttributeValues {
        let mut out = AttributeValues::with_capacity(mapping.iter().count());
        for (a, source) in mapping.iter() {
            if let Some(v) = self.wanted(a, source) {
                out.insert(a, v);
            }
        }
        out
    }

    /// The directory's value of `a` (mapped from `source`) as it should be held, `None` for
    /// an attribute wanted empty or held. The directory's shared copy itself, unless
    /// trimming changed the value (which `wanted` validated).
    fn wanted(&self, a: UserAttribute, source: &str) -> Option<Arc<str>> {
        if a == UserAttribute::Manager {
            return self.manager_id.clone();
        }
        let shared = self.directory_value(a, source)?;
        match shared.trim() {
            "" => None,
            raw if raw.len() == shared.len() => Some(Arc::clone(shared)),
            raw => Some(Arc::from(raw)),
        }
    }

    /// [`Self::wanted`] as text, without making a copy of a trimmed value.
    fn wanted_text(&self, a: UserAttribute, source: &str) -> Option<&str> {
        if a == UserAttribute::Manager {
            return self.manager_id.as_deref();
        }
        Some(self.directory_value(a, source)?.trim()).filter(|v| !v.is_empty())
    }

    /// The directory's shared copy of `a`'s source attribute, untrimmed; `None` when `a` is
    /// held or the directory has no value.
    fn directory_value(&self, a: UserAttribute, source: &str) -> Option<&Arc<str>> {
        if self.held().contains(&a) {
            return None;
        }
        self.source?
            .get(source.to_ascii_lowercase().as_str())?
            .as_ref()
    }

    /// The managed attributes (not held) whose wanted value differs from `current`'s,
    /// compared exactly as Identity Center returns them.
    pub fn changed(
        &self,
        mapping: &AttributeMapping,
        current: &AttributeValues,
    ) -> Vec<UserAttribute> {
        mapping
            .iter()
            .filter(|(a, _)| !self.held().contains(a))
            .filter(|(a, source)| self.wanted_text(*a, source) != current.get(a).map(|v| &**v))
            .map(|(a, _)| a)
            .collect()
    }

    /// The full state after an update: wanted values for managed attributes, Identity
    /// Center's current ones for the rest (so a writer that rebuilds an address keeps the
    /// parts scim-sync does not manage).
    pub fn after_update(
        &self,
        mapping: &AttributeMapping,
        current: &AttributeValues,
    ) -> AttributeValues {
        let mut out = current.clone();
        for (a, source) in mapping.iter() {
            if self.held().contains(&a) {
                continue;
            }
            match self.wanted(a, source) {
                Some(v) => out.insert(a, v),
                None => out.remove(&a),
            };
        }
        out
    }
}

/// How a manager DN resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ManagerIs<'m> {
    /// An Identity Center user scim-sync manages, by id.
    Synced(&'m Arc<str>),
    /// A directory user in scope that this pass creates.
    CreatedNow(NewManager),
    /// A directory user in scope created only in the next pass (its userName or email is
    /// given up by another user in this one).
    CreatedNextPass,
}

/// A manager created in this pass, which a `setManager` operation references once it has
/// its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewManager {
    pub external_id: String,
    pub user_name: String,
}

/// Resolves a manager's DN to the user id Identity Center knows it by: `by_dn` maps folded
/// DNs of the directory users this pass syncs to how they resolve; a DN not in it is not a
/// user scim-sync syncs (out of scope, skipped, or not created: a conflict names it).
///
/// A manager created in this very pass is *held* for the user's create or update and put in
/// `manager_new`: the plan sets it in the additions phase, once both have their ids.
pub(super) fn resolve_manager(
    w: &mut WantedAttributes<'_>,
    who: &str,
    by_dn: &HashMap<String, ManagerIs<'_>>,
) {
    let Some(dn) = w.manager_dn else {
        return;
    };
    match by_dn.get(fold(dn).as_ref()) {
        Some(ManagerIs::Synced(id)) => w.manager_id = Some(Arc::clone(id)),
        Some(ManagerIs::CreatedNow(new)) => {
            let e = w.exceptions.get_or_insert_default();
            e.held.push(UserAttribute::Manager);
            e.manager_new = Some(new.clone());
        }
        Some(ManagerIs::CreatedNextPass) => {
            w.hold(
                UserAttribute::Manager,
                Finding::new(
                    ReasonCode::ManagerNextPass,
                    format!(
                        "{who}: enterprise.manager not set yet: the manager {dn} is created \
                         in the next pass (its userName or email is given up by another user \
                         in this one); it is referenced in that pass"
                    ),
                )
                .about(who),
            );
        }
        None => w.note(
            Finding::new(
                ReasonCode::ManagerNotSynced,
                format!(
                    "{who}: enterprise.manager left empty: the manager {dn} is not a user \
                     scim-sync syncs (not in scope, skipped, or not created: see its conflict)"
                ),
            )
            .about(who),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use litemap::LiteMap;
    use UserAttribute as A;

    fn user(attrs: &[(&str, Option<&str>)]) -> DirectoryUser {
        DirectoryUser {
            object_sid: "S-1-5-21-1-2-3-1001".into(),
            object_guid: "0b1f2c3d-0000-4000-8000-000000000001".into(),
            dn: "CN=Jane,DC=corp".into(),
            sam_account_name: "jane".into(),
            user_principal_name: Some("jane@corp".into()),
            given_name: Some("Jane".into()),
            surname: Some("Doe".into()),
            display_name: None,
            mail: None,
            enabled: true,
            account_expires: None,
            attributes: attrs
                .iter()
                .map(|(k, v)| (Arc::from(*k), v.map(Arc::from)))
                .collect(),
        }
    }

    #[test]
    fn values_are_trimmed_and_bad_ones_held_with_a_note() {
        let mut m = AttributeMapping::default();
        m.set(A::WorkPhone, "telephoneNumber");
        m.set(A::EmployeeNumber, "employeeID");
        let long = "x".repeat(1025);
        let u = user(&[
            ("title", Some("  Engineer ")),
            ("department", Some("   ")),
            ("company", Some(&long)),
            ("telephonenumber", Some("a\u{200B}b")),
            ("employeeid", None),
        ]);
        let w = wanted(&u, &m);
        assert_eq!(
            w.to_map(&m),
            LiteMap::from_iter([(A::Title, Arc::from("Engineer"))])
        );
        assert_eq!(w.held(), [A::WorkPhone, A::EmployeeNumber, A::Organization]);
        assert_eq!(w.notes().len(), 3);
        assert!(
            w.notes()
                .iter()
                .any(|n| n.text.contains("enterprise.organization")
                    && n.text.contains("at most 1024"))
        );

        // Department is managed and empty: removed; held ones are not compared.
        let current = LiteMap::from_iter([
            (A::Department, Arc::from("Sales")),
            (A::Organization, Arc::from("Old")),
            (A::Title, Arc::from("Engineer")),
            (A::NickName, Arc::from("unmanaged")),
        ]);
        assert_eq!(w.changed(&m, &current), vec![A::Department]);
        let after = w.after_update(&m, &current);
        assert_eq!(after.get(&A::Department), None);
        assert_eq!(after.get(&A::Organization).map(|v| &**v), Some("Old"));
        assert_eq!(after.get(&A::NickName).map(|v| &**v), Some("unmanaged"));
    }

    #[test]
    fn unmapped_attributes_are_neither_read_nor_compared() {
        let m = AttributeMapping::none();
        let u = user(&[("title", Some("Engineer"))]);
        let w = wanted(&u, &m);
        assert!(w.to_map(&m).is_empty());
        let current = LiteMap::from_iter([(A::Title, Arc::from("Boss"))]);
        assert!(w.changed(&m, &current).is_empty());
    }

    #[test]
    fn a_manager_resolves_to_its_id_or_is_held_or_emptied() {
        let mut m = AttributeMapping::none();
        m.set(A::Manager, "manager");
        let u = user(&[("manager", Some("CN=Boss,DC=corp"))]);
        let boss: Arc<str> = Arc::from("id-boss");
        let by_dn = HashMap::from([
            ("cn=boss,dc=corp".to_string(), ManagerIs::Synced(&boss)),
            (
                "cn=new,dc=corp".to_string(),
                ManagerIs::CreatedNow(NewManager {
                    external_id: "S-1-5-21-1-2-3-1002".into(),
                    user_name: "new@corp".into(),
                }),
            ),
            ("cn=later,dc=corp".to_string(), ManagerIs::CreatedNextPass),
        ]);
        let mut w = wanted(&u, &m);
        resolve_manager(&mut w, "jane", &by_dn);
        assert_eq!(w.to_map(&m).get(&A::Manager).map(|v| &**v), Some("id-boss"));
        assert!(w.changed(&m, &AttributeValues::new()) == vec![A::Manager]);
        assert!(w.manager_new().is_none() && w.notes().is_empty());

        // Created in this pass: held for the create or update, named for `setManager`, and
        // no note (the operation says it).
        let u = user(&[("manager", Some("CN=New,DC=corp"))]);
        let mut w = wanted(&u, &m);
        resolve_manager(&mut w, "jane", &by_dn);
        assert_eq!(w.held(), [A::Manager]);
        assert_eq!(
            w.manager_new().map(|n| n.external_id.as_str()),
            Some("S-1-5-21-1-2-3-1002")
        );
        assert!(w.notes().is_empty(), "{:?}", w.notes());
        let current = LiteMap::from_iter([(A::Manager, Arc::from("id-old"))]);
        assert!(w.changed(&m, &current).is_empty());
        assert_eq!(w.to_map(&m).get(&A::Manager), None, "not in the create");

        // Created only in the next pass: held, with a note.
        let u = user(&[("manager", Some("CN=Later,DC=corp"))]);
        let mut w = wanted(&u, &m);
        resolve_manager(&mut w, "jane", &by_dn);
        assert_eq!(w.held(), [A::Manager]);
        assert!(w.manager_new().is_none());
        assert_eq!(w.notes()[0].code, ReasonCode::ManagerNextPass);

        let u = user(&[("manager", Some("CN=Gone,DC=corp"))]);
        let mut w = wanted(&u, &m);
        resolve_manager(&mut w, "jane", &by_dn);
        assert!(w.held().is_empty() && w.manager_id.is_none());
        assert_eq!(w.notes()[0].code, ReasonCode::ManagerNotSynced);
        assert_eq!(w.changed(&m, &current), vec![A::Manager]);
    }
}
