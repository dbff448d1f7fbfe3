//! The `--config FILE` source for the CLI: the same settings as the SSM source, in TOML, with
//! the directory either a live LDAP server or an LDIF export, and the secrets given inline
//! (local demo only), through environment variables, or as Secrets Manager ids.

use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, SdkConfig};
use serde::Deserialize;

use super::document::{
    toml_reason, GuardSection, LdapSection, OptionalSettings, PolicySection, RunSection,
    ScimSection, ScopeSection,
};
use super::error::ConfigError;
use super::secrets::{parse_credentials, parse_token};
use super::settings::{DirectorySource, Settings};
use super::validate;
use crate::model::settings::{CaBundle, LdapSettings, LdapUrl, Scope};
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileScope {
    sync_group: String,
    #[serde(default)]
    group_prefix: Option<String>,
    group_search_base: String,
    #[serde(default)]
    extra_domain_sids: Option<Vec<String>>,
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
    let bad = |setting: &str, reason: String| ConfigError::InvalidSetting {
        origin: origin.to_string(),
        setting: setting.to_string(),
        reason,
    };

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
        },
    };
    let tuning = optional.resolve(origin)?;

    let scope = Scope {
        sync_group: validate::non_empty(&doc.scope.sync_group, "the sync group's name")
            .map_err(|r| bad("scope.syncGroup", r))?,
        group_prefix: validate::group_prefix(doc.scope.group_prefix.as_deref().unwrap_or(""))
            .map_err(|r| bad("scope.groupPrefix", r))?,
        group_search_base: validate::distinguished_name(&doc.scope.group_search_base)
            .map_err(|r| bad("scope.groupSearchBase", r))?,
        extra_domain_sids: tuning.extra_domain_sids.clone(),
    };

    let env_value = |var: &str, setting: &str| {
        env(var)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::MissingEnv {
                var: var.to_string(),
                setting: setting.to_string(),
                origin: origin.to_string(),
            })
    };

    let s = doc.scim;
    let url = validate::scim_url(&s.url).map_err(|r| bad("scim.url", r))?;
    let (token, token_secret_id, token_origin) = match (s.token, s.token_env, s.token_secret_id) {
        (Some(inline), None, None) => {
            tracing::warn!(file = origin, "the SCIM token is inline in the config file: use tokenEnv or tokenSecretId outside the local demo");
            (parse_token("scim.token", inline.expose())?, None, Some(format!("scim.token of {origin}")))
        }
        (None, Some(var), None) => {
            let source = format!("environment variable {var}");
            (parse_token(&source, &env_value(&var, "scim.tokenEnv")?)?, None, Some(source))
        }
        // The placeholder is replaced by the fetched token in `Pending::finish`.
        (None, None, Some(id)) => (Secret::new(""), Some(id), None),
        _ => {
            return Err(bad(
                "scim.token",
                "set exactly one of token (local demo only), tokenEnv (an environment variable's name) or tokenSecretId (a Secrets Manager id)".into(),
            ))
        }
    };

    let d = doc.directory;
    let mut credentials_secret_id = None;
    let directory = match d.source {
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
                return Err(bad(
                    &format!("directory.{key}"),
                    "only applies to source = \"ldap\"".into(),
                ));
            }
            let path = d.path.ok_or_else(|| {
                bad(
                    "directory.path",
                    "source = \"ldif\" needs path = \"<LDIF export>\"".into(),
                )
            })?;
            DirectorySource::Ldif {
                path: base_dir.join(path),
            }
        }
        SourceKind::Ldap => {
            if d.path.is_some() {
                return Err(bad(
                    "directory.path",
                    "only applies to source = \"ldif\"".into(),
                ));
            }
            let raw_url = d.url.ok_or_else(|| {
                bad("directory.url", "source = \"ldap\" needs url = \"ldaps://dc1.example.com:636\" (or the domain's DNS name)".into())
            })?;
            let url = LdapUrl::parse(
                &raw_url,
                tuning.ldap.start_tls,
                tuning.ldap.allow_plain_ldap,
            )
            .map_err(|r| bad("directory.url", r))?;
            let (bind_dn, bind_password) = match (d.bind_dn, d.password, d.password_env, d.credentials_secret_id) {
                (Some(dn), Some(pw), None, None) => {
                    tracing::warn!(file = origin, "the directory password is inline in the config file: use passwordEnv or credentialsSecretId outside the local demo");
                    (dn, pw)
                }
                (Some(dn), None, Some(var), None) => (dn, Secret::new(env_value(&var, "directory.passwordEnv")?)),
                (None, None, None, Some(id)) => {
                    credentials_secret_id = Some(id);
                    (String::new(), Secret::new(""))
                }
                (Some(_), None, None, Some(_)) => {
                    return Err(bad("directory.bindDn", "the user name comes from the credentialsSecretId secret: remove bindDn".into()))
                }
                _ => {
                    return Err(bad(
                        "directory.password",
                        "set bindDn with exactly one of password (local demo only) or passwordEnv, or set only credentialsSecretId (a secret holding {\"username\", \"password\"})".into(),
                    ))
                }
            };
            if credentials_secret_id.is_none() {
                validate::non_empty(&bind_dn, "the bind DN or UPN")
                    .map_err(|r| bad("directory.bindDn", r))?;
                if bind_password.is_empty() {
                    return Err(bad(
                        "directory.password",
                        "the password is empty (AD would treat the bind as anonymous)".into(),
                    ));
                }
            }
            let ca_bundle = match d.ca_bundle_file {
                Some(file) => {
                    let file = base_dir.join(file);
                    let text = std::fs::read_to_string(&file).map_err(|e| {
                        bad(
                            "directory.caBundleFile",
                            format!("cannot read {}: {e}", file.display()),
                        )
                    })?;
                    Some(CaBundle::from_pem(&text).map_err(|r| {
                        bad("directory.caBundleFile", format!("{}: {r}", file.display()))
                    })?)
                }
                None => None,
            };
            DirectorySource::Ldap(LdapSettings {
                url,
                bind_dn,
                bind_password,
                ca_bundle,
                start_tls: tuning.ldap.start_tls,
                allow_plain_ldap: tuning.ldap.allow_plain_ldap,
                base_dn: tuning.ldap.base_dn.clone(),
                page_size: tuning.ldap.page_size,
                connect_timeout: tuning.ldap.connect_timeout,
                operation_timeout: tuning.ldap.operation_timeout,
                range_window: Some(tuning.ldap.range_window),
            })
        }
    };

    Ok(Pending {
        settings: Settings {
            directory,
            scope,
            scim: tuning.scim.into_settings(url, token, None, token_origin),
            policy: tuning.policy,
            guard: tuning.guard,
            run: tuning.run,
        },
        token_secret_id,
        credentials_secret_id,
    })
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
