//! The mapping from a directory entry to what Identity Center should hold for it.
//!
//! Kept apart from the diffing so the attribute rules (which AD attribute feeds which SCIM
//! attribute, which fallbacks apply, what makes an entry unsendable) read in one place.

use std::borrow::Cow;

use super::attributes::{wanted, WantedAttributes};
use super::types::UserAttributes;
use super::validate;
use crate::model::settings::{
    AttributeMapping, EmailSource, GroupDisplayName, Policy, UserNameSource,
};
use crate::model::{DirectoryGroup, DirectoryUser, Reason, ReasonCode};

/// Surrounding whitespace is never meaningful in a directory value (AD tools let it slip in),
/// and an attribute that is only whitespace is treated as absent.
fn clean(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// What Identity Center should hold for `user`, or why it cannot be sent. `active` here is
/// the `userAccountControl` state alone: account expiry needs the time of a pass, which the
/// planner has (`DirectorySnapshot::read_at`).
///
/// - `externalId` = `objectSid`; `userName` from the attribute `policy.user_name_source`
///   names (lowercased with `lowercaseUserNames`); `emails` = `mail`, one, primary
///   (lowercased with `lowercaseUserNames`); `active` = enabled in the directory.
/// - `givenName` and `familyName` (`sn`) are required by Identity Center and have no
///   fallback: inventing a person's name would be worse than reporting the entry.
/// - `displayName` falls back to "givenName familyName" (both exist by then).
/// - The error is phrased for an operator and says what to fix in the directory; its code
///   says which rule refused the entry (`missingGivenName`, `invalidEmail`, …).
pub fn desired_user(user: &DirectoryUser, policy: &Policy) -> Result<UserAttributes, Reason> {
    desired_view(user, policy, None).map(|d| d.to_attributes(&policy.attributes))
}

/// Whether the account can sign in at `now` (Unix seconds): enabled, and not past its
/// `accountExpires`. A locked-out account is active: lockout ends by itself (or by a
/// helpdesk unlock) and says nothing about whether the person should have access.
pub(super) fn signs_in(user: &DirectoryUser, now: Option<i64>) -> bool {
    let expired = match (user.account_expires, now) {
        (Some(at), Some(now)) => at <= now,
        _ => false,
    };
    user.enabled && !expired
}

/// [`UserAttributes`] as views into the directory entry, copied only where a value had to be
/// made (a lowercased name, a composed displayName). The planner holds one per user in
/// scope at once; owned copies would cost ~25 MB more at 100k users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DesiredUser<'a> {
    pub external_id: &'a str,
    pub user_name: Cow<'a, str>,
    pub display_name: Cow<'a, str>,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub email: Option<Cow<'a, str>>,
    pub active: bool,
    /// The managed optional attributes (`attributes` setting).
    pub attributes: WantedAttributes<'a>,
}

impl DesiredUser<'_> {
    /// The owned form an operation carries; `mapping` is the one the view was made with.
    pub fn to_attributes(&self, mapping: &AttributeMapping) -> UserAttributes {
        UserAttributes {
            external_id: self.external_id.to_string(),
            user_name: self.user_name.to_string(),
            display_name: self.display_name.to_string(),
            given_name: self.given_name.to_string(),
            family_name: self.family_name.to_string(),
            email: self.email.as_ref().map(|e| e.to_string()),
            active: self.active,
            attributes: self.attributes.to_map(mapping),
        }
    }
}

/// [`desired_user`] without copying the directory's values; the same rules.
pub(super) fn desired_view<'a>(
    user: &'a DirectoryUser,
    policy: &Policy,
    now: Option<i64>,
) -> Result<DesiredUser<'a>, Reason> {
    let external_id = user.object_sid.trim();
    validate::external_id(external_id).map_err(|e| {
        Reason::new(
            ReasonCode::UnusableAnchor,
            format!("objectSid unusable: {e}"),
        )
    })?;

    let (source_attr, source) = match policy.user_name_source {
        UserNameSource::UserPrincipalName => {
            ("userPrincipalName", user.user_principal_name.as_deref())
        }
        UserNameSource::Mail => ("mail", user.mail.as_deref()),
        UserNameSource::SamAccountName => ("sAMAccountName", Some(user.sam_account_name.as_str())),
        // The `openldap` profile reads `uid` into the account name.
        UserNameSource::Uid => ("uid", Some(user.sam_account_name.as_str())),
    };
    let Some(user_name) = clean(source) else {
        return Err(Reason::new(
            ReasonCode::MissingUserName,
            format!(
                "{source_attr} is empty, and it is the userNameSource: set it in the directory \
                 or choose another userNameSource"
            ),
        ));
    };
    let user_name = normalise_case(user_name, policy);
    validate::user_name(&user_name).map_err(|e| {
        Reason::new(
            ReasonCode::InvalidUserName,
            format!("{e} (from {source_attr})"),
        )
    })?;

    let given_name = required_name(
        user.given_name.as_deref(),
        "givenName",
        "name.givenName",
        ReasonCode::MissingGivenName,
    )?;
    let family_name = required_name(
        user.surname.as_deref(),
        "sn (surname)",
        "name.familyName",
        ReasonCode::MissingFamilyName,
    )?;
    let display_name = match clean(user.display_name.as_deref()) {
        Some(d) => Cow::Borrowed(d),
        None => Cow::Owned(format!("{given_name} {family_name}")),
    };
    validate::text("displayName", &display_name).map_err(invalid)?;

    let email_attribute = match policy.email_source {
        EmailSource::Mail => user.mail.as_deref(),
        EmailSource::UserPrincipalName => user.user_principal_name.as_deref(),
    };
    let email = match clean(email_attribute) {
        Some(m) => {
            let m = normalise_case(m, policy);
            validate::email(&m).map_err(|e| Reason::new(ReasonCode::InvalidEmail, e))?;
            Some(m)
        }
        None => None,
    };

    Ok(DesiredUser {
        external_id,
        user_name,
        display_name,
        given_name,
        family_name,
        email,
        active: signs_in(user, now),
        attributes: wanted(user, &policy.attributes),
    })
}

fn required_name<'a>(
    value: Option<&'a str>,
    ad_attr: &str,
    scim_attr: &str,
    missing: ReasonCode,
) -> Result<&'a str, Reason> {
    let Some(v) = clean(value) else {
        return Err(Reason::new(
            missing,
            format!(
                "{ad_attr} is empty; Identity Center requires {scim_attr}: fill it in the \
                 directory"
            ),
        ));
    };
    validate::text(ad_attr, v).map_err(invalid)?;
    Ok(v)
}

fn invalid(text: String) -> Reason {
    Reason::new(ReasonCode::InvalidAttribute, text)
}

fn normalise_case<'a>(value: &'a str, policy: &Policy) -> Cow<'a, str> {
    if !policy.lowercase_user_names {
        return Cow::Borrowed(value);
    }
    let lower = value.to_lowercase();
    if lower == value {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(lower)
    }
}

/// The displayName Identity Center should show for `group` under the original's naming
/// (`cn`), or why it cannot be sent.
pub fn desired_group_name(group: &DirectoryGroup) -> Result<String, Reason> {
    desired_group_name_by(group, GroupDisplayName::Cn, "")
}

/// The name `naming` (`scope.groupDisplayName`) makes for `group`, before validation:
/// `cnWithoutPrefix` strips `prefix` (compared without case) unless nothing would be left or
/// the name does not start with it; `sAMAccountName` falls back to `cn` when absent.
pub fn group_display_name(
    group: &DirectoryGroup,
    naming: GroupDisplayName,
    prefix: &str,
) -> String {
    let cn = group.name.trim();
    match naming {
        GroupDisplayName::Cn => cn.to_string(),
        GroupDisplayName::CnWithoutPrefix => {
            let n = prefix.chars().count();
            let head: String = cn.chars().take(n).collect();
            let rest: String = cn.chars().skip(n).collect();
            let rest = rest.trim();
            if n > 0 && head.to_lowercase() == prefix.to_lowercase() && !rest.is_empty() {
                rest.to_string()
            } else {
                cn.to_string()
            }
        }
        GroupDisplayName::SamAccountName => group
            .account_name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(cn)
            .to_string(),
    }
}

/// [`desired_group_name`] under a naming setting and its prefix.
pub fn desired_group_name_by(
    group: &DirectoryGroup,
    naming: GroupDisplayName,
    prefix: &str,
) -> Result<String, Reason> {
    validate::external_id(group.object_guid.trim()).map_err(|e| {
        Reason::new(
            ReasonCode::UnusableAnchor,
            format!("objectGUID unusable: {e}"),
        )
    })?;
    let made = group_display_name(group, naming, prefix);
    let Some(name) = clean(Some(made.as_str())) else {
        return Err(Reason::new(
            ReasonCode::MissingGroupName,
            "the group name is empty",
        ));
    };
    validate::group_name(name).map_err(invalid)?;
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> DirectoryUser {
        DirectoryUser {
            object_sid: "S-1-5-21-1-2-3-1001".into(),
            object_guid: "0b1f2c3d-0000-4000-8000-000000000001".into(),
            dn: "CN=Jane Doe,OU=Staff,DC=corp,DC=example".into(),
            sam_account_name: "jdoe".into(),
            user_principal_name: Some("Jane.Doe@Corp.Example".into()),
            given_name: Some("Jane".into()),
            surname: Some("Doe".into()),
            display_name: Some("Jane Doe (IT)".into()),
            mail: Some("Jane.Doe@Example.com".into()),
            enabled: true,
            account_expires: None,
            attributes: Default::default(),
        }
    }

    #[test]
    fn maps_attributes_with_the_default_policy() {
        let a = desired_user(&user(), &Policy::default()).unwrap();
        assert_eq!(a.external_id, "S-1-5-21-1-2-3-1001");
        assert_eq!(a.user_name, "Jane.Doe@Corp.Example");
        assert_eq!(a.display_name, "Jane Doe (IT)");
        assert_eq!(
            (a.given_name.as_str(), a.family_name.as_str()),
            ("Jane", "Doe")
        );
        assert_eq!(a.email.as_deref(), Some("Jane.Doe@Example.com"));
        assert!(a.active);
    }

    #[test]
    fn user_name_source_and_lowercasing_follow_the_policy() {
        let mut p = Policy {
            user_name_source: UserNameSource::Mail,
            lowercase_user_names: true,
            ..Policy::default()
        };
        let a = desired_user(&user(), &p).unwrap();
        assert_eq!(a.user_name, "jane.doe@example.com");
        assert_eq!(a.email.as_deref(), Some("jane.doe@example.com"));
        p.user_name_source = UserNameSource::SamAccountName;
        assert_eq!(desired_user(&user(), &p).unwrap().user_name, "jdoe");
    }

    #[test]
    fn display_name_falls_back_to_given_and_family_name() {
        let mut u = user();
        u.display_name = Some("   ".into());
        assert_eq!(
            desired_user(&u, &Policy::default()).unwrap().display_name,
            "Jane Doe"
        );
    }

    #[test]
    fn values_are_trimmed_and_disabled_users_are_inactive() {
        let mut u = user();
        u.given_name = Some("  Jane ".into());
        u.enabled = false;
        let a = desired_user(&u, &Policy::default()).unwrap();
        assert_eq!(a.given_name, "Jane");
        assert!(!a.active);
    }

    #[test]
    fn entries_identity_center_would_reject_are_refused_with_a_reason() {
        use ReasonCode::*;
        type Breakage = fn(&mut DirectoryUser);
        let cases: Vec<(Breakage, ReasonCode, &str)> = vec![
            (
                |u| u.user_principal_name = None,
                MissingUserName,
                "userPrincipalName is empty",
            ),
            (
                |u| u.user_principal_name = Some("jane doe@x".into()),
                InvalidUserName,
                "whitespace",
            ),
            (
                |u| u.given_name = None,
                MissingGivenName,
                "givenName is empty",
            ),
            (
                |u| u.surname = Some(" ".into()),
                MissingFamilyName,
                "sn (surname) is empty",
            ),
            (
                |u| u.surname = Some("\u{200B}".into()),
                InvalidAttribute,
                "rejects",
            ),
            (
                |u| u.mail = Some("not-an-address".into()),
                InvalidEmail,
                "not an email address",
            ),
            (
                |u| u.user_principal_name = Some("a".repeat(129)),
                InvalidUserName,
                "at most 128",
            ),
            (
                |u| u.display_name = Some("d".repeat(1025)),
                InvalidAttribute,
                "at most 1024",
            ),
            (
                |u| u.object_sid = "".into(),
                UnusableAnchor,
                "objectSid unusable",
            ),
        ];
        for (break_it, code, expected) in cases {
            let mut u = user();
            break_it(&mut u);
            let err = desired_user(&u, &Policy::default()).unwrap_err();
            assert_eq!(err.code, code, "{err:?}");
            assert!(
                err.text.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }

    #[test]
    fn missing_mail_is_fine_unless_it_is_the_user_name_source() {
        let mut u = user();
        u.mail = None;
        assert_eq!(desired_user(&u, &Policy::default()).unwrap().email, None);
        let p = Policy {
            user_name_source: UserNameSource::Mail,
            ..Policy::default()
        };
        assert_eq!(
            desired_user(&u, &p).unwrap_err().code,
            ReasonCode::MissingUserName
        );
    }

    #[test]
    fn the_email_comes_from_mail_or_from_the_upn() {
        let mut u = user();
        u.mail = Some("jane@mail.example.com".into());
        u.user_principal_name = Some("jdoe@corp.example.com".into());
        assert_eq!(
            desired_user(&u, &Policy::default())
                .unwrap()
                .email
                .as_deref(),
            Some("jane@mail.example.com")
        );
        let p = Policy {
            email_source: EmailSource::UserPrincipalName,
            ..Policy::default()
        };
        assert_eq!(
            desired_user(&u, &p).unwrap().email.as_deref(),
            Some("jdoe@corp.example.com")
        );
    }

    #[test]
    fn group_names_are_trimmed_and_checked() {
        let g = DirectoryGroup {
            object_guid: "0b1f2c3d-0000-4000-8000-00000000000a".into(),
            object_sid: None,
            dn: "CN=aws-admins,OU=Groups".into(),
            name: " aws-admins ".into(),
            account_name: None,
            description: None,
            member_sids: vec![],
            members_partial: None,
        };
        assert_eq!(desired_group_name(&g).unwrap(), "aws-admins");
        let empty = DirectoryGroup {
            name: "  ".into(),
            ..g
        };
        assert!(desired_group_name(&empty).is_err());
    }
}

#[cfg(test)]
mod group_name_tests {
    use super::*;

    fn group(cn: &str, sam: Option<&str>) -> DirectoryGroup {
        DirectoryGroup {
            object_guid: "0b1f2c3d-0000-4000-8000-000000000009".into(),
            object_sid: None,
            dn: format!("CN={cn},OU=AWS,DC=x"),
            name: cn.into(),
            account_name: sam.map(str::to_string),
            description: None,
            member_sids: Vec::new(),
            members_partial: None,
        }
    }

    #[test]
    fn each_naming_makes_its_name() {
        use GroupDisplayName::*;
        let g = group("AWS-Developers", Some("aws-dev"));
        assert_eq!(group_display_name(&g, Cn, "aws-"), "AWS-Developers");
        assert_eq!(
            group_display_name(&g, CnWithoutPrefix, "aws-"),
            "Developers"
        );
        assert_eq!(group_display_name(&g, SamAccountName, "aws-"), "aws-dev");
        // Kept whole: no prefix configured, a name without it, a name that is only it.
        assert_eq!(
            group_display_name(&g, CnWithoutPrefix, ""),
            "AWS-Developers"
        );
        assert_eq!(
            group_display_name(&group("finance", None), CnWithoutPrefix, "aws-"),
            "finance"
        );
        assert_eq!(
            group_display_name(&group("aws-", None), CnWithoutPrefix, "aws-"),
            "aws-"
        );
        assert_eq!(
            group_display_name(&group("aws- x", None), CnWithoutPrefix, "aws-"),
            "x"
        );
        // No sAMAccountName: the cn.
        assert_eq!(
            group_display_name(&group("aws-ops", None), SamAccountName, ""),
            "aws-ops"
        );
        assert_eq!(
            desired_group_name_by(&g, CnWithoutPrefix, "aws-")
                .ok()
                .as_deref(),
            Some("Developers")
        );
    }
}
