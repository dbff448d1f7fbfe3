//! Which optional Identity Center user attributes scim-sync manages, and from which directory
//! attribute each one comes (the `attributes` setting).
//!
//! Only a mapped attribute is managed: an unmapped one is never sent and never removed, so
//! values set in Identity Center by hand (or by another tool) survive. The defaults are the
//! PowerShell original's three, so a migration keeps them in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An optional, single-valued Identity Center user attribute scim-sync can manage. Each
/// variant's setting key is [`UserAttribute::key`] (`title`, `addresses.work.locality`,
/// `enterprise.department`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum UserAttribute {
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "nickName")]
    NickName,
    #[serde(rename = "userType")]
    UserType,
    #[serde(rename = "preferredLanguage")]
    PreferredLanguage,
    #[serde(rename = "locale")]
    Locale,
    #[serde(rename = "timezone")]
    Timezone,
    #[serde(rename = "profileUrl")]
    ProfileUrl,
    /// The one phone number, `type: "work"`, primary.
    #[serde(rename = "phoneNumbers.work")]
    WorkPhone,
    #[serde(rename = "addresses.work.streetAddress")]
    StreetAddress,
    #[serde(rename = "addresses.work.locality")]
    Locality,
    #[serde(rename = "addresses.work.region")]
    Region,
    #[serde(rename = "addresses.work.postalCode")]
    PostalCode,
    #[serde(rename = "addresses.work.country")]
    Country,
    #[serde(rename = "addresses.work.formatted")]
    FormattedAddress,
    #[serde(rename = "enterprise.employeeNumber")]
    EmployeeNumber,
    #[serde(rename = "enterprise.costCenter")]
    CostCenter,
    #[serde(rename = "enterprise.organization")]
    Organization,
    #[serde(rename = "enterprise.division")]
    Division,
    #[serde(rename = "enterprise.department")]
    Department,
    /// The directory value is the manager's DN; Identity Center holds the manager's user id
    /// (`manager.value`).
    #[serde(rename = "enterprise.manager")]
    Manager,
}

impl UserAttribute {
    /// Every attribute, in the order docs and reports list them.
    pub const ALL: [UserAttribute; 20] = [
        UserAttribute::Title,
        UserAttribute::NickName,
        UserAttribute::UserType,
        UserAttribute::PreferredLanguage,
        UserAttribute::Locale,
        UserAttribute::Timezone,
        UserAttribute::ProfileUrl,
        UserAttribute::WorkPhone,
        UserAttribute::StreetAddress,
        UserAttribute::Locality,
        UserAttribute::Region,
        UserAttribute::PostalCode,
        UserAttribute::Country,
        UserAttribute::FormattedAddress,
        UserAttribute::EmployeeNumber,
        UserAttribute::CostCenter,
        UserAttribute::Organization,
        UserAttribute::Division,
        UserAttribute::Department,
        UserAttribute::Manager,
    ];

    /// The key in the `attributes` setting (and in reports).
    pub fn key(self) -> &'static str {
        match self {
            UserAttribute::Title => "title",
            UserAttribute::NickName => "nickName",
            UserAttribute::UserType => "userType",
            UserAttribute::PreferredLanguage => "preferredLanguage",
            UserAttribute::Locale => "locale",
            UserAttribute::Timezone => "timezone",
            UserAttribute::ProfileUrl => "profileUrl",
            UserAttribute::WorkPhone => "phoneNumbers.work",
            UserAttribute::StreetAddress => "addresses.work.streetAddress",
            UserAttribute::Locality => "addresses.work.locality",
            UserAttribute::Region => "addresses.work.region",
            UserAttribute::PostalCode => "addresses.work.postalCode",
            UserAttribute::Country => "addresses.work.country",
            UserAttribute::FormattedAddress => "addresses.work.formatted",
            UserAttribute::EmployeeNumber => "enterprise.employeeNumber",
            UserAttribute::CostCenter => "enterprise.costCenter",
            UserAttribute::Organization => "enterprise.organization",
            UserAttribute::Division => "enterprise.division",
            UserAttribute::Department => "enterprise.department",
            UserAttribute::Manager => "enterprise.manager",
        }
    }

    /// The attribute whose setting key is `key` (exact spelling).
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.key() == key)
    }

    /// A part of the one work address (sent together, as one `addresses` element).
    pub fn is_address_part(self) -> bool {
        matches!(
            self,
            UserAttribute::StreetAddress
                | UserAttribute::Locality
                | UserAttribute::Region
                | UserAttribute::PostalCode
                | UserAttribute::Country
                | UserAttribute::FormattedAddress
        )
    }
}

/// Identity Center attribute → directory attribute, for the managed attributes only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttributeMapping(BTreeMap<UserAttribute, String>);

impl Default for AttributeMapping {
    /// The PowerShell original's: `title ← title`, `enterprise.department ← department`,
    /// `enterprise.organization ← company`.
    fn default() -> Self {
        Self(
            super::defaults::ATTRIBUTES
                .iter()
                .map(|(a, d)| (*a, (*d).to_string()))
                .collect(),
        )
    }
}

impl AttributeMapping {
    /// The `openldap` profile's default (`defaults::OPENLDAP_ATTRIBUTES`).
    pub fn openldap_default() -> Self {
        Self(
            super::defaults::OPENLDAP_ATTRIBUTES
                .iter()
                .map(|(a, d)| (*a, (*d).to_string()))
                .collect(),
        )
    }

    /// No attribute managed.
    pub fn none() -> Self {
        Self(BTreeMap::new())
    }

    /// Manages `target` from the directory attribute `source` (already validated by
    /// `config`), or stops managing it when `source` is empty.
    pub fn set(&mut self, target: UserAttribute, source: &str) {
        if source.is_empty() {
            self.0.remove(&target);
        } else {
            self.0.insert(target, source.to_string());
        }
    }

    /// The directory attribute `target` comes from, if it is managed.
    pub fn source(&self, target: UserAttribute) -> Option<&str> {
        self.0.get(&target).map(String::as_str)
    }

    /// Every managed attribute with its directory source, in [`UserAttribute`] order.
    pub fn iter(&self) -> impl Iterator<Item = (UserAttribute, &str)> {
        self.0.iter().map(|(a, s)| (*a, s.as_str()))
    }

    /// The directory attributes to read, each once (compared without case, as LDAP does).
    pub fn directory_attributes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.0.values() {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
                out.push(s.clone());
            }
        }
        out
    }

    pub fn is_managed(&self, target: UserAttribute) -> bool {
        self.0.contains_key(&target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_match_serde() {
        for a in UserAttribute::ALL {
            assert_eq!(UserAttribute::from_key(a.key()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.key());
        }
        assert_eq!(UserAttribute::from_key("Title"), None);
    }

    #[test]
    fn defaults_are_the_originals_three_and_empty_unmaps() {
        let mut m = AttributeMapping::default();
        assert_eq!(m.source(UserAttribute::Title), Some("title"));
        assert_eq!(m.source(UserAttribute::Department), Some("department"));
        assert_eq!(m.source(UserAttribute::Organization), Some("company"));
        assert_eq!(m.iter().count(), 3);
        m.set(UserAttribute::Title, "");
        m.set(UserAttribute::EmployeeNumber, "employeeID");
        m.set(UserAttribute::CostCenter, "EmployeeID");
        assert!(!m.is_managed(UserAttribute::Title));
        assert_eq!(
            m.directory_attributes(),
            vec!["employeeID", "company", "department"]
        );
    }
}
