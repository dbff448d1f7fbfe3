//! Unit tests of the `--config` file parser (no network: secret ids are only recorded).

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::model::settings::OutOfScopeAction;

const LDIF_DEMO: &str = r#"
[directory]
source = "ldif"
path = "sample-directory.ldif"

[scope]
syncGroup = "aws-sync"
groupPrefix = "aws-*"
groupSearchBase = "OU=AWS,DC=example,DC=test"

[scim]
url = "http://127.0.0.1:8080/scim/v2"
tokenEnv = "SCIM_SYNC_TOKEN"
"#;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |key| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }
}

fn parse_ok(text: &str, env: &'static [(&'static str, &'static str)]) -> Pending {
    match parse(text, "test.toml", Path::new("/etc/scim-sync"), &env_of(env)) {
        Ok(p) => p,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn parse_err(text: &str, env: &'static [(&'static str, &'static str)]) -> String {
    match parse(text, "test.toml", Path::new("/etc/scim-sync"), &env_of(env)) {
        Ok(p) => panic!("expected an error, got {:?}", p.settings),
        Err(e) => e.to_string(),
    }
}

#[test]
fn ldif_demo_with_token_from_env_and_file_relative_path() {
    let p = parse_ok(LDIF_DEMO, &[("SCIM_SYNC_TOKEN", "demo-token")]);
    let s = p.settings;
    assert_eq!(
        s.directory,
        DirectorySource::Ldif {
            path: "/etc/scim-sync/sample-directory.ldif".into()
        }
    );
    assert_eq!(s.scope.group_prefix, "aws-");
    assert_eq!(s.scim.base_url.as_str(), "http://127.0.0.1:8080/scim/v2/");
    assert_eq!(s.scim.token.expose(), "demo-token");
    assert_eq!(s.scim.token_secret_id, None);
    assert!(p.token_secret_id.is_none() && p.credentials_secret_id.is_none());
    assert_eq!(s.scim.concurrency, 8);
    assert_eq!(s.guard.max_destructive_count, 50);
}

#[test]
fn a_missing_token_variable_is_named() {
    let err = parse_err(LDIF_DEMO, &[]);
    assert!(
        err.contains("environment variable SCIM_SYNC_TOKEN") && err.contains("scim.tokenEnv"),
        "{err}"
    );
}

#[test]
fn ldap_source_with_tuning_sections() {
    let text = r#"
        [directory]
        source = "ldap"
        url = "corp.example.com"
        bindDn = "svc-scim@corp.example.com"
        passwordEnv = "AD_PASSWORD"

        [scope]
        syncGroup = "aws-sync"
        groupPrefix = "AWS-"
        groupSearchBase = "OU=AWS,DC=corp,DC=example,DC=com"

        [scim]
        url = "https://scim.eu-west-1.amazonaws.com/t-1/scim/v2/"
        tokenSecretId = "prod/scim-token"
        concurrency = 4
        rateLimitPerSecond = 10

        [ldap]
        startTls = true
        pageSize = 500
        operationTimeoutSeconds = 90

        [policy]
        outOfScopeUsers = "ignore"

        [run]
        dryRun = true
    "#;
    let p = parse_ok(text, &[("AD_PASSWORD", "pw-from-env")]);
    assert_eq!(p.token_secret_id.as_deref(), Some("prod/scim-token"));
    let s = p.settings;
    let DirectorySource::Ldap(ldap) = &s.directory else {
        panic!("expected LDAP")
    };
    assert_eq!(
        ldap.url.as_str(),
        "ldap://corp.example.com:389",
        "an FQDN with startTls uses 389"
    );
    assert!(ldap.start_tls && !ldap.allow_plain_ldap);
    assert_eq!(ldap.bind_dn, "svc-scim@corp.example.com");
    assert_eq!(ldap.bind_password.expose(), "pw-from-env");
    assert_eq!(ldap.page_size, 500);
    assert_eq!(ldap.operation_timeout, Duration::from_secs(90));
    assert_eq!(ldap.connect_timeout, Duration::from_secs(10));
    assert_eq!(s.scim.concurrency, 4);
    assert_eq!(s.scim.rate_limit_per_sec, 10);
    assert_eq!(s.policy.out_of_scope_users, OutOfScopeAction::Ignore);
    assert!(s.run.dry_run);
}

#[test]
fn credentials_secret_id_replaces_bind_dn_and_password() {
    let text = LDIF_DEMO
        .replace("source = \"ldif\"\npath = \"sample-directory.ldif\"", "source = \"ldap\"\nurl = \"ldaps://dc1.example.test\"\ncredentialsSecretId = \"IAM-IDC/AD-RO-UserCreds\"");
    let p = parse_ok(&text, &[("SCIM_SYNC_TOKEN", "t")]);
    assert_eq!(
        p.credentials_secret_id.as_deref(),
        Some("IAM-IDC/AD-RO-UserCreds")
    );
    let with_dn = text.replace(
        "credentialsSecretId",
        "bindDn = \"x@y\"\ncredentialsSecretId",
    );
    assert!(parse_err(&with_dn, &[("SCIM_SYNC_TOKEN", "t")]).contains("remove bindDn"));
}

#[test]
fn exactly_one_token_source() {
    let two = LDIF_DEMO.replace(
        "tokenEnv = \"SCIM_SYNC_TOKEN\"",
        "tokenEnv = \"SCIM_SYNC_TOKEN\"\ntoken = \"x\"",
    );
    assert!(parse_err(&two, &[("SCIM_SYNC_TOKEN", "t")]).contains("exactly one of token"));
    let none = LDIF_DEMO.replace("tokenEnv = \"SCIM_SYNC_TOKEN\"", "");
    assert!(parse_err(&none, &[]).contains("scim.token"));
}

#[test]
fn snake_case_aliases_for_secret_sources_are_accepted() {
    let text = LDIF_DEMO.replace("tokenEnv", "token_env");
    assert_eq!(
        parse_ok(&text, &[("SCIM_SYNC_TOKEN", "t")])
            .settings
            .scim
            .token
            .expose(),
        "t"
    );
}

#[test]
fn ldap_only_keys_are_refused_for_ldif_and_vice_versa() {
    let text = LDIF_DEMO.replace("path = ", "url = \"ldaps://dc1\"\npath = ");
    assert!(parse_err(&text, &[("SCIM_SYNC_TOKEN", "t")]).contains("directory.url"));
    let text = LDIF_DEMO.replace("source = \"ldif\"", "source = \"ldap\"");
    assert!(
        parse_err(&text, &[("SCIM_SYNC_TOKEN", "t")]).contains("only applies to source = \"ldif\"")
    );
}

#[test]
fn plain_ldap_and_http_scim_are_refused_with_the_setting_named() {
    let text = LDIF_DEMO.replace(
        "source = \"ldif\"\npath = \"sample-directory.ldif\"",
        "source = \"ldap\"\nurl = \"ldap://dc1.example.test\"\nbindDn = \"cn=x\"\npassword = \"pw\"",
    );
    let err = parse_err(&text, &[("SCIM_SYNC_TOKEN", "t")]);
    assert!(
        err.contains("directory.url") && err.contains("unencrypted"),
        "{err}"
    );
    let allowed = format!("{text}\n[ldap]\nallowPlainLdap = true\n");
    assert!(parse(
        &allowed,
        "t",
        Path::new(""),
        &env_of(&[("SCIM_SYNC_TOKEN", "t")])
    )
    .is_ok());

    let text = LDIF_DEMO.replace("http://127.0.0.1:8080", "http://scim.example.com");
    let err = parse_err(&text, &[("SCIM_SYNC_TOKEN", "t")]);
    assert!(err.contains("scim.url") && err.contains("https"), "{err}");
}

#[test]
fn syntax_errors_give_a_line_but_never_quote_an_inline_secret() {
    let text = LDIF_DEMO.replace("tokenEnv = \"SCIM_SYNC_TOKEN\"", "token = \"hunter2-token");
    let err = parse_err(&text, &[]);
    assert!(
        err.contains("test.toml") && err.contains("line 13"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn unknown_keys_are_errors() {
    let text = format!("{LDIF_DEMO}\n[guard]\nallowMassChange = true\n");
    let err = parse_err(&text, &[("SCIM_SYNC_TOKEN", "t")]);
    assert!(err.contains("allowMassChange"), "{err}");
}

#[test]
fn debug_output_redacts_inline_secrets() {
    let text = LDIF_DEMO.replace(
        "source = \"ldif\"\npath = \"sample-directory.ldif\"",
        "source = \"ldap\"\nurl = \"ldaps://dc1.example.test\"\nbindDn = \"cn=x\"\npassword = \"hunter2-password\"",
    ).replace("tokenEnv = \"SCIM_SYNC_TOKEN\"", "token = \"hunter2-token\"");
    let s = parse_ok(&text, &[]).settings;
    let debug = format!("{s:?} {s:#?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("redacted"));
}

/// The shipped examples must stay loadable.
#[test]
fn shipped_examples_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, env) in [
        ("examples/local.toml", &[("SCIM_SYNC_TOKEN", "t")][..]),
        (
            "examples/config.example.toml",
            &[("SCIM_SYNC_LDAP_PASSWORD", "pw"), ("SCIM_SYNC_TOKEN", "t")][..],
        ),
    ] {
        let path = root.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let owned: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |key: &str| owned.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if let Err(e) = parse(&text, name, path.parent().unwrap_or(root), &lookup) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn extra_domain_sids_sit_in_the_file_s_scope_section() {
    let s = parse_ok(LDIF_DEMO, &[("SCIM_SYNC_TOKEN", "t")]).settings;
    assert!(s.scope.extra_domain_sids.is_empty());
    let text = LDIF_DEMO.replace(
        "groupSearchBase = \"OU=AWS,DC=example,DC=test\"",
        "groupSearchBase = \"OU=AWS,DC=example,DC=test\"\nextraDomainSids = [\"s-1-5-21-10-20-30\"]",
    );
    let s = parse_ok(&text, &[("SCIM_SYNC_TOKEN", "t")]).settings;
    assert_eq!(s.scope.extra_domain_sids, ["S-1-5-21-10-20-30"]);
    let bad = text.replace("s-1-5-21-10-20-30", "S-1-5-21-10-20-30-500");
    let err = parse_err(&bad, &[("SCIM_SYNC_TOKEN", "t")]);
    assert!(err.contains("scope.extraDomainSids"), "{err}");
}

#[test]
fn the_attributes_section_maps_onto_the_originals_defaults() {
    use crate::model::settings::UserAttribute;
    let p = parse_ok(LDIF_DEMO, &[("SCIM_SYNC_TOKEN", "t")]);
    let a = &p.settings.policy.attributes;
    assert_eq!(a.source(UserAttribute::Title), Some("title"));
    assert_eq!(a.source(UserAttribute::Department), Some("department"));
    assert_eq!(a.source(UserAttribute::Organization), Some("company"));
    assert_eq!(a.iter().count(), 3);

    let text = format!(
        "{LDIF_DEMO}\n[attributes]\n\"enterprise.employeeNumber\" = \"employeeID\"\n\
         \"phoneNumbers.work\" = \" telephoneNumber \"\ntitle = \"\"\n"
    );
    let p = parse_ok(&text, &[("SCIM_SYNC_TOKEN", "t")]);
    let a = &p.settings.policy.attributes;
    assert_eq!(a.source(UserAttribute::EmployeeNumber), Some("employeeID"));
    assert_eq!(a.source(UserAttribute::WorkPhone), Some("telephoneNumber"));
    assert!(!a.is_managed(UserAttribute::Title));
    assert!(a.is_managed(UserAttribute::Department));

    let err = parse_err(
        &format!("{LDIF_DEMO}\n[attributes]\n\"enterprise.manger\" = \"manager\"\n"),
        &[("SCIM_SYNC_TOKEN", "t")],
    );
    assert!(
        err.contains("attributes.enterprise.manger") && err.contains("enterprise.manager"),
        "{err}"
    );
    let err = parse_err(
        &format!("{LDIF_DEMO}\n[attributes]\ntitle = \"(title)\"\n"),
        &[("SCIM_SYNC_TOKEN", "t")],
    );
    assert!(
        err.contains("attributes.title") && err.contains("not a directory attribute name"),
        "{err}"
    );
}

#[test]
fn the_scope_rules_sit_in_the_file_s_scope_section() {
    let text = LDIF_DEMO.replace(
        "syncGroup = \"aws-sync\"\n",
        "syncGroups = [\"aws-engineers\", \"aws-finance\"]\nuserFilter = \"(employeeType=Staff)\"\n\
         excludeGroups = [\"no-aws\"]\ngroupSearchBases = [\"OU=Teams,DC=example,DC=test\"]\n",
    );
    let s = parse_ok(&text, &[("SCIM_SYNC_TOKEN", "t")]).settings.scope;
    assert_eq!(
        s.sync_groups().collect::<Vec<_>>(),
        ["aws-engineers", "aws-finance"]
    );
    assert_eq!(
        s.rules.user_filter.as_ref().map(|f| f.as_str()),
        Some("(employeeType=Staff)")
    );
    assert_eq!(s.rules.exclude_groups, ["no-aws"]);
    assert_eq!(
        s.group_search_bases().collect::<Vec<_>>(),
        ["OU=AWS,DC=example,DC=test", "OU=Teams,DC=example,DC=test"]
    );

    // Neither syncGroup nor syncGroups.
    let none = LDIF_DEMO.replace("syncGroup = \"aws-sync\"\n", "");
    let err = parse_err(&none, &[("SCIM_SYNC_TOKEN", "t")]);
    assert!(err.contains("scope.syncGroup"), "{err}");
    // A filter that does not parse names the setting and the place.
    let bad = text.replace("(employeeType=Staff)", "(&(employeeType=Staff)(title=x)");
    let err = parse_err(&bad, &[("SCIM_SYNC_TOKEN", "t")]);
    assert!(
        err.contains("scope.userFilter") && err.contains("not closed"),
        "{err}"
    );
    let both = text.replace("[\"no-aws\"]", "[\"AWS-Finance\"]");
    let err = parse_err(&both, &[("SCIM_SYNC_TOKEN", "t")]);
    assert!(err.contains("scope.excludeGroups"), "{err}");
}

#[test]
fn the_openldap_profile_is_chosen_in_the_directory_table_with_its_own_defaults() {
    use crate::model::settings::{
        AnchorAttribute, DirectoryProfile, OpenLdapProfile, UserAttribute, UserNameSource,
    };
    let env: &[(&str, &str)] = &[("SCIM_SYNC_TOKEN", "t")];
    let s = parse_ok(LDIF_DEMO, env).settings;
    assert_eq!(s.profile, DirectoryProfile::ActiveDirectory);
    assert_eq!(s.policy.user_name_source, UserNameSource::UserPrincipalName);

    let with = |extra: &str| {
        LDIF_DEMO.replace("source = \"ldif\"", &format!("source = \"ldif\"\n{extra}"))
    };
    let s = parse_ok(&with("profile = \"openldap\""), env).settings;
    assert_eq!(
        s.profile,
        DirectoryProfile::OpenLdap(OpenLdapProfile::default())
    );
    assert_eq!(s.policy.user_name_source, UserNameSource::Uid);
    assert_eq!(
        s.policy.attributes.source(UserAttribute::Department),
        Some("departmentNumber")
    );
    assert_eq!(
        s.policy.attributes.source(UserAttribute::Manager),
        Some("manager")
    );

    let s = parse_ok(
        &format!(
            "{}\n[policy]\nuserNameSource = \"mail\"\n[attributes]\n\"enterprise.manager\" = \"\"\n",
            with(
                "profile = \"openldap\"\nanchorAttribute = \"nsUniqueId\"\ndirectoryId = \
                 \"5E1A0000-00000000-00000000-00000001\"\nmaxNestingDepth = 5"
            )
        ),
        env,
    )
    .settings;
    assert_eq!(
        s.profile,
        DirectoryProfile::OpenLdap(OpenLdapProfile {
            anchor: AnchorAttribute::NsUniqueId,
            directory_id: Some("5e1a0000-00000000-00000000-00000001".into()),
            max_nesting_depth: 5,
        })
    );
    assert_eq!(s.policy.user_name_source, UserNameSource::Mail);
    assert!(!s.policy.attributes.is_managed(UserAttribute::Manager));

    for (extra, setting) in [
        (
            "profile = \"openLDAP\"",
            "expected `activeDirectory` or `openldap`",
        ),
        (
            "anchorAttribute = \"entryUUID\"",
            "directory.anchorAttribute",
        ),
        (
            "profile = \"openldap\"\ndirectoryId = \"not an id\"",
            "directory.directoryId",
        ),
        (
            "profile = \"openldap\"\nmaxNestingDepth = 0",
            "directory.maxNestingDepth",
        ),
    ] {
        let e = parse_err(&with(extra), env);
        assert!(e.contains(setting), "{extra}: {e}");
    }
    let e = parse_err(
        &format!(
            "{}\n[policy]\nuserNameSource = \"userPrincipalName\"\n",
            with("profile = \"openldap\"")
        ),
        env,
    );
    assert!(e.contains("policy.userNameSource"), "{e}");
    let e = parse_err(
        &format!("{LDIF_DEMO}\n[policy]\nuserNameSource = \"uid\"\n"),
        env,
    );
    assert!(e.contains("policy.userNameSource"), "{e}");
    let e = parse_err(
        &with("profile = \"openldap\"").replace(
            "groupSearchBase",
            "extraDomainSids = [\"S-1-5-21-1-2-3\"]\ngroupSearchBase",
        ),
        env,
    );
    assert!(e.contains("scope.extraDomainSids"), "{e}");
    // Group names from sAMAccountName: an Active Directory attribute the profile never reads.
    let e = parse_err(
        &with("profile = \"openldap\"").replace(
            "groupSearchBase",
            "groupDisplayName = \"sAMAccountName\"\ngroupSearchBase",
        ),
        env,
    );
    assert!(
        e.contains("scope.groupDisplayName") && e.contains("cnWithoutPrefix"),
        "{e}"
    );
}

#[test]
fn the_state_file_is_relative_to_the_configuration_file() {
    let text = format!("{LDIF_DEMO}\n[run]\nstateFile = \"state/watermarks.json\"\n");
    let p = parse_ok(&text, &[("SCIM_SYNC_TOKEN", "t")]);
    assert_eq!(
        p.settings.run.state_file.as_deref(),
        Some(Path::new("/etc/scim-sync/state/watermarks.json"))
    );
    let text = format!("{LDIF_DEMO}\n[run]\nstateFile = \"/var/lib/scim-sync/state.json\"\n");
    let p = parse_ok(&text, &[("SCIM_SYNC_TOKEN", "t")]);
    assert_eq!(
        p.settings.run.state_file.as_deref(),
        Some(Path::new("/var/lib/scim-sync/state.json"))
    );
    assert!(parse_ok(LDIF_DEMO, &[("SCIM_SYNC_TOKEN", "t")])
        .settings
        .run
        .state_file
        .is_none());
    let text = format!("{LDIF_DEMO}\n[run]\nstateFile = \" \"\n");
    assert!(parse_err(&text, &[("SCIM_SYNC_TOKEN", "t")]).contains("run.stateFile"));
}

#[test]
fn the_openldap_example_file_parses() {
    use crate::model::settings::DirectoryProfile;
    let text = include_str!("../../examples/openldap.toml");
    let env: &[(&str, &str)] = &[("SCIM_SYNC_TOKEN", "t"), ("SCIM_SYNC_LDAP_PASSWORD", "p")];
    // The CA file is read when the file is; here it is not beside the text.
    let text = text.replace("caBundleFile = \"ldap-ca.pem\"", "");
    let s = parse_ok(&text, env).settings;
    assert!(matches!(s.profile, DirectoryProfile::OpenLdap(_)));
}
