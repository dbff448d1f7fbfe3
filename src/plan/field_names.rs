//! Attribute names as an operator reads them in reasons and audit records.
//!
//! Kept apart from the type definitions so the vocabulary can move between modules without
//! touching this.

use super::types::UserField;

impl UserField {
    /// The SCIM attribute it stands for, as an operator knows it.
    pub fn scim_name(self) -> &'static str {
        match self {
            UserField::UserName => "userName",
            UserField::DisplayName => "displayName",
            UserField::GivenName => "name.givenName",
            UserField::FamilyName => "name.familyName",
            UserField::Email => "emails",
            UserField::Active => "active",
            UserField::Attribute(a) => a.key(),
        }
    }
}
