//! SCIM `eq` filters, built only from values that cannot break out of the quotes.
//!
//! How Identity Center unescapes a `"` or `\` inside a filter value is undocumented, so a value
//! holding one is never interpolated: the builder refuses it with a typed error and callers find
//! the object through a listing instead. This is also the filter-injection guard.

use std::fmt;

/// The attributes Identity Center accepts in an `eq` filter that this client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterAttr {
    /// `/Users`: exact userName.
    UserName,
    /// `/Users` and `/Groups`: the provisioning anchor.
    ExternalId,
    /// `/Groups`: exact group name.
    DisplayName,
    /// `/Users`: the members of the group with this id (the only SCIM way to read them).
    GroupsValue,
    /// `/Groups`: the groups the user with this id is a member of.
    MembersValue,
}

impl FilterAttr {
    /// The attribute as it appears in the filter.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterAttr::UserName => "userName",
            FilterAttr::ExternalId => "externalId",
            FilterAttr::DisplayName => "displayName",
            FilterAttr::GroupsValue => "groups.value",
            FilterAttr::MembersValue => "members.value",
        }
    }
}

impl fmt::Display for FilterAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value cannot be put in a filter; the caller falls back to a listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The value holds a `"`, a `\` or a control character.
    #[error(
        "{attribute} value {value:?} contains a quote, backslash or control character and is \
         never put in a SCIM filter; the object is looked up through a listing instead"
    )]
    Unsafe {
        attribute: FilterAttr,
        value: String,
    },
    /// Identity Center answers `eq ""` with 400, and it would match nothing useful anyway.
    #[error("{attribute} value is empty; an empty SCIM filter value is refused")]
    Empty { attribute: FilterAttr },
}

/// True when `value` can sit between the double quotes of a filter as it is.
pub fn is_filter_safe(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
}

/// `<attribute> eq "<value>"`, or a [`FilterError`] when the value is not safe to quote.
pub fn eq(attribute: FilterAttr, value: &str) -> Result<String, FilterError> {
    if value.is_empty() {
        return Err(FilterError::Empty { attribute });
    }
    if !is_filter_safe(value) {
        return Err(FilterError::Unsafe {
            attribute,
            value: value.to_string(),
        });
    }
    Ok(format!("{attribute} eq \"{value}\""))
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn builds_quoted_eq_filters() {
        assert_eq!(
            eq(FilterAttr::UserName, "alice@example.com").unwrap(),
            r#"userName eq "alice@example.com""#
        );
        assert_eq!(
            eq(FilterAttr::GroupsValue, "g-1").unwrap(),
            r#"groups.value eq "g-1""#
        );
        // Spaces, colons and other punctuation are fine inside the quotes.
        assert_eq!(
            eq(FilterAttr::DisplayName, "AWS: Admins (prod)").unwrap(),
            r#"displayName eq "AWS: Admins (prod)""#
        );
    }

    #[test]
    fn refuses_values_that_could_break_out_of_the_quotes() {
        for bad in [
            r#"a"b"#,
            r"a\b",
            r#"x" or userName eq "y"#,
            "line\nbreak",
            "\"",
        ] {
            let err = eq(FilterAttr::UserName, bad).unwrap_err();
            assert!(matches!(err, FilterError::Unsafe { .. }), "{bad:?}");
            assert!(!is_filter_safe(bad));
        }
        assert_eq!(
            eq(FilterAttr::ExternalId, ""),
            Err(FilterError::Empty {
                attribute: FilterAttr::ExternalId
            })
        );
    }
}
