//! The `--config FILE` source for the CLI: the same settings as the SSM source, in TOML, with
//! the directory either a live LDAP server or an LDIF export, and the secrets given inline
//! (local demo only), through environment variables, or as Secrets Manager ids.

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, SdkConfig};
use serde::Deserialize;

use super::document::{
    toml_reason, DirectorySection, GuardSection, LdapSection, LdapTuning, OptionalSettings,
    PolicySection, ProfileName, RunSection, ScimSection, ScopeSection,
};
use super::error::ConfigError;
use super::secrets::{parse_credentials, parse_token};
use super::settings::{DirectorySource, RunConfig, Settings};
use super::validate;
use crate::model::settings::{CaBundle, LdapSettings, LdapUrl, Policy};
use crate::secret::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileDocument {
    directory: FileDirectory,
    scope: FileScope,
    scim: FileScim,
    #[serde(default)]
    policy: PolicySection,
    #[serde(default)]
    guard: GuardSection,
    #[serde(default)]
    ldap: LdapSection,
    #[serde(default)]
    run: RunSection,
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SourceKind {
    Ldap,
    Ldif,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileDirectory {
    source: SourceKind,
    // source = "ldap"
    url: Option<String>,
    #[serde(alias = "bind_dn")]
    bind_dn: Option<String>,
    password: Option<Secret>,
    #[serde(alias = "password_env")]
    password_env: Option<String>,
    #[serde(alias = "credentials_secret_id")]
    credentials_secret_id: Option<String>,
    #[serde(alias = "ca_bundle_file")]
    ca_bundle_file: Option<PathBuf>,
    // source = "ldif"
    path: Option<PathBuf>,
    // either source: the directory's kind (see `DirectorySection`)
    profile: Option<ProfileName>,
    anchor_attribute: Option<crate::model::settings::AnchorAttribute>,
    directory_id: Option<String>,
    max_nesting_depth: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileScope {
    /// Required unless `syncGroups` is given.
    #[serde(default)]
    sync_group: Option<String>,
    #[serde(default)]
    group_prefix: Option<String>,
    group_search_base: String,
    #[serde(default)]
    extra_domain_sids: Option<Vec<String>>,
    #[serde(default)]
    sync_groups: Option<Vec<String>>,
    #[serde(default)]
    user_filter: Option<String>,
    #[serde(default)]
    exclude_groups: Option<Vec<String>>,
    #[serde(default)]
    group_search_bases: Option<Vec<String>>,
    #[serde(default)]
    group_display_name: Option<crate::model::settings::GroupDisplayName>,
    #[serde(default)]
    group_name_prefix: Option<String>,
}

/// The endpoint keys plus the tuning keys of [`ScimSection`] (kept in step with it by hand:
/// a file `[scim]` section holds both).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileScim {
    url: String,
    token: Option<Secret>,
    #[serde(alias = "token_env")]
    token_env: Option<String>,
    #[serde(alias = "token_secret_id")]
    token_secret_id: Option<String>,
    concurrency: Option<usize>,
    rate_limit_per_second: Option<u32>,
    max_rate: Option<u32>,
    max_attempts: Option<u32>,
    request_timeout_seconds: Option<u64>,
}

/// Reads and validates a `--config` TOML file. Relative paths in it (`path`, `caBundleFile`)
/// are relative to the file's own directory. Secrets named by `tokenSecretId` or
/// `credentialsSecretId` are fetched with `sdk`, or with the standard AWS configuration from
/// the environment when `sdk` is `None` (it is only loaded when a secret id is used).
pub async fn load_from_file(path: &Path, sdk: Option<&SdkConfig>) -> Result<Settings, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::FileRead {
        path: origin.clone(),
        source,
    })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let env = |key: &str| std::env::var(key).ok();
    let plan = parse(&text, &origin, &base_dir, &env)?;
    plan.finish(&origin, sdk).await
}

/// What remains after parsing: everything validated except the Secrets Manager reads.
struct Pending {
    settings: Settings,
    token_secret_id: Option<String>,
    credentials_secret_id: Option<String>,
}

impl Pending {
    async fn finish(
        mut self,
        origin: &str,
        sdk: Option<&SdkConfig>,
    ) -> Result<Settings, ConfigError> {
        if self.token_secret_id.is_none() && self.credentials_secret_id.is_none() {
            return Ok(self.settings);
        }
        let loaded;
        let sdk = match sdk {
            Some(sdk) => sdk,
            None => {
                loaded = aws_config::defaults(BehaviorVersion::latest()).load().await;
                &loaded
            }
        };
        if let Some(id) = self.token_secret_id {
            self.settings.scim.token = super::aws::reload_scim_token(sdk, &id).await?;
            self.settings.scim.token_secret_id = Some(id);
        }
        if let Some(id) = self.credentials_secret_id {
            let raw = fetch_secret_string(sdk, &id, origin).await?;
            let (user, password) = parse_credentials(&id, &raw)?;
            if let DirectorySource::Ldap(ldap) = &mut self.settings.directory {
                ldap.bind_dn = user;
                ldap.bind_password = password;
            }
        }
        Ok(self.settings)
    }
}

async fn fetch_secret_string(
    sdk: &SdkConfig,
    id: &str,
    origin: &str,
) -> Result<String, ConfigError> {
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client.get_secret_value().secret_id(id).send().await.map_err(|e| {
        let reason = match e.code() {
            Some("ResourceNotFoundException") => format!(
                "it does not exist (named by credentialsSecretId in {origin}): create it as JSON {{\"username\": \"…\", \"password\": \"…\"}}"
            ),
            Some(code) => format!("{code}: {}", e.message().unwrap_or("no detail")),
            None => DisplayErrorContext(&e).to_string(),
        };
        ConfigError::SecretUnreadable { id: id.to_string(), reason }
    })?;
    out.secret_string()
        .map(str::to_string)
        .ok_or_else(|| ConfigError::SecretMalformed {
            id: id.to_string(),
            reason: "it holds a binary value: store it as a secret string".into(),
        })
}

/// Everything that needs no network: TOML, schema, validation, environment variables and
/// local files.
fn parse(
    text: &str,
    origin: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Pending, ConfigError> {
    let doc: FileDocument = toml::from_str(text).map_err(|e| ConfigError::FileInvalid {
        path: origin.to_string(),
        reason: format!("{}; see docs/configuration.md", toml_reason(&e, text)),
    })?;
    let cx = Origin {
        origin,
        base_dir,
        env,
    };
    let bad = |setting: &str, reason: String| cx.bad(setting, reason);

    let optional = OptionalSettings {
        policy: doc.policy,
        guard: doc.guard,
        ldap: doc.ldap,
        scim: ScimSection {
            concurrency: doc.scim.concurrency,
            rate_limit_per_second: doc.scim.rate_limit_per_second,
            max_rate: doc.scim.max_rate,
            max_attempts: doc.scim.max_attempts,
            request_timeout_seconds: doc.scim.request_timeout_seconds,
        },
        run: doc.run,
        scope: ScopeSection {
            extra_domain_sids: doc.scope.extra_domain_sids.clone(),
            sync_groups: doc.scope.sync_groups.clone(),
            user_filter: doc.scope.user_filter.clone(),
            exclude_groups: doc.scope.exclude_groups.clone(),
            group_search_bases: doc.scope.group_search_bases.clone(),
            group_display_name: doc.scope.group_display_name,
            group_name_prefix: doc.scope.group_name_prefix.clone(),
        },
        directory: DirectorySection {
            profile: doc.directory.profile,
            anchor_attribute: doc.directory.anchor_attribute,
            directory_id: doc.directory.directory_id.clone(),
            max_nesting_depth: doc.directory.max_nesting_depth,
        },
        attributes: doc.attributes,
    };
    let tuning = optional.resolve(origin)?;

    let sync_group = match &doc.scope.sync_group {
        Some(name) => Some(
            validate::non_empty(name, "the sync group's name")
                .map_err(|r| bad("scope.syncGroup", r))?,
        ),
        None => None,
    };
    let scope = tuning
        .scope
        .scope(
            sync_group,
            validate::group_prefix(doc.scope.group_prefix.as_deref().unwrap_or(""))
                .map_err(|r| bad("scope.groupPrefix", r))?,
            validate::distinguished_name(&doc.scope.group_search_base)
                .map_err(|r| bad("scope.groupSearchBase", r))?,
            tuning.extra_domain_sids.clone(),
        )
        .map_err(|(setting, r)| bad(setting, r))?;

    let url = validate::scim_url(&doc.scim.url).map_err(|r| bad("scim.url", r))?;
    let token = token_source(
        &cx,
        doc.scim.token,
        doc.scim.token_env,
        doc.scim.token_secret_id,
    )?;
    let (directory, credentials_secret_id) = directory_source(&cx, doc.directory, &tuning.ldap)?;

    let group_name_prefix = tuning.scope.name_prefix(&scope.group_prefix);
    Ok(Pending {
        settings: Settings {
            directory,
            profile: tuning.profile,
            scope,
            scim: tuning
                .scim
                .into_settings(url, token.token, None, token.origin),
            policy: Policy {
                group_name_prefix,
                ..tuning.policy
            },
            guard: tuning.guard,
            run: RunConfig {
                // Relative to the file, as every path in it.
                state_file: tuning.run.state_file.map(|p| base_dir.join(p)),
                ..tuning.run
            },
        },
        token_secret_id: token.secret_id,
        credentials_secret_id,
    })
}

/// Where the file came from, for error messages, relative paths and `…Env` settings.
struct Origin<'a> {
    origin: &'a str,
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Origin<'_> {
    fn bad(&self, setting: &str, reason: String) -> ConfigError {
        ConfigError::InvalidSetting {
            origin: self.origin.to_string(),
            setting: setting.to_string(),
            reason,
        }
    }

    /// The value of the environment variable a `…Env` setting names; empty counts as unset.
    fn env_value(&self, var: &str, setting: &str) -> Result<String, ConfigError> {
        (self.env)(var)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::MissingEnv {
                var: var.to_string(),
                setting: setting.to_string(),
                origin: self.origin.to_string(),
            })
    }
}

/// The SCIM token as the file gives it, and where a rejected one should be replaced.
struct TokenSource {
    token: Secret,
    /// Set when the token is to be fetched from Secrets Manager (`token` is then a
    /// placeholder, replaced in `Pending::finish`).
    secret_id: Option<String>,
    origin: Option<String>,
}

/// Exactly one of `token` (local demo only), `tokenEnv` or `tokenSecretId`.
fn token_source(
    cx: &Origin<'_>,
    inline: Option<Secret>,
    env_var: Option<String>,
    secret_id: Option<String>,
) -> Result<TokenSource, ConfigError> {
    match (inline, env_var, secret_id) {
        (Some(inline), None, None) => {
            tracing::warn!(
                file = cx.origin,
                "the SCIM token is inline in the config file: \
                 use tokenEnv or tokenSecretId outside the local demo"
            );
            Ok(TokenSource {
                token: parse_token("scim.token", inline.expose())?,
                secret_id: None,
                origin: Some(format!("scim.token of {}", cx.origin)),
            })
        }
        (None, Some(var), None) => {
            let source = format!("environment variable {var}");
            Ok(TokenSource {
                token: parse_token(&source, &cx.env_value(&var, "scim.tokenEnv")?)?,
                secret_id: None,
                origin: Some(source),
            })
        }
        (None, None, Some(id)) => Ok(TokenSource {
            token: Secret::new(""),
            secret_id: Some(id),
            origin: None,
        }),
        _ => Err(cx.bad(
            "scim.token",
            "set exactly one of token (local demo only), tokenEnv (an environment variable's \
             name) or tokenSecretId (a Secrets Manager id)"
                .into(),
        )),
    }
}

/// The `[directory]` table: an LDIF export or a live server. Returns the source and the
/// Secrets Manager id of the credentials when they are to be fetched.
fn directory_source(
    cx: &Origin<'_>,
    d: FileDirectory,
    ldap: &LdapTuning,
) -> Result<(DirectorySource, Option<String>), ConfigError> {
    match d.source {
        SourceKind::Ldif => {
            let stray = [
                ("url", d.url.is_some()),
                ("bindDn", d.bind_dn.is_some()),
                ("password", d.password.is_some()),
                ("passwordEnv", d.password_env.is_some()),
                ("credentialsSecretId", d.credentials_secret_id.is_some()),
                ("caBundleFile", d.ca_bundle_file.is_some()),
            ];
            if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
                let only = "only applies to source = \"ldap\"".to_string();
                return Err(cx.bad(&format!("directory.{key}"), only));
            }
            let path = d.path.ok_or_else(|| {
                let needs = "source = \"ldif\" needs path = \"<LDIF export>\"";
                cx.bad("directory.path", needs.into())
            })?;
            let path = cx.base_dir.join(path);
            Ok((DirectorySource::Ldif { path }, None))
        }
        SourceKind::Ldap => {
            if d.path.is_some() {
                let only = "only applies to source = \"ldif\"".to_string();
                return Err(cx.bad("directory.path", only));
            }
            let raw_url = d.url.as_deref().ok_or_else(|| {
                let needs = "source = \"ldap\" needs url = \"ldaps://dc1.example.com:636\" \
                             (or the domain's DNS name)";
                cx.bad("directory.url", needs.into())
            })?;
            let url = LdapUrl::parse(raw_url, ldap.start_tls, ldap.allow_plain_ldap)
                .map_err(|r| cx.bad("directory.url", r))?;
            let ca_bundle = ca_bundle_file(cx, d.ca_bundle_file.as_deref())?;
            let credentials = bind_credentials(cx, d)?;
            let settings = LdapSettings {
                url,
                bind_dn: credentials.bind_dn,
                bind_password: credentials.password,
                ca_bundle,
                start_tls: ldap.start_tls,
                allow_plain_ldap: ldap.allow_plain_ldap,
                base_dn: ldap.base_dn.clone(),
                page_size: ldap.page_size,
                connect_timeout: ldap.connect_timeout,
                operation_timeout: ldap.operation_timeout,
                range_window: Some(ldap.range_window),
            };
            Ok((DirectorySource::Ldap(settings), credentials.secret_id))
        }
    }
}

/// The read-only account, or the secret it is to be fetched from.
struct BindCredentials {
    bind_dn: String,
    password: Secret,
    secret_id: Option<String>,
}

/// `bindDn` with exactly one of `password` (local demo only) or `passwordEnv`, or only
/// `credentialsSecretId`. An empty password is refused: AD treats it as an anonymous bind.
fn bind_credentials(cx: &Origin<'_>, d: FileDirectory) -> Result<BindCredentials, ConfigError> {
    let given = |bind_dn: String, password: Secret| BindCredentials {
        bind_dn,
        password,
        secret_id: None,
    };
    let credentials = match (
        d.bind_dn,
        d.password,
        d.password_env,
        d.credentials_secret_id,
    ) {
        (Some(dn), Some(pw), None, None) => {
            tracing::warn!(
                file = cx.origin,
                "the directory password is inline in the config file: \
                 use passwordEnv or credentialsSecretId outside the local demo"
            );
            given(dn, pw)
        }
        (Some(dn), None, Some(var), None) => given(
            dn,
            Secret::new(cx.env_value(&var, "directory.passwordEnv")?),
        ),
        (None, None, None, Some(id)) => {
            return Ok(BindCredentials {
                bind_dn: String::new(),
                password: Secret::new(""),
                secret_id: Some(id),
            })
        }
        (Some(_), None, None, Some(_)) => {
            let why = "the user name comes from the credentialsSecretId secret: remove bindDn";
            return Err(cx.bad("directory.bindDn", why.into()));
        }
        _ => {
            let why = "set bindDn with exactly one of password (local demo only) or \
                       passwordEnv, or set only credentialsSecretId (a secret holding \
                       {\"username\", \"password\"})";
            return Err(cx.bad("directory.password", why.into()));
        }
    };
    validate::non_empty(&credentials.bind_dn, "the bind DN or UPN")
        .map_err(|r| cx.bad("directory.bindDn", r))?;
    if credentials.password.is_empty() {
        let why = "the password is empty (AD would treat the bind as anonymous)";
        return Err(cx.bad("directory.password", why.into()));
    }
    Ok(credentials)
}

/// `caBundleFile`, relative to the config file's directory, read and checked now.
fn ca_bundle_file(cx: &Origin<'_>, file: Option<&Path>) -> Result<Option<CaBundle>, ConfigError> {
    let Some(file) = file else {
        return Ok(None);
    };
    let file = cx.base_dir.join(file);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        let why = format!("cannot read {}: {e}", file.display());
        cx.bad("directory.caBundleFile", why)
    })?;
    let bundle = CaBundle::from_pem(&text)
        .map_err(|r| cx.bad("directory.caBundleFile", format!("{}: {r}", file.display())))?;
    Ok(Some(bundle))
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
