//! The optional scope rules (`scope.syncGroups`, `scope.userFilter`, `scope.excludeGroups`,
//! `scope.groupSearchBases`), validated once for both sources, and the one place a [`Scope`]
//! is put together from them and the original's three parameters.

use crate::model::settings::{LdapFilter, Scope, ScopeRules};

use super::validate;

/// The scope keys of the optional settings, as written.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawScopeRules {
    pub sync_groups: Option<Vec<String>>,
    pub user_filter: Option<String>,
    pub exclude_groups: Option<Vec<String>>,
    pub group_search_bases: Option<Vec<String>>,
    pub group_name_prefix: Option<String>,
}

/// The scope rules after validation; [`ScopeOptions::scope`] adds the required values.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ScopeOptions {
    /// `scope.syncGroups` (trimmed, without repeats), or `None` for the default single group.
    pub sync_groups: Option<Vec<String>>,
    pub user_filter: Option<LdapFilter>,
    pub exclude_groups: Vec<String>,
    pub group_search_bases: Vec<String>,
    /// `scope.groupNamePrefix` (validated like the group prefix), `None` for the default.
    pub group_name_prefix: Option<String>,
}

/// A setting's name and what is wrong with it.
pub(crate) type Invalid = (&'static str, String);

impl RawScopeRules {
    pub(crate) fn resolve(self) -> Result<ScopeOptions, Invalid> {
        let sync_groups = match self.sync_groups {
            None => None,
            Some(list) => {
                let groups = names(list, "scope.syncGroups", "a sync group's name or DN")?;
                if groups.is_empty() {
                    return Err((
                        "scope.syncGroups",
                        "the list is empty: name at least one group, or leave syncGroups out to \
                         sync the members of AD-Group-Name (scope.syncGroup in a file)"
                            .into(),
                    ));
                }
                Some(groups)
            }
        };
        let user_filter = match self.user_filter {
            Some(f) if !f.trim().is_empty() => {
                Some(LdapFilter::parse(&f).map_err(|r| ("scope.userFilter", r))?)
            }
            _ => None,
        };
        let exclude_groups = names(
            self.exclude_groups.unwrap_or_default(),
            "scope.excludeGroups",
            "an exclusion group's name or DN",
        )?;
        let mut group_search_bases: Vec<String> = Vec::new();
        for raw in self.group_search_bases.unwrap_or_default() {
            let dn =
                validate::distinguished_name(&raw).map_err(|r| ("scope.groupSearchBases", r))?;
            if !group_search_bases
                .iter()
                .any(|b| b.eq_ignore_ascii_case(&dn))
            {
                group_search_bases.push(dn);
            }
        }
        let group_name_prefix = match self.group_name_prefix {
            Some(p) => Some(validate::group_prefix(&p).map_err(|r| ("scope.groupNamePrefix", r))?),
            None => None,
        };
        Ok(ScopeOptions {
            sync_groups,
            user_filter,
            exclude_groups,
            group_search_bases,
            group_name_prefix,
        })
    }
}

/// Names trimmed, none empty, repeats (ignoring case, as AD does) dropped.
fn names(list: Vec<String>, setting: &'static str, what: &str) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = Vec::new();
    for raw in list {
        let name = validate::non_empty(&raw, what).map_err(|r| (setting, r))?;
        if !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            out.push(name);
        }
    }
    Ok(out)
}

impl ScopeOptions {
    /// The prefix `cnWithoutPrefix` strips: `scope.groupNamePrefix`, else the group prefix
    /// that selects the groups (`AD-Group-Prefix`), the "technical prefix" people want gone.
    pub(crate) fn name_prefix(&self, group_prefix: &str) -> String {
        self.group_name_prefix
            .clone()
            .unwrap_or_else(|| group_prefix.to_string())
    }

    /// The scope: `scope.syncGroups` when set, else `default_sync_group` (the SSM parameter
    /// or the file's `scope.syncGroup`, already validated, `None` when absent); the search
    /// base and prefix as validated by the caller.
    pub(crate) fn scope(
        &self,
        default_sync_group: Option<String>,
        group_prefix: String,
        group_search_base: String,
        extra_domain_sids: Vec<String>,
    ) -> Result<Scope, Invalid> {
        let mut groups = match (&self.sync_groups, default_sync_group) {
            (Some(list), _) => list.clone(),
            (None, Some(one)) => vec![one],
            (None, None) => {
                return Err((
                    "scope.syncGroup",
                    "no sync group: give scope.syncGroup (or the list scope.syncGroups)".into(),
                ))
            }
        }
        .into_iter();
        let sync_group = groups.next().unwrap_or_default();
        let more_sync_groups: Vec<String> = groups.collect();
        for excluded in &self.exclude_groups {
            let clash = std::iter::once(&sync_group)
                .chain(&more_sync_groups)
                .any(|g| g.eq_ignore_ascii_case(excluded));
            if clash {
                return Err((
                    "scope.excludeGroups",
                    format!(
                        "{excluded:?} is a sync group too: its members would be both in and out \
                         of scope; remove it from one of the two lists"
                    ),
                ));
            }
        }
        let more_group_search_bases = self
            .group_search_bases
            .iter()
            .filter(|b| !b.eq_ignore_ascii_case(&group_search_base))
            .cloned()
            .collect();
        Ok(Scope {
            sync_group,
            group_prefix,
            group_search_base,
            extra_domain_sids,
            rules: ScopeRules {
                more_sync_groups,
                user_filter: self.user_filter.clone(),
                exclude_groups: self.exclude_groups.clone(),
                more_group_search_bases,
            },
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw() -> RawScopeRules {
        RawScopeRules::default()
    }

    fn scope(opts: &ScopeOptions) -> Result<Scope, Invalid> {
        opts.scope(
            Some("aws-sync-users".into()),
            "aws-".into(),
            "OU=AWS,DC=example,DC=com".into(),
            Vec::new(),
        )
    }

    #[test]
    fn without_rules_the_scope_is_the_originals() {
        let s = scope(&raw().resolve().unwrap()).unwrap();
        assert_eq!(s.sync_groups().collect::<Vec<_>>(), ["aws-sync-users"]);
        assert_eq!(
            s.group_search_bases().collect::<Vec<_>>(),
            ["OU=AWS,DC=example,DC=com"]
        );
        assert_eq!(s.rules, ScopeRules::default());
    }

    #[test]
    fn sync_groups_replace_the_default_group_and_are_deduplicated() {
        let opts = RawScopeRules {
            sync_groups: Some(vec![
                " aws-engineers ".into(),
                "CN=aws-finance,OU=AWS,DC=example,DC=com".into(),
                "AWS-Engineers".into(),
            ]),
            ..raw()
        }
        .resolve()
        .unwrap();
        let s = scope(&opts).unwrap();
        assert_eq!(
            s.sync_groups().collect::<Vec<_>>(),
            ["aws-engineers", "CN=aws-finance,OU=AWS,DC=example,DC=com"]
        );
        // Without any default, syncGroups alone is enough.
        let s = opts
            .scope(None, String::new(), "DC=x".into(), Vec::new())
            .unwrap();
        assert_eq!(s.sync_group, "aws-engineers");
        let err = ScopeOptions::default()
            .scope(None, String::new(), "DC=x".into(), Vec::new())
            .unwrap_err();
        assert_eq!(err.0, "scope.syncGroup");
    }

    #[test]
    fn empty_lists_and_names_are_refused() {
        let err = RawScopeRules {
            sync_groups: Some(vec![]),
            ..raw()
        }
        .resolve()
        .unwrap_err();
        assert_eq!(err.0, "scope.syncGroups");
        assert!(err.1.contains("AD-Group-Name"));
        let err = RawScopeRules {
            exclude_groups: Some(vec!["ok".into(), "  ".into()]),
            ..raw()
        }
        .resolve()
        .unwrap_err();
        assert_eq!(err.0, "scope.excludeGroups");
        let err = RawScopeRules {
            group_search_bases: Some(vec!["Engineering".into()]),
            ..raw()
        }
        .resolve()
        .unwrap_err();
        assert_eq!(err.0, "scope.groupSearchBases");
        assert!(err.1.contains("distinguished name"));
    }

    #[test]
    fn the_user_filter_is_checked_when_the_settings_load() {
        let opts = RawScopeRules {
            user_filter: Some(" (employeeType=Staff) ".into()),
            ..raw()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            opts.user_filter.as_ref().map(LdapFilter::as_str),
            Some("(employeeType=Staff)")
        );
        let err = RawScopeRules {
            user_filter: Some("(employeeType=Staff".into()),
            ..raw()
        }
        .resolve()
        .unwrap_err();
        assert_eq!(err.0, "scope.userFilter");
        assert!(err.1.contains("not closed"), "{}", err.1);
        let blank = RawScopeRules {
            user_filter: Some("  ".into()),
            ..raw()
        }
        .resolve()
        .unwrap();
        assert!(blank.user_filter.is_none());
    }

    #[test]
    fn a_group_both_synced_and_excluded_is_refused() {
        let opts = RawScopeRules {
            exclude_groups: Some(vec!["AWS-Sync-Users".into()]),
            ..raw()
        }
        .resolve()
        .unwrap();
        let err = scope(&opts).unwrap_err();
        assert_eq!(err.0, "scope.excludeGroups");
        assert!(err.1.contains("sync group too"));
    }

    #[test]
    fn extra_search_bases_sit_beside_the_ssm_one() {
        let opts = RawScopeRules {
            group_search_bases: Some(vec![
                "OU=Teams,DC=example,DC=com".into(),
                "ou=aws,dc=example,dc=com".into(),
                "OU=Teams,DC=example,DC=com".into(),
            ]),
            ..raw()
        }
        .resolve()
        .unwrap();
        let s = scope(&opts).unwrap();
        assert_eq!(
            s.group_search_bases().collect::<Vec<_>>(),
            ["OU=AWS,DC=example,DC=com", "OU=Teams,DC=example,DC=com"]
        );
    }
}
