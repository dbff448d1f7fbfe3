//! The optional settings: one schema, used both for the `[policy]`, `[guard]`, `[ldap]`,
//! `[scim]` and `[run]` sections of a `--config` file and for the optional SSM parameter
//! `<path>/Sync-Settings` (TOML or JSON). Unknown keys are errors, so a misspelt safety
//! setting never silently falls back to its default.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::error::ConfigError;
use super::scope::{RawScopeRules, ScopeOptions};
use super::settings::{defaults, RunConfig};
use crate::model::settings::{
    AnchorAttribute, DirectoryProfile, GroupDisplayName, GuardSettings, OpenLdapProfile,
    ScimClientConfig, ScimEndpoint,
};
use crate::model::settings::{
    AttributeMapping, EmailSource, OutOfScopeAction, Policy, UserAttribute, UserNameSource,
};
use crate::secret::Secret;

/// Every optional section; absent keys keep their defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct OptionalSettings {
    #[serde(default)]
    pub policy: PolicySection,
    #[serde(default)]
    pub guard: GuardSection,
    #[serde(default)]
    pub ldap: LdapSection,
    #[serde(default)]
    pub scim: ScimSection,
    #[serde(default)]
    pub run: RunSection,
    #[serde(default)]
    pub scope: ScopeSection,
    #[serde(default)]
    pub directory: DirectorySection,
    /// Identity Center attribute → directory attribute (`""`: unmanaged); merged onto the
    /// defaults.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// The optional scope keys (the required ones are SSM parameters, or the file's `[scope]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ScopeSection {
    pub extra_domain_sids: Option<Vec<String>>,
    pub sync_groups: Option<Vec<String>>,
    pub user_filter: Option<String>,
    pub exclude_groups: Option<Vec<String>>,
    pub group_search_bases: Option<Vec<String>>,
    pub group_display_name: Option<GroupDisplayName>,
    pub group_name_prefix: Option<String>,
}

/// Which kind of directory is read (`directory.profile` and the `openldap` profile's keys).
/// In a `--config` file these keys sit in its `[directory]` table with the source's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct DirectorySection {
    pub profile: Option<ProfileName>,
    pub anchor_attribute: Option<AnchorAttribute>,
    pub directory_id: Option<String>,
    pub max_nesting_depth: Option<u32>,
}

/// The values of `directory.profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum ProfileName {
    #[serde(rename = "activeDirectory")]
    ActiveDirectory,
    #[serde(rename = "openldap")]
    OpenLdap,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PolicySection {
    pub out_of_scope_users: Option<OutOfScopeAction>,
    pub adopt_groups_by_name: Option<bool>,
    pub delete_groups_out_of_scope: Option<bool>,
    pub user_name_source: Option<UserNameSource>,
    pub email_source: Option<EmailSource>,
    pub exclude_sync_group: Option<bool>,
    pub lowercase_user_names: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GuardSection {
    pub max_destructive_share: Option<f64>,
    pub max_destructive_count: Option<u64>,
    pub allow_mass_changes: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LdapSection {
    pub start_tls: Option<bool>,
    pub allow_plain_ldap: Option<bool>,
    pub base_dn: Option<String>,
    pub page_size: Option<u32>,
    pub connect_timeout_seconds: Option<u64>,
    pub operation_timeout_seconds: Option<u64>,
    pub range_window: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ScimSection {
    pub concurrency: Option<usize>,
    pub rate_limit_per_second: Option<u32>,
    pub max_rate: Option<u32>,
    pub max_attempts: Option<u32>,
    pub request_timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RunSection {
    pub dry_run: Option<bool>,
    pub deadline_margin_seconds: Option<u64>,
    pub state_file: Option<String>,
}

/// LDAP tuning after defaults and range checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LdapTuning {
    pub start_tls: bool,
    pub allow_plain_ldap: bool,
    pub base_dn: Option<String>,
    pub page_size: u32,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub range_window: u32,
}

/// SCIM tuning after defaults and range checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScimTuning {
    pub concurrency: usize,
    pub rate_limit_per_sec: u32,
    pub max_rate_per_sec: u32,
    pub max_attempts: u32,
    pub request_timeout: Duration,
}

impl ScimTuning {
    /// The SCIM client's settings: the one place both sources (SSM and the file) build them.
    pub(crate) fn into_settings(
        self,
        endpoint: ScimEndpoint,
        token: Secret,
        token_secret_id: Option<String>,
        token_origin: Option<String>,
    ) -> ScimClientConfig {
        ScimClientConfig {
            token_secret_id,
            token_origin,
            concurrency: self.concurrency,
            rate_limit_per_sec: self.rate_limit_per_sec,
            max_rate_per_sec: self.max_rate_per_sec,
            max_attempts: self.max_attempts,
            request_timeout: self.request_timeout,
            ..ScimClientConfig::with_endpoint(endpoint, token)
        }
    }
}

/// The optional settings with defaults applied and ranges checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    /// Domains besides the directory's own whose accounts are ours (validated, deduplicated).
    pub extra_domain_sids: Vec<String>,
    /// The optional scope rules; [`ScopeOptions::scope`] makes the `Scope`.
    pub scope: ScopeOptions,
    pub profile: DirectoryProfile,
    pub policy: Policy,
    pub guard: GuardSettings,
    pub ldap: LdapTuning,
    pub scim: ScimTuning,
    pub run: RunConfig,
}

/// Parses the SSM `Sync-Settings` document: JSON when it starts with `{`, TOML otherwise.
pub(crate) fn parse_document(text: &str, origin: &str) -> Result<OptionalSettings, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidParameter {
        name: origin.to_string(),
        reason: format!("{reason}; see docs/configuration.md for the keys"),
    };
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| invalid(format!("not a valid settings JSON document: {e}")))
    } else {
        toml::from_str(text).map_err(|e| {
            invalid(format!(
                "not a valid settings TOML document: {}",
                toml_reason(&e, text)
            ))
        })
    }
}

/// A TOML error as "message (line N)": the span is turned into a line number instead of the
/// default rendering, which quotes the offending source line (that line could hold an
/// inline secret in a `--config` file).
pub(crate) fn toml_reason(err: &toml::de::Error, text: &str) -> String {
    let message = err.message().trim_end();
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{message} (line {line})")
        }
        None => message.to_string(),
    }
}

impl OptionalSettings {
    /// Applies the defaults and range checks; `origin` names the file or parameter in errors.
    pub(crate) fn resolve(self, origin: &str) -> Result<Resolved, ConfigError> {
        let bad = |setting: &str, reason: String| ConfigError::InvalidSetting {
            origin: origin.to_string(),
            setting: setting.to_string(),
            reason,
        };
        let profile = directory_profile(self.directory).map_err(|(key, r)| bad(&key, r))?;
        let openldap = matches!(profile, DirectoryProfile::OpenLdap(_));
        let p = self.policy;
        let base = Policy::default();
        check_profile_policy(openldap, &p).map_err(|(key, r)| bad(&key, r))?;
        let policy = Policy {
            out_of_scope_users: p.out_of_scope_users.unwrap_or(base.out_of_scope_users),
            adopt_groups_by_name: p.adopt_groups_by_name.unwrap_or(base.adopt_groups_by_name),
            delete_groups_out_of_scope: p
                .delete_groups_out_of_scope
                .unwrap_or(base.delete_groups_out_of_scope),
            user_name_source: p.user_name_source.unwrap_or(if openldap {
                UserNameSource::Uid
            } else {
                base.user_name_source
            }),
            email_source: p.email_source.unwrap_or(base.email_source),
            exclude_sync_group: p.exclude_sync_group.unwrap_or(base.exclude_sync_group),
            lowercase_user_names: p.lowercase_user_names.unwrap_or(base.lowercase_user_names),
            attributes: attribute_mapping(&self.attributes, openldap)
                .map_err(|(key, r)| bad(&key, r))?,
            group_display_name: self.scope.group_display_name.unwrap_or_default(),
            // Set with the scope, once the group prefix is known (ScopeOptions::name_prefix).
            group_name_prefix: String::new(),
        };

        let g = self.guard;
        let share = g
            .max_destructive_share
            .unwrap_or(defaults::MAX_DESTRUCTIVE_SHARE);
        if !(0.0..=1.0).contains(&share) {
            return Err(bad(
                "guard.maxDestructiveShare",
                format!("{share} is not a share between 0.0 and 1.0 (0.10 means 10 %)"),
            ));
        }
        let guard = GuardSettings {
            max_destructive_share: share,
            max_destructive_count: g
                .max_destructive_count
                .unwrap_or(defaults::MAX_DESTRUCTIVE_COUNT),
            allow_mass_changes: g.allow_mass_changes.unwrap_or(false),
        };

        let l = self.ldap;
        let base_dn = match l.base_dn {
            Some(dn) => {
                Some(super::validate::distinguished_name(&dn).map_err(|r| bad("ldap.baseDn", r))?)
            }
            None => None,
        };
        let ldap = LdapTuning {
            start_tls: l.start_tls.unwrap_or(false),
            allow_plain_ldap: l.allow_plain_ldap.unwrap_or(false),
            base_dn,
            page_size: in_range(l.page_size, defaults::LDAP_PAGE_SIZE, 1, 10_000)
                .map_err(|r| bad("ldap.pageSize", r))?,
            connect_timeout: seconds(
                l.connect_timeout_seconds,
                defaults::LDAP_CONNECT_TIMEOUT,
                1,
                300,
            )
            .map_err(|r| bad("ldap.connectTimeoutSeconds", r))?,
            operation_timeout: seconds(
                l.operation_timeout_seconds,
                defaults::LDAP_OPERATION_TIMEOUT,
                1,
                900,
            )
            .map_err(|r| bad("ldap.operationTimeoutSeconds", r))?,
            range_window: in_range(l.range_window, defaults::LDAP_RANGE_WINDOW, 1, 100_000)
                .map_err(|r| bad("ldap.rangeWindow", r))?,
        };

        let s = self.scim;
        let rate_limit_per_sec = in_range(
            s.rate_limit_per_second,
            defaults::SCIM_RATE_LIMIT_PER_SEC,
            1,
            1000,
        )
        .map_err(|r| bad("scim.rateLimitPerSecond", r))?;
        let max_rate_per_sec = in_range(s.max_rate, defaults::SCIM_MAX_RATE, 1, 10_000)
            .map_err(|r| bad("scim.maxRate", r))?;
        if max_rate_per_sec < rate_limit_per_sec {
            return Err(bad(
                "scim.maxRate",
                format!(
                    "{max_rate_per_sec} is below scim.rateLimitPerSecond ({rate_limit_per_sec}), \
                     the rate the client starts at; raise maxRate or lower rateLimitPerSecond"
                ),
            ));
        }
        let scim = ScimTuning {
            concurrency: in_range(s.concurrency, defaults::SCIM_CONCURRENCY, 1, 64)
                .map_err(|r| bad("scim.concurrency", r))?,
            rate_limit_per_sec,
            max_rate_per_sec,
            max_attempts: in_range(s.max_attempts, defaults::SCIM_MAX_ATTEMPTS, 1, 20)
                .map_err(|r| bad("scim.maxAttempts", r))?,
            request_timeout: seconds(
                s.request_timeout_seconds,
                defaults::SCIM_REQUEST_TIMEOUT,
                1,
                300,
            )
            .map_err(|r| bad("scim.requestTimeoutSeconds", r))?,
        };

        let r = self.run;
        let run = RunConfig {
            dry_run: r.dry_run.unwrap_or(false),
            deadline_margin: seconds(r.deadline_margin_seconds, defaults::DEADLINE_MARGIN, 0, 600)
                .map_err(|r| bad("run.deadlineMarginSeconds", r))?,
            state_file: match r.state_file.as_deref().map(str::trim) {
                None => None,
                Some("") => return Err(bad("run.stateFile", "is empty".to_string())),
                Some(p) => Some(std::path::PathBuf::from(p)),
            },
        };

        let scope = RawScopeRules {
            sync_groups: self.scope.sync_groups,
            user_filter: self.scope.user_filter,
            exclude_groups: self.scope.exclude_groups,
            group_search_bases: self.scope.group_search_bases,
            group_name_prefix: self.scope.group_name_prefix,
        }
        .resolve()
        .map_err(|(setting, r)| bad(setting, r))?;
        let mut extra_domain_sids = Vec::new();
        for raw in self.scope.extra_domain_sids.unwrap_or_default() {
            let sid =
                super::validate::domain_sid(&raw).map_err(|r| bad("scope.extraDomainSids", r))?;
            if !extra_domain_sids.contains(&sid) {
                extra_domain_sids.push(sid);
            }
        }

        // The openldap reader has no sAMAccountName: refused here, once, rather than every
        // group silently named by its cn (and renamed should the profile change back).
        if openldap && policy.group_display_name == GroupDisplayName::SamAccountName {
            return Err(bad(
                "scope.groupDisplayName",
                "sAMAccountName is an Active Directory attribute, which the openldap profile \
                 does not read; use cn (the default) or cnWithoutPrefix (cn without \
                 scope.groupNamePrefix)"
                    .into(),
            ));
        }
        if openldap && !extra_domain_sids.is_empty() {
            return Err(bad(
                "scope.extraDomainSids",
                "names Active Directory domains; the openldap profile's users are this \
                 directory's by its identity (directory.directoryId)"
                    .into(),
            ));
        }

        Ok(Resolved {
            extra_domain_sids,
            scope,
            profile,
            policy,
            guard,
            ldap,
            scim,
            run,
        })
    }
}

/// The `attributes` setting onto its defaults: every key must be an attribute scim-sync can
/// manage, every value a directory attribute name (or `""` to leave it unmanaged).
fn attribute_mapping(
    raw: &BTreeMap<String, String>,
    openldap: bool,
) -> Result<AttributeMapping, (String, String)> {
    let mut mapping = if openldap {
        AttributeMapping::openldap_default()
    } else {
        AttributeMapping::default()
    };
    for (key, source) in raw {
        let setting = format!("attributes.{key}");
        let Some(target) = UserAttribute::from_key(key.trim()) else {
            let known: Vec<&str> = UserAttribute::ALL.iter().map(|a| a.key()).collect();
            return Err((
                setting,
                format!(
                    "not an Identity Center attribute scim-sync manages; use one of {}",
                    known.join(", ")
                ),
            ));
        };
        let source = source.trim();
        if !source.is_empty() && !is_attribute_name(source) {
            return Err((
                setting,
                format!(
                    "{source:?} is not a directory attribute name (letters, digits and '-', \
                     starting with a letter, e.g. employeeID), nor \"\" to leave it unmanaged"
                ),
            ));
        }
        mapping.set(target, source);
    }
    Ok(mapping)
}

/// `directory.profile` and the keys that only the `openldap` profile takes.
fn directory_profile(d: DirectorySection) -> Result<DirectoryProfile, (String, String)> {
    let only_openldap = |key: &str| {
        (
            format!("directory.{key}"),
            "is a setting of the openldap profile; set directory.profile = \"openldap\" or \
             remove it"
                .to_string(),
        )
    };
    match d.profile.unwrap_or(ProfileName::ActiveDirectory) {
        ProfileName::ActiveDirectory => {
            if d.anchor_attribute.is_some() {
                return Err(only_openldap("anchorAttribute"));
            }
            if d.directory_id.is_some() {
                return Err(only_openldap("directoryId"));
            }
            if d.max_nesting_depth.is_some() {
                return Err(only_openldap("maxNestingDepth"));
            }
            Ok(DirectoryProfile::ActiveDirectory)
        }
        ProfileName::OpenLdap => {
            let base = OpenLdapProfile::default();
            let directory_id = match d.directory_id {
                None => None,
                Some(raw) => {
                    let id = raw.trim().to_ascii_lowercase();
                    let ok = !id.is_empty()
                        && id.len() <= 64
                        && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
                    if !ok {
                        return Err((
                            "directory.directoryId".into(),
                            format!(
                                "{raw:?} is not an entryUUID or nsUniqueId (hexadecimal digits \
                                 and dashes, at most 64): give the value of the naming context \
                                 entry's anchor attribute"
                            ),
                        ));
                    }
                    Some(id)
                }
            };
            let max_nesting_depth = in_range(d.max_nesting_depth, base.max_nesting_depth, 1, 1000)
                .map_err(|r| ("directory.maxNestingDepth".to_string(), r))?;
            Ok(DirectoryProfile::OpenLdap(OpenLdapProfile {
                anchor: d.anchor_attribute.unwrap_or(base.anchor),
                directory_id,
                max_nesting_depth,
            }))
        }
    }
}

/// The policy choices a profile cannot serve: Active Directory names no `uid`, the openldap
/// profile reads no userPrincipalName or sAMAccountName.
fn check_profile_policy(openldap: bool, p: &PolicySection) -> Result<(), (String, String)> {
    match (openldap, p.user_name_source) {
        (true, Some(UserNameSource::UserPrincipalName | UserNameSource::SamAccountName)) => {
            return Err((
                "policy.userNameSource".into(),
                "the openldap profile reads no userPrincipalName or sAMAccountName; use uid (the \
                 default there) or mail"
                    .into(),
            ))
        }
        (false, Some(UserNameSource::Uid)) => {
            return Err((
                "policy.userNameSource".into(),
                "uid is the openldap profile's; with Active Directory use userPrincipalName, \
                 mail or sAMAccountName"
                    .into(),
            ))
        }
        _ => {}
    }
    if openldap && p.email_source == Some(EmailSource::UserPrincipalName) {
        return Err((
            "policy.emailSource".into(),
            "the openldap profile reads no userPrincipalName; use mail".into(),
        ));
    }
    Ok(())
}

/// An LDAP attribute description without options (RFC 4512 `descr`, or a numeric OID).
fn is_attribute_name(name: &str) -> bool {
    let descr = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = name
        .split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    name.len() <= 128 && (descr || oid)
}

fn in_range<T: PartialOrd + Copy + std::fmt::Display>(
    value: Option<T>,
    default: T,
    min: T,
    max: T,
) -> Result<T, String> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(format!("{v} is outside the allowed range {min}..={max}"));
    }
    Ok(v)
}

fn seconds(value: Option<u64>, default: Duration, min: u64, max: u64) -> Result<Duration, String> {
    match value {
        None => Ok(default),
        Some(v) => in_range(Some(v), v, min, max).map(Duration::from_secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_toml(text: &str) -> Result<Resolved, ConfigError> {
        parse_document(text, "/IAM-IDC/Sync-Settings")?.resolve("/IAM-IDC/Sync-Settings")
    }

    #[test]
    fn an_empty_document_gives_the_documented_defaults() {
        let r = resolve_toml("").unwrap();
        assert_eq!(r.policy, Policy::default());
        assert_eq!(
            r.guard,
            GuardSettings {
                max_destructive_share: 0.10,
                max_destructive_count: 50,
                allow_mass_changes: false
            }
        );
        assert_eq!(
            r.run,
            RunConfig {
                dry_run: false,
                deadline_margin: Duration::from_secs(30),
                state_file: None,
            }
        );
        assert_eq!(r.ldap.page_size, 1000);
        assert_eq!(r.ldap.range_window, 1500);
        assert!(!r.ldap.start_tls && !r.ldap.allow_plain_ldap && r.ldap.base_dn.is_none());
        assert_eq!(r.ldap.connect_timeout, Duration::from_secs(10));
        assert_eq!(r.ldap.operation_timeout, Duration::from_secs(60));
        assert_eq!(
            r.scim,
            ScimTuning {
                concurrency: 8,
                rate_limit_per_sec: 20,
                max_rate_per_sec: 500,
                max_attempts: 5,
                request_timeout: Duration::from_secs(30)
            }
        );
    }

    #[test]
    fn max_rate_is_checked_against_the_starting_rate() {
        let r = resolve_toml("[scim]\nmaxRate = 40\n").unwrap();
        assert_eq!(r.scim.max_rate_per_sec, 40);
        let err = resolve_toml("[scim]\nmaxRate = 10\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scim.maxRate") && err.contains("rateLimitPerSecond"),
            "{err}"
        );
        let err = resolve_toml("[scim]\nmaxRate = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("1..=10000"), "{err}");
    }

    #[test]
    fn toml_and_json_documents_set_the_same_values() {
        let toml_doc = r#"
            [policy]
            outOfScopeUsers = "delete"
            userNameSource = "samAccountName"
            lowercaseUserNames = true
            [guard]
            maxDestructiveShare = 0.5
            allowMassChanges = true
            [scim]
            concurrency = 2
            [run]
            dryRun = true
            deadlineMarginSeconds = 45
        "#;
        let json_doc = r#" {"policy": {"outOfScopeUsers": "delete", "userNameSource": "samAccountName",
            "lowercaseUserNames": true}, "guard": {"maxDestructiveShare": 0.5, "allowMassChanges": true},
            "scim": {"concurrency": 2}, "run": {"dryRun": true, "deadlineMarginSeconds": 45}} "#;
        let a = resolve_toml(toml_doc).unwrap();
        let b = resolve_toml(json_doc).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.policy.out_of_scope_users, OutOfScopeAction::Delete);
        assert_eq!(a.policy.user_name_source, UserNameSource::SamAccountName);
        assert!(a.policy.lowercase_user_names && a.guard.allow_mass_changes && a.run.dry_run);
        assert_eq!(a.guard.max_destructive_share, 0.5);
        assert_eq!(a.scim.concurrency, 2);
        assert_eq!(a.run.deadline_margin, Duration::from_secs(45));
    }

    #[test]
    fn attributes_in_toml_and_json_map_the_same_way() {
        let a = resolve_toml(
            "[attributes]\n\"enterprise.manager\" = \"manager\"\n\"enterprise.organization\" = \"\"\n",
        )
        .unwrap();
        let b = resolve_toml(
            r#"{"attributes": {"enterprise.manager": "manager", "enterprise.organization": ""}}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        let m = &a.policy.attributes;
        assert_eq!(m.source(UserAttribute::Manager), Some("manager"));
        assert!(!m.is_managed(UserAttribute::Organization));
        assert_eq!(m.source(UserAttribute::Title), Some("title"));
        let err = resolve_toml("[attributes]\nmobile = \"mobile\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("attributes.mobile") && err.contains("phoneNumbers.work"),
            "{err}"
        );
    }

    #[test]
    fn the_directory_profile_reads_the_same_in_toml_and_json() {
        let a =
            resolve_toml("[directory]\nprofile = \"openldap\"\nanchorAttribute = \"nsUniqueId\"\n")
                .unwrap();
        let b = resolve_toml(
            r#"{"directory": {"profile": "openldap", "anchorAttribute": "nsUniqueId"}}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.profile,
            DirectoryProfile::OpenLdap(OpenLdapProfile {
                anchor: AnchorAttribute::NsUniqueId,
                ..OpenLdapProfile::default()
            })
        );
        assert_eq!(a.policy.user_name_source, UserNameSource::Uid);
        let ad = resolve_toml("").unwrap();
        assert_eq!(ad.profile, DirectoryProfile::ActiveDirectory);
        assert_eq!(ad.policy.attributes, AttributeMapping::default());
        let err = resolve_toml(
            "[directory]\nprofile = \"openldap\"\n[policy]\nemailSource = \"userPrincipalName\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("policy.emailSource"), "{err}");
        let err = resolve_toml("[directory]\nmaxNestingDepth = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("directory.maxNestingDepth"), "{err}");
    }

    #[test]
    fn a_misspelt_key_is_an_error_naming_it() {
        let err = resolve_toml("[guard]\nmaxDestructiveShares = 0.5\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/IAM-IDC/Sync-Settings") && err.contains("maxDestructiveShares"),
            "{err}"
        );
        assert!(err.contains("line 2"), "{err}");
        let err = resolve_toml(r#"{"polcy": {}}"#).unwrap_err().to_string();
        assert!(err.contains("polcy"), "{err}");
    }

    #[test]
    fn out_of_range_values_name_the_setting() {
        let err = resolve_toml("[guard]\nmaxDestructiveShare = 10\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("guard.maxDestructiveShare"), "{err}");
        let err = resolve_toml("[scim]\nconcurrency = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scim.concurrency") && err.contains("1..=64"),
            "{err}"
        );
        let err = resolve_toml("[policy]\noutOfScopeUsers = \"remove\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("remove"), "{err}");
    }

    #[test]
    fn extra_domain_sids_are_validated_canonicalised_and_deduplicated() {
        assert!(resolve_toml("").unwrap().extra_domain_sids.is_empty());
        let r = resolve_toml(
            "[scope]\nextraDomainSids = [\"s-1-5-21-1-2-3\", \" S-1-5-21-1-2-3 \", \"S-1-5-21-4-5-6\"]\n",
        )
        .unwrap();
        assert_eq!(r.extra_domain_sids, ["S-1-5-21-1-2-3", "S-1-5-21-4-5-6"]);
        let json = parse_document(
            r#"{"scope": {"extraDomainSids": ["S-1-5-21-7-8-9"]}}"#,
            "/IAM-IDC/Sync-Settings",
        )
        .unwrap()
        .resolve("/IAM-IDC/Sync-Settings")
        .unwrap();
        assert_eq!(json.extra_domain_sids, ["S-1-5-21-7-8-9"]);
        for bad in [
            "S-1-5-21-1-2-3-1104",
            "S-1-5-32",
            "domain",
            "S-1-5-21-1-2-x",
        ] {
            let err = resolve_toml(&format!("[scope]\nextraDomainSids = [\"{bad}\"]\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("scope.extraDomainSids") && err.contains("not a domain SID"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_scope_rules_come_from_the_settings_document_too() {
        let r = resolve_toml(
            r#"{"scope": {"syncGroups": ["a", "b"], "userFilter": "(employeeType=Staff)",
                "excludeGroups": ["x"], "groupSearchBases": ["OU=T,DC=x"]}}"#,
        )
        .unwrap();
        assert_eq!(
            r.scope.sync_groups,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(r.scope.exclude_groups, ["x"]);
        assert_eq!(r.scope.group_search_bases, ["OU=T,DC=x"]);
        let err = resolve_toml(r#"{"scope": {"userFilter": "employeeType=Staff"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scope.userFilter") && err.contains("parentheses"),
            "{err}"
        );
        let err = resolve_toml(r#"{"scope": {"syncGroup": "a"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("syncGroup"), "{err}");
    }

    #[test]
    fn the_openldap_profile_refuses_group_names_from_sam_account_name() {
        for doc in [
            "[directory]\nprofile = \"openldap\"\n[scope]\ngroupDisplayName = \"sAMAccountName\"\n",
            r#"{"directory": {"profile": "openldap"}, "scope": {"groupDisplayName": "sAMAccountName"}}"#,
        ] {
            let err = resolve_toml(doc).unwrap_err().to_string();
            assert!(
                err.contains("/IAM-IDC/Sync-Settings")
                    && err.contains("scope.groupDisplayName")
                    && err.contains("openldap")
                    && err.contains("cnWithoutPrefix"),
                "{err}"
            );
        }
        for naming in ["cn", "cnWithoutPrefix"] {
            let doc = format!(
                r#"{{"directory": {{"profile": "openldap"}}, "scope": {{"groupDisplayName": "{naming}"}}}}"#
            );
            assert_eq!(
                resolve_toml(&doc).unwrap().policy.group_display_name.key(),
                naming
            );
        }
        // Active Directory keeps all three.
        let r = resolve_toml(r#"{"scope": {"groupDisplayName": "sAMAccountName"}}"#).unwrap();
        assert_eq!(
            r.policy.group_display_name,
            GroupDisplayName::SamAccountName
        );
    }

    #[test]
    fn group_display_name_is_one_of_three() {
        let r = resolve_toml(r#"{"scope": {"groupDisplayName": "cnWithoutPrefix"}}"#).unwrap();
        assert_eq!(
            r.policy.group_display_name,
            GroupDisplayName::CnWithoutPrefix
        );
        let r = resolve_toml(r#"{"scope": {"groupDisplayName": "sAMAccountName"}}"#).unwrap();
        assert_eq!(
            r.policy.group_display_name,
            GroupDisplayName::SamAccountName
        );
        assert_eq!(
            resolve_toml("").unwrap().policy.group_display_name,
            GroupDisplayName::Cn
        );
        let err = resolve_toml(r#"{"scope": {"groupDisplayName": "name"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cnWithoutPrefix"), "{err}");
        let r = resolve_toml(r#"{"scope": {"groupNamePrefix": "grp_*"}}"#).unwrap();
        assert_eq!(r.scope.name_prefix("aws-"), "grp_");
        assert_eq!(resolve_toml("").unwrap().scope.name_prefix("aws-"), "aws-");
    }
}
