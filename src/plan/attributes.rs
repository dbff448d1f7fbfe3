//! The optional user attributes of the `attributes` setting: what each managed one should
//! hold for a directory user, and which differ from what Identity Center holds.
//!
//! Only mapped attributes are managed. A value the directory lacks (or holds only
//! whitespace) is wanted empty, so Identity Center's is removed; a value Identity Center
//! would reject is *held*: left as it is this pass, with a note, and the user still synced.

use std::collections::HashMap;

use super::ownership::fold;
use super::validate;
use crate::model::settings::{AttributeMapping, UserAttribute};
use crate::model::{AttributeValues, DirectoryUser, Finding, ReasonCode};
use litemap::LiteMap;

/// What the managed optional attributes of one user should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct WantedAttributes<'a> {
    /// Managed attributes with a value to hold (besides `manager`); a managed attribute not
    /// here and not in `held` is wanted empty.
    pub values: LiteMap<UserAttribute, &'a str>,
    /// The manager's DN as the directory names it (when `manager` is mapped and set).
    pub manager_dn: Option<&'a str>,
    /// The manager's Identity Center user id, once resolved.
    pub manager_id: Option<String>,
    /// A manager created in this pass: set after the creates, by its own operation.
    pub manager_new: Option<NewManager>,
    /// Managed attributes left as they are by the user's create or update (a value Identity
    /// Center would reject, an unreadable value, a manager created in this pass or the next).
    pub held: Vec<UserAttribute>,
    /// Why, one line per held or emptied attribute, for the plan's notes.
    pub notes: Vec<Finding>,
}

/// The wanted optional attributes of `user` under `mapping`.
pub(super) fn wanted<'a>(
    user: &'a DirectoryUser,
    mapping: &AttributeMapping,
) -> WantedAttributes<'a> {
    let mut w = WantedAttributes::default();
    for (target, source) in mapping.iter() {
        let raw = match user.attributes.get(&source.to_ascii_lowercase()) {
            None => continue,
            Some(None) => {
                w.held.push(target);
                w.notes.push(
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
            Some(Some(v)) => v.trim(),
        };
        if raw.is_empty() {
            continue;
        }
        if target == UserAttribute::Manager {
            w.manager_dn = Some(raw);
            continue;
        }
        match validate::text(target.key(), raw) {
            Ok(()) => {
                w.values.insert(target, raw);
            }
            Err(reason) => {
                w.held.push(target);
                w.notes.push(
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
    /// The values to send, `manager` as its resolved id.
    pub fn to_map(&self) -> AttributeValues {
        let mut out: AttributeValues = self
            .values
            .iter()
            .map(|(a, v)| (*a, (*v).to_string()))
            .collect();
        if let Some(id) = &self.manager_id {
            out.insert(UserAttribute::Manager, id.clone());
        }
        out
    }

    fn wanted(&self, a: UserAttribute) -> Option<&str> {
        if a == UserAttribute::Manager {
            self.manager_id.as_deref()
        } else {
            self.values.get(&a).copied()
        }
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
            .map(|(a, _)| a)
            .filter(|a| !self.held.contains(a))
            .filter(|a| self.wanted(*a) != current.get(a).map(String::as_str))
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
        for (a, _) in mapping.iter() {
            if self.held.contains(&a) {
                continue;
            }
            match self.wanted(a) {
                Some(v) => out.insert(a, v.to_string()),
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
    Synced(&'m str),
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
        Some(ManagerIs::Synced(id)) => w.manager_id = Some(id.to_string()),
        Some(ManagerIs::CreatedNow(new)) => {
            w.held.push(UserAttribute::Manager);
            w.manager_new = Some(new.clone());
        }
        Some(ManagerIs::CreatedNextPass) => {
            w.held.push(UserAttribute::Manager);
            w.notes.push(
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
        None => w.notes.push(
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
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
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
        assert_eq!(w.values, LiteMap::from_iter([(A::Title, "Engineer")]));
        assert_eq!(
            w.held,
            vec![A::WorkPhone, A::EmployeeNumber, A::Organization]
        );
        assert_eq!(w.notes.len(), 3);
        assert!(
            w.notes
                .iter()
                .any(|n| n.text.contains("enterprise.organization")
                    && n.text.contains("at most 1024"))
        );

        // Department is managed and empty: removed; held ones are not compared.
        let current = LiteMap::from_iter([
            (A::Department, "Sales".to_string()),
            (A::Organization, "Old".to_string()),
            (A::Title, "Engineer".to_string()),
            (A::NickName, "unmanaged".to_string()),
        ]);
        assert_eq!(w.changed(&m, &current), vec![A::Department]);
        let after = w.after_update(&m, &current);
        assert_eq!(after.get(&A::Department), None);
        assert_eq!(after.get(&A::Organization).map(String::as_str), Some("Old"));
        assert_eq!(
            after.get(&A::NickName).map(String::as_str),
            Some("unmanaged")
        );
    }

    #[test]
    fn unmapped_attributes_are_neither_read_nor_compared() {
        let m = AttributeMapping::none();
        let u = user(&[("title", Some("Engineer"))]);
        let w = wanted(&u, &m);
        assert!(w.values.is_empty());
        let current = LiteMap::from_iter([(A::Title, "Boss".to_string())]);
        assert!(w.changed(&m, &current).is_empty());
    }

    #[test]
    fn a_manager_resolves_to_its_id_or_is_held_or_emptied() {
        let mut m = AttributeMapping::none();
        m.set(A::Manager, "manager");
        let u = user(&[("manager", Some("CN=Boss,DC=corp"))]);
        let by_dn = HashMap::from([
            ("cn=boss,dc=corp".to_string(), ManagerIs::Synced("id-boss")),
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
        assert_eq!(
            w.to_map().get(&A::Manager).map(String::as_str),
            Some("id-boss")
        );
        assert!(w.changed(&m, &AttributeValues::new()) == vec![A::Manager]);
        assert!(w.manager_new.is_none() && w.notes.is_empty());

        // Created in this pass: held for the create or update, named for `setManager`, and
        // no note (the operation says it).
        let u = user(&[("manager", Some("CN=New,DC=corp"))]);
        let mut w = wanted(&u, &m);
        resolve_manager(&mut w, "jane", &by_dn);
        assert_eq!(w.held, vec![A::Manager]);
        assert_eq!(
            w.manager_new.as_ref().map(|n| n.external_id.as_str()),
            Some("S-1-5-21-1-2-3-1002")
        );
        assert!(w.notes.is_empty(), "{:?}", w.notes);
        let current = LiteMap::from_iter([(A::Manager, "id-old".to_string())]);
        assert!(w.changed(&m, &current).is_empty());
        assert_eq!(w.to_map().get(&A::Manager), None, "not in the create");

        // Created only in the next pass: held, with a note.
        let u = user(&[("manager", Some("CN=Later,DC=corp"))]);
        let mut w = wanted(&u, &m);
        resolve_manager(&mut w, "jane", &by_dn);
        assert_eq!(w.held, vec![A::Manager]);
        assert!(w.manager_new.is_none());
        assert_eq!(w.notes[0].code, ReasonCode::ManagerNextPass);

        let u = user(&[("manager", Some("CN=Gone,DC=corp"))]);
        let mut w = wanted(&u, &m);
        resolve_manager(&mut w, "jane", &by_dn);
        assert!(w.held.is_empty() && w.manager_id.is_none());
        assert_eq!(w.notes[0].code, ReasonCode::ManagerNotSynced);
        assert_eq!(w.changed(&m, &current), vec![A::Manager]);
    }
}
