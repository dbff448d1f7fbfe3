//! The optional user attributes (`attributes` setting) on the wire: where each lives in a SCIM
//! user, how a create carries them, how an update changes or removes them, and how a read
//! decodes them back, so a second pass compares like with like.
//!
//! Identity Center allows one phone number and one address; scim-sync writes each as the
//! single element, `type: "work"`, `primary: true`. The address parts travel together: a
//! change of one part replaces the whole element (with the other parts as they are).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::model::settings::UserAttribute;
use crate::model::{AttributeValues, SharedStrings};

/// The enterprise extension's schema URN, also its attribute name in a user.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Where an attribute lives in a SCIM user.
enum Place {
    /// A top-level string attribute.
    Simple(&'static str),
    /// `phoneNumbers[0].value`.
    Phone,
    /// A sub-attribute of `addresses[0]`.
    Address(&'static str),
    /// A string of the enterprise extension, with its PATCH path.
    Enterprise(&'static str, &'static str),
    /// `manager.value` of the enterprise extension.
    Manager,
}

fn place(a: UserAttribute) -> Place {
    use UserAttribute as A;
    match a {
        A::Title => Place::Simple("title"),
        A::NickName => Place::Simple("nickName"),
        A::UserType => Place::Simple("userType"),
        A::PreferredLanguage => Place::Simple("preferredLanguage"),
        A::Locale => Place::Simple("locale"),
        A::Timezone => Place::Simple("timezone"),
        A::ProfileUrl => Place::Simple("profileUrl"),
        A::WorkPhone => Place::Phone,
        A::StreetAddress => Place::Address("streetAddress"),
        A::Locality => Place::Address("locality"),
        A::Region => Place::Address("region"),
        A::PostalCode => Place::Address("postalCode"),
        A::Country => Place::Address("country"),
        A::FormattedAddress => Place::Address("formatted"),
        A::EmployeeNumber => Place::Enterprise("employeeNumber", const_concat::EMPLOYEE_NUMBER),
        A::CostCenter => Place::Enterprise("costCenter", const_concat::COST_CENTER),
        A::Organization => Place::Enterprise("organization", const_concat::ORGANIZATION),
        A::Division => Place::Enterprise("division", const_concat::DIVISION),
        A::Department => Place::Enterprise("department", const_concat::DEPARTMENT),
        A::Manager => Place::Manager,
    }
}

/// The enterprise PATCH paths (`<URN>:<attribute>`), spelt out because a `&'static str` path
/// cannot be built at run time.
mod const_concat {
    pub const EMPLOYEE_NUMBER: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";
    pub const COST_CENTER: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter";
    pub const ORGANIZATION: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization";
    pub const DIVISION: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division";
    pub const DEPARTMENT: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
    pub const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
}

/// The one work phone element.
fn phone_element(value: &str) -> Value {
    json!([{ "value": value, "type": "work", "primary": true }])
}

/// The one work address element from every address part in `attrs`; `None` when no part has
/// a value (the address is then removed, not sent empty).
fn address_element(attrs: &AttributeValues) -> Option<Value> {
    let mut element = Map::new();
    for (a, v) in attrs {
        if let Place::Address(key) = place(*a) {
            element.insert(key.to_string(), json!(v));
        }
    }
    if element.is_empty() {
        return None;
    }
    element.insert("type".into(), json!("work"));
    element.insert("primary".into(), json!(true));
    Some(Value::Array(vec![Value::Object(element)]))
}

/// The attributes of a create body besides the core ones, and whether the enterprise schema
/// must be listed.
pub fn create_fields(attrs: &AttributeValues) -> (Map<String, Value>, bool) {
    let mut out = Map::new();
    let mut enterprise = Map::new();
    for (a, v) in attrs {
        match place(*a) {
            Place::Simple(key) => {
                out.insert(key.to_string(), json!(v));
            }
            Place::Phone => {
                out.insert("phoneNumbers".into(), phone_element(v));
            }
            Place::Address(_) => {}
            Place::Enterprise(key, _) => {
                enterprise.insert(key.to_string(), json!(v));
            }
            Place::Manager => {
                enterprise.insert("manager".into(), json!({ "value": v }));
            }
        }
    }
    if let Some(address) = address_element(attrs) {
        out.insert("addresses".into(), address);
    }
    let has_enterprise = !enterprise.is_empty();
    if has_enterprise {
        out.insert(ENTERPRISE_SCHEMA.into(), Value::Object(enterprise));
    }
    (out, has_enterprise)
}

/// One change of a PATCH: `replace` the path with `Some(value)`, or `remove` it (`None`).
/// The caller turns it into its wire operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: &'static str,
    pub value: Option<Value>,
}

impl Change {
    fn replace(path: &'static str, value: Value) -> Self {
        Self {
            path,
            value: Some(value),
        }
    }

    fn remove(path: &'static str) -> Self {
        Self { path, value: None }
    }
}

/// One change per changed attribute (all address parts in one), each with an explicit path:
/// `replace` with the value in `attrs`, or `remove` when it has none.
pub fn patch_operations(changed: &BTreeSet<UserAttribute>, attrs: &AttributeValues) -> Vec<Change> {
    let mut ops = Vec::new();
    let mut address_changed = false;
    for a in changed {
        let value = attrs.get(a);
        let op = match (place(*a), value) {
            (Place::Address(_), _) => {
                address_changed = true;
                continue;
            }
            (Place::Simple(path), Some(v)) => Change::replace(path, json!(v)),
            (Place::Simple(path), None) => Change::remove(path),
            (Place::Phone, Some(v)) => Change::replace("phoneNumbers", phone_element(v)),
            (Place::Phone, None) => Change::remove("phoneNumbers"),
            (Place::Enterprise(_, path), Some(v)) => Change::replace(path, json!(v)),
            (Place::Enterprise(_, path), None) => Change::remove(path),
            (Place::Manager, Some(v)) => {
                Change::replace(const_concat::MANAGER, json!({ "value": v }))
            }
            (Place::Manager, None) => Change::remove(const_concat::MANAGER),
        };
        ops.push(op);
    }
    if address_changed {
        ops.push(match address_element(attrs) {
            Some(element) => Change::replace("addresses", element),
            None => Change::remove("addresses"),
        });
    }
    ops
}

/// The optional attributes of a user as read (any value that is not a non-empty string is
/// ignored): top-level strings, the primary (else first) phone and address, the enterprise
/// extension's strings and `manager.value`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireOptional {
    title: Option<Value>,
    nick_name: Option<Value>,
    user_type: Option<Value>,
    preferred_language: Option<Value>,
    locale: Option<Value>,
    timezone: Option<Value>,
    profile_url: Option<Value>,
    phone_numbers: Option<Value>,
    addresses: Option<Value>,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")]
    enterprise: Option<Value>,
}

fn text(v: Option<&Value>, shared: &SharedStrings) -> Option<Arc<str>> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| shared.share(s))
}

/// The element of a one-element list Identity Center returns: the primary one, else the first.
fn single(list: Option<&Value>) -> Option<&Map<String, Value>> {
    let items = list?.as_array()?;
    items
        .iter()
        .filter_map(Value::as_object)
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| items.iter().filter_map(Value::as_object).next())
}

impl WireOptional {
    /// The values as the sync compares them, each shared through `shared` (the listing's
    /// pool: titles and departments repeat across users).
    pub fn into_map(self, shared: &SharedStrings) -> AttributeValues {
        let mut out = AttributeValues::new();
        let phone = single(self.phone_numbers.as_ref()).and_then(|p| text(p.get("value"), shared));
        let address = single(self.addresses.as_ref());
        let enterprise = self.enterprise.as_ref().and_then(Value::as_object);
        for a in UserAttribute::ALL {
            let value = match place(a) {
                Place::Simple(key) => text(
                    match key {
                        "title" => self.title.as_ref(),
                        "nickName" => self.nick_name.as_ref(),
                        "userType" => self.user_type.as_ref(),
                        "preferredLanguage" => self.preferred_language.as_ref(),
                        "locale" => self.locale.as_ref(),
                        "timezone" => self.timezone.as_ref(),
                        _ => self.profile_url.as_ref(),
                    },
                    shared,
                ),
                Place::Phone => phone.clone(),
                Place::Address(key) => address.and_then(|ad| text(ad.get(key), shared)),
                Place::Enterprise(key, _) => enterprise.and_then(|e| text(e.get(key), shared)),
                Place::Manager => enterprise
                    .and_then(|e| e.get("manager"))
                    .and_then(|m| text(m.get("value"), shared)),
            };
            if let Some(v) = value {
                out.insert(a, v);
            }
        }
        // Grown one insert at a time (or collected), the vector has room for at least four;
        // 100k users hold it.
        let mut entries = out.into_tuple_vec();
        entries.shrink_to_fit();
        AttributeValues::from_sorted_store_unchecked(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserAttribute as A;

    fn attrs(pairs: &[(UserAttribute, &str)]) -> AttributeValues {
        pairs.iter().map(|(a, v)| (*a, Arc::from(*v))).collect()
    }

    #[test]
    fn a_create_carries_phone_address_and_enterprise_in_aws_shape() {
        let a = attrs(&[
            (A::Title, "Engineer"),
            (A::WorkPhone, "+1 555 0100"),
            (A::Locality, "Berlin"),
            (A::Country, "DE"),
            (A::Department, "R&D"),
            (A::Manager, "m-1"),
        ]);
        let (fields, enterprise) = create_fields(&a);
        assert!(enterprise);
        assert_eq!(
            Value::Object(fields),
            json!({
                "title": "Engineer",
                "phoneNumbers": [{"value": "+1 555 0100", "type": "work", "primary": true}],
                "addresses": [{"locality": "Berlin", "country": "DE", "type": "work", "primary": true}],
                ENTERPRISE_SCHEMA: {"department": "R&D", "manager": {"value": "m-1"}}
            })
        );
        assert!(!create_fields(&attrs(&[(A::Title, "x")])).1);
    }

    #[test]
    fn an_update_replaces_or_removes_each_changed_attribute_and_the_address_once() {
        let a = attrs(&[(A::Locality, "Berlin"), (A::Department, "R&D")]);
        let changed: BTreeSet<_> = [A::Title, A::Locality, A::Country, A::Department, A::Manager]
            .into_iter()
            .collect();
        let ops: Vec<Value> = patch_operations(&changed, &a)
            .into_iter()
            .map(|c| match c.value {
                Some(v) => json!({"op": "replace", "path": c.path, "value": v}),
                None => json!({"op": "remove", "path": c.path}),
            })
            .collect();
        assert_eq!(
            ops,
            vec![
                json!({"op": "remove", "path": "title"}),
                json!({"op": "replace", "path": format!("{ENTERPRISE_SCHEMA}:department"), "value": "R&D"}),
                json!({"op": "remove", "path": format!("{ENTERPRISE_SCHEMA}:manager")}),
                json!({"op": "replace", "path": "addresses",
                       "value": [{"locality": "Berlin", "type": "work", "primary": true}]}),
            ]
        );
        let none = patch_operations(
            &[A::Locality].into_iter().collect(),
            &AttributeValues::new(),
        );
        assert_eq!(
            none,
            vec![Change {
                path: "addresses",
                value: None
            }]
        );
    }

    #[test]
    fn a_read_decodes_what_a_create_sends() {
        let a = attrs(&[
            (A::Title, "Engineer"),
            (A::Timezone, "Europe/Berlin"),
            (A::WorkPhone, "+1 555 0100"),
            (A::StreetAddress, "Main St 1"),
            (A::FormattedAddress, "Main St 1, Berlin"),
            (A::EmployeeNumber, "42"),
            (A::Manager, "m-1"),
        ]);
        let (fields, _) = create_fields(&a);
        let read: WireOptional = serde_json::from_value(Value::Object(fields)).unwrap();
        assert_eq!(read.into_map(&SharedStrings::default()), a);
        let odd: WireOptional = serde_json::from_value(
            json!({"title": "", "phoneNumbers": [], "addresses": "x", ENTERPRISE_SCHEMA: {"department": 3}}),
        )
        .unwrap();
        assert!(odd.into_map(&SharedStrings::default()).is_empty());
    }
}
