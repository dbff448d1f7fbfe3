//! The AWS configuration source against moto: SSM parameters and Secrets Manager secrets laid
//! out as the PowerShell sample's CloudFormation stack created them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;

use std::time::Duration;

use moto::Moto;
use scim_sync::config::{
    load_from_aws, load_from_file, reload_scim_token, AwsNames, ConfigError, DirectorySource,
    MissingKind, Settings,
};
use scim_sync::plan::{OutOfScopeAction, Policy};

const TOKEN: &str = "tok-4f1c2a7e9b-original";
const PASSWORD: &str = "pw-Hunter2-9d8c";
/// A real CA certificate (its key was discarded), since the loader parses the bundle.
const TEST_CA: &str = include_str!("fixtures/tls/test-ca.pem");

/// Names of this test's own, so tests can share one moto server.
fn names(test: &str) -> AwsNames {
    AwsNames {
        parameter_path: format!("/t-{test}/IAM-IDC/"),
        token_secret_id: format!("t-{test}/SCIM-API-Token"),
        ldap_secret_id: format!("t-{test}/AD-RO-UserCreds"),
    }
}

/// The sample's five parameters and two secrets, in the exact shapes its stack wrote
/// (`{"SCIM-API-Token": …}` and `{"userName": …, "userPassword": …}`).
async fn seed_powershell_style(moto: &Moto, n: &AwsNames) {
    let p = |leaf: &str| n.parameter(leaf);
    moto.put_parameter(&p("AD-Group-Name"), "AWS-Sync-Users")
        .await;
    moto.put_parameter(&p("AD-Group-Prefix"), "aws-*").await;
    moto.put_parameter(
        &p("AD-Search-Base"),
        "OU=AWS,OU=Groups,DC=corp,DC=example,DC=com",
    )
    .await;
    moto.put_parameter(
        &p("SCIM-URI"),
        "https://scim.us-east-2.amazonaws.com/Ab1Cd2Ef3-1234-5678/scim/v2/",
    )
    .await;
    moto.put_parameter(&p("Domain-Controller"), "corp.example.com")
        .await;
    moto.create_secret(
        &n.token_secret_id,
        &format!(r#"{{"SCIM-API-Token": "{TOKEN}"}}"#),
    )
    .await;
    moto.create_secret(
        &n.ldap_secret_id,
        &format!(r#"{{"userName": "svc-scim@corp.example.com", "userPassword": "{PASSWORD}"}}"#),
    )
    .await;
}

fn ldap(settings: &Settings) -> &scim_sync::model::settings::LdapSettings {
    match &settings.directory {
        DirectorySource::Ldap(l) => l,
        other => panic!("expected an LDAP source, got {other:?}"),
    }
}

#[tokio::test]
async fn a_powershell_style_deployment_loads_under_the_default_names() {
    let moto = Moto::start().await;
    let n = AwsNames::default();
    seed_powershell_style(&moto, &n).await;

    let s = load_from_aws(moto.sdk(), &n).await.unwrap();

    assert_eq!(s.scope.sync_group, "AWS-Sync-Users");
    assert_eq!(s.scope.group_prefix, "aws-");
    assert_eq!(
        s.scope.group_search_base,
        "OU=AWS,OU=Groups,DC=corp,DC=example,DC=com"
    );
    assert_eq!(
        s.scim.base_url.as_str(),
        "https://scim.us-east-2.amazonaws.com/Ab1Cd2Ef3-1234-5678/scim/v2/"
    );
    assert_eq!(s.scim.token.expose(), TOKEN);
    assert_eq!(
        s.scim.token_secret_id.as_deref(),
        Some("IAM-IDC/SCIM-API-Token")
    );
    let l = ldap(&s);
    assert_eq!(l.url.as_str(), "ldaps://corp.example.com:636");
    assert_eq!(l.bind_dn, "svc-scim@corp.example.com");
    assert_eq!(l.bind_password.expose(), PASSWORD);
    assert!(l.ca_bundle.is_none());
    // Everything the sample did not have takes its documented default (the prefix
    // cnWithoutPrefix would strip is the group prefix).
    assert_eq!(
        s.policy,
        Policy {
            group_name_prefix: s.scope.group_prefix.clone(),
            ..Policy::default()
        }
    );
    assert_eq!(
        (l.page_size, l.range_window, l.start_tls, l.allow_plain_ldap),
        (1000, Some(1500), false, false)
    );
    assert_eq!(
        (
            s.scim.concurrency,
            s.scim.rate_limit_per_sec,
            s.scim.max_rate_per_sec,
            s.scim.max_attempts
        ),
        (8, 20, 500, 5)
    );
    assert_eq!(
        (
            s.guard.max_destructive_share,
            s.guard.max_destructive_count,
            s.guard.allow_mass_changes
        ),
        (0.10, 50, false)
    );
    assert!(!s.run.dry_run);
    assert_eq!(s.run.deadline_margin, Duration::from_secs(30));
}

#[tokio::test]
async fn debug_of_loaded_settings_shows_neither_token_nor_password() {
    let moto = Moto::start().await;
    let n = names("debug");
    seed_powershell_style(&moto, &n).await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    let text = format!("{s:?}\n{s:#?}\n{:?}\n{:?}", s.scim, s.directory);
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains(PASSWORD), "password leaked: {text}");
    assert!(
        text.contains("svc-scim@corp.example.com"),
        "non-secret fields stay visible"
    );
}

#[tokio::test]
async fn every_missing_parameter_and_secret_is_listed_with_its_full_name() {
    let moto = Moto::start().await;
    let n = names("missing");
    moto.put_parameter(&n.parameter("AD-Group-Name"), "AWS-Sync-Users")
        .await;
    moto.put_parameter(
        &n.parameter("SCIM-URI"),
        "https://scim.example.com/x/scim/v2/",
    )
    .await;

    let err = load_from_aws(moto.sdk(), &n).await.unwrap_err();
    let ConfigError::Missing(items) = &err else {
        panic!("expected Missing, got {err}")
    };
    let listed: Vec<(MissingKind, &str)> =
        items.iter().map(|i| (i.kind, i.name.as_str())).collect();
    assert_eq!(
        listed,
        vec![
            (MissingKind::Parameter, "/t-missing/IAM-IDC/AD-Group-Prefix"),
            (MissingKind::Parameter, "/t-missing/IAM-IDC/AD-Search-Base"),
            (
                MissingKind::Parameter,
                "/t-missing/IAM-IDC/Domain-Controller"
            ),
            (MissingKind::Secret, "t-missing/SCIM-API-Token"),
            (MissingKind::Secret, "t-missing/AD-RO-UserCreds"),
        ]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("5 required configuration items are missing"),
        "{text}"
    );
    assert!(
        text.contains("SSM parameter /t-missing/IAM-IDC/Domain-Controller is missing: create it"),
        "{text}"
    );
}

#[tokio::test]
async fn one_missing_parameter_reads_as_a_single_instruction() {
    let moto = Moto::start().await;
    let n = names("one-missing");
    seed_powershell_style(&moto, &n).await;
    moto.delete_parameter(&n.parameter("SCIM-URI")).await;
    let err = load_from_aws(moto.sdk(), &n).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "SSM parameter /t-one-missing/IAM-IDC/SCIM-URI is missing: create it with the SCIM endpoint URL from the IAM Identity Center console (Settings > Automatic provisioning)"
    );
}

#[tokio::test]
async fn domain_controller_forms_and_the_plain_ldap_opt_in() {
    let moto = Moto::start().await;
    let n = names("dc");
    seed_powershell_style(&moto, &n).await;
    let dc = n.parameter("Domain-Controller");

    moto.put_parameter(&dc, "dc1.corp.example.com").await;
    assert_eq!(
        ldap(&load_from_aws(moto.sdk(), &n).await.unwrap())
            .url
            .as_str(),
        "ldaps://dc1.corp.example.com:636"
    );

    moto.put_parameter(&dc, "ldaps://dc2.corp.example.com:3269")
        .await;
    assert_eq!(
        ldap(&load_from_aws(moto.sdk(), &n).await.unwrap())
            .url
            .as_str(),
        "ldaps://dc2.corp.example.com:3269"
    );

    moto.put_parameter(&dc, "ldap://dc1.corp.example.com").await;
    let err = load_from_aws(moto.sdk(), &n).await.unwrap_err();
    assert!(
        matches!(&err, ConfigError::InvalidParameter { name, .. } if name == &dc),
        "{err}"
    );
    assert!(err.to_string().contains("allowPlainLdap"), "{err}");

    moto.put_parameter(
        &n.parameter("Sync-Settings"),
        "[ldap]\nallowPlainLdap = true\n",
    )
    .await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    assert_eq!(ldap(&s).url.as_str(), "ldap://dc1.corp.example.com:389");
    assert!(ldap(&s).allow_plain_ldap);
}

#[tokio::test]
async fn malformed_credentials_json_is_explained_without_the_password() {
    let moto = Moto::start().await;
    let n = names("badcreds");
    seed_powershell_style(&moto, &n).await;
    moto.put_secret_value(
        &n.ldap_secret_id,
        &format!(r#"{{"username": "svc", "password": "{PASSWORD}""#),
    )
    .await;

    let err = load_from_aws(moto.sdk(), &n).await.unwrap_err();
    assert!(
        matches!(&err, ConfigError::SecretMalformed { id, .. } if id == &n.ldap_secret_id),
        "{err}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("not valid JSON") && text.contains("\"username\""),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "the password leaked: {text}");

    moto.put_secret_value(
        &n.ldap_secret_id,
        &format!(r#"{{"Username": "svc", "Passwort": "{PASSWORD}"}}"#),
    )
    .await;
    let text = load_from_aws(moto.sdk(), &n).await.unwrap_err().to_string();
    assert!(
        text.contains("no password key") && text.contains("\"Passwort\""),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
}

#[tokio::test]
async fn capitalised_credential_keys_and_a_plain_token_are_accepted() {
    let moto = Moto::start().await;
    let n = names("caps");
    seed_powershell_style(&moto, &n).await;
    moto.put_secret_value(
        &n.ldap_secret_id,
        r#"{"Username": "CN=svc,DC=corp", "Password": "p"}"#,
    )
    .await;
    moto.put_secret_value(&n.token_secret_id, "plain-token-value")
        .await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    assert_eq!(ldap(&s).bind_dn, "CN=svc,DC=corp");
    assert_eq!(ldap(&s).bind_password.expose(), "p");
    assert_eq!(s.scim.token.expose(), "plain-token-value");
}

#[tokio::test]
async fn secure_string_parameters_are_decrypted() {
    let moto = Moto::start().await;
    let n = names("secure");
    seed_powershell_style(&moto, &n).await;
    moto.put_secure_parameter(
        &n.parameter("SCIM-URI"),
        "https://scim.eu-west-1.amazonaws.com/sec/scim/v2",
    )
    .await;
    moto.put_secure_parameter(&n.parameter("AD-Group-Name"), "Secret-Group")
        .await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    assert_eq!(
        s.scim.base_url.as_str(),
        "https://scim.eu-west-1.amazonaws.com/sec/scim/v2/"
    );
    assert_eq!(s.scope.sync_group, "Secret-Group");
}

#[tokio::test]
async fn the_scim_uri_must_be_https_except_on_loopback() {
    let moto = Moto::start().await;
    let n = names("https");
    seed_powershell_style(&moto, &n).await;
    let uri = n.parameter("SCIM-URI");

    moto.put_parameter(&uri, "http://scim.us-east-2.amazonaws.com/x/scim/v2/")
        .await;
    let err = load_from_aws(moto.sdk(), &n).await.unwrap_err();
    assert!(
        matches!(&err, ConfigError::InvalidParameter { name, .. } if name == &uri),
        "{err}"
    );
    assert!(err.to_string().contains("must use https://"), "{err}");

    moto.put_parameter(&uri, "http://127.0.0.1:8080/scim/v2")
        .await;
    assert_eq!(
        load_from_aws(moto.sdk(), &n)
            .await
            .unwrap()
            .scim
            .base_url
            .as_str(),
        "http://127.0.0.1:8080/scim/v2/"
    );
}

#[tokio::test]
async fn sync_settings_parameter_sets_optional_settings_and_rejects_typos() {
    let moto = Moto::start().await;
    let n = names("settings");
    seed_powershell_style(&moto, &n).await;
    moto.put_parameter(&n.parameter("AD-CA-Bundle"), TEST_CA)
        .await;
    let doc = r#"{"policy": {"outOfScopeUsers": "delete", "adoptGroupsByName": true},
                  "guard": {"maxDestructiveCount": 5}, "scim": {"concurrency": 3},
                  "ldap": {"pageSize": 200, "baseDn": "DC=corp,DC=example,DC=com"},
                  "run": {"dryRun": true}}"#;
    moto.put_parameter(&n.parameter("Sync-Settings"), doc).await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    assert_eq!(s.policy.out_of_scope_users, OutOfScopeAction::Delete);
    assert!(s.policy.adopt_groups_by_name);
    assert_eq!(s.guard.max_destructive_count, 5);
    assert_eq!(s.scim.concurrency, 3);
    assert_eq!(ldap(&s).page_size, 200);
    assert_eq!(
        ldap(&s).base_dn.as_deref(),
        Some("DC=corp,DC=example,DC=com")
    );
    assert_eq!(ldap(&s).ca_bundle.as_ref().unwrap().certificates().len(), 1);
    assert!(s.run.dry_run);

    moto.put_parameter(
        &n.parameter("Sync-Settings"),
        "[guard]\nallowMassChange = true\n",
    )
    .await;
    let err = load_from_aws(moto.sdk(), &n).await.unwrap_err().to_string();
    assert!(
        err.contains("/t-settings/IAM-IDC/Sync-Settings") && err.contains("allowMassChange"),
        "{err}"
    );
}

#[tokio::test]
async fn sync_settings_parameter_maps_attributes_and_names_a_bad_mapping() {
    use scim_sync::model::settings::UserAttribute as A;
    let moto = Moto::start().await;
    let n = names("attributes");
    seed_powershell_style(&moto, &n).await;

    // Without the key: the PowerShell original's three, nothing else.
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    let a = &s.policy.attributes;
    assert_eq!(a.source(A::Title), Some("title"));
    assert_eq!(a.source(A::Department), Some("department"));
    assert_eq!(a.source(A::Organization), Some("company"));
    assert!(!a.is_managed(A::Manager) && !a.is_managed(A::EmployeeNumber));

    // Mapped on top of the defaults, one default unmapped; the directory reads what is mapped.
    let doc = r#"{"attributes": {"enterprise.employeeNumber": "employeeID",
                  "enterprise.manager": "manager", "phoneNumbers.work": "telephoneNumber",
                  "addresses.work.locality": "l", "enterprise.organization": ""}}"#;
    moto.put_parameter(&n.parameter("Sync-Settings"), doc).await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    let a = &s.policy.attributes;
    assert_eq!(a.source(A::EmployeeNumber), Some("employeeID"));
    assert_eq!(a.source(A::Manager), Some("manager"));
    assert_eq!(a.source(A::WorkPhone), Some("telephoneNumber"));
    assert_eq!(a.source(A::Locality), Some("l"));
    assert_eq!(
        a.source(A::Title),
        Some("title"),
        "a key not given keeps its default"
    );
    assert!(!a.is_managed(A::Organization), "\"\" leaves it unmanaged");

    // A key that is no Identity Center attribute, and a value that is no attribute name:
    // refused when the settings load, naming the parameter, the key and what is allowed.
    for (doc, key, hint) in [
        (
            r#"{"attributes": {"enterprise.manger": "manager"}}"#,
            "attributes.enterprise.manger",
            "enterprise.manager",
        ),
        (
            r#"{"attributes": {"title": "(title)"}}"#,
            "attributes.title",
            "not a directory attribute name",
        ),
    ] {
        moto.put_parameter(&n.parameter("Sync-Settings"), doc).await;
        let err = load_from_aws(moto.sdk(), &n).await.unwrap_err().to_string();
        assert!(
            err.contains("/t-attributes/IAM-IDC/Sync-Settings")
                && err.contains(key)
                && err.contains(hint),
            "{err}"
        );
    }
}

#[tokio::test]
async fn parameters_spread_over_several_pages_are_all_read() {
    let moto = Moto::start().await;
    let n = names("pages");
    // Written first, so the real parameters come after the first page of 10.
    for i in 0..23 {
        moto.put_parameter(&n.parameter(&format!("Unrelated-{i:02}")), "x")
            .await;
        moto.put_parameter(&format!("{}nested/Deep-{i:02}", n.parameter_path), "y")
            .await;
    }
    seed_powershell_style(&moto, &n).await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    assert_eq!(s.scope.sync_group, "AWS-Sync-Users");
    assert_eq!(ldap(&s).url.as_str(), "ldaps://corp.example.com:636");
}

#[tokio::test]
async fn the_token_is_reloaded_after_rotation() {
    let moto = Moto::start().await;
    let n = names("rotate");
    seed_powershell_style(&moto, &n).await;
    let s = load_from_aws(moto.sdk(), &n).await.unwrap();
    assert_eq!(s.scim.token.expose(), TOKEN);

    moto.put_secret_value(&n.token_secret_id, r#"{"SCIM-API-Token": "tok-rotated-2"}"#)
        .await;
    let id = s.scim.token_secret_id.as_deref().unwrap();
    let fresh = reload_scim_token(moto.sdk(), id).await.unwrap();
    assert_eq!(fresh.expose(), "tok-rotated-2");

    let err = reload_scim_token(moto.sdk(), "t-rotate/does-not-exist")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("secret t-rotate/does-not-exist is missing"),
        "{err}"
    );
}

#[tokio::test]
async fn a_config_file_can_take_both_secrets_from_secrets_manager() {
    let moto = Moto::start().await;
    let n = names("file");
    seed_powershell_style(&moto, &n).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scim-sync.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[directory]
source = "ldap"
url = "ldaps://dc1.corp.example.com"
credentialsSecretId = "{creds}"
[scope]
syncGroup = "AWS-Sync-Users"
groupPrefix = "aws-"
groupSearchBase = "OU=AWS,DC=corp,DC=example,DC=com"
[scim]
url = "https://scim.eu-west-1.amazonaws.com/x/scim/v2/"
tokenSecretId = "{token}"
"#,
            creds = n.ldap_secret_id,
            token = n.token_secret_id
        ),
    )
    .unwrap();
    let s = load_from_file(&path, Some(moto.sdk())).await.unwrap();
    assert_eq!(s.scim.token.expose(), TOKEN);
    assert_eq!(
        s.scim.token_secret_id.as_deref(),
        Some(n.token_secret_id.as_str())
    );
    assert_eq!(ldap(&s).bind_dn, "svc-scim@corp.example.com");
    assert_eq!(ldap(&s).bind_password.expose(), PASSWORD);
}

/// The production path: `aws_config::defaults(...).load()` and `AwsNames::from_env()` read
/// only the standard variables and the overrides. Runs in a child process (this same test
/// binary) so no test mutates this process's environment.
#[tokio::test]
async fn standard_aws_variables_and_name_overrides_are_honoured() {
    let moto = Moto::start().await;
    let n = names("env");
    seed_powershell_style(&moto, &n).await;
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_loads_from_the_process_environment",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .envs(moto.standard_env())
        .env("SCIM_SYNC_PARAMETER_PATH", "t-env/IAM-IDC")
        .env("SCIM_SYNC_TOKEN_SECRET_ID", &n.token_secret_id)
        .env("SCIM_SYNC_LDAP_SECRET_ID", &n.ldap_secret_id)
        .env("CONFIG_AWS_TEST_CHILD", "1")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
}

/// Only meaningful inside the child started above.
#[tokio::test]
#[ignore = "run by standard_aws_variables_and_name_overrides_are_honoured in a child process"]
async fn child_loads_from_the_process_environment() {
    if std::env::var("CONFIG_AWS_TEST_CHILD").is_err() {
        eprintln!("not started by the parent test: nothing to do");
        return;
    }
    let names = AwsNames::from_env();
    assert_eq!(names.parameter_path, "/t-env/IAM-IDC/");
    assert_eq!(names.token_secret_id, "t-env/SCIM-API-Token");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let s = load_from_aws(&sdk, &names).await.unwrap();
    assert_eq!(s.scim.token.expose(), TOKEN);
    assert_eq!(s.scope.sync_group, "AWS-Sync-Users");
}
