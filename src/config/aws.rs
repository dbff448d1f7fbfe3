//! Loading from SSM Parameter Store and Secrets Manager under the names the PowerShell sample
//! (aws-samples/aws-iam-identity-center-scim-sync) created, so its users switch without
//! re-creating anything.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};

use super::document::{parse_document, OptionalSettings};
use super::error::{ConfigError, MissingItem, MissingKind};
use super::secrets::{parse_credentials, parse_token};
use super::settings::{DirectorySource, Settings};
use super::validate;
use crate::model::settings::{CaBundle, LdapSettings, LdapUrl, Policy};
use crate::secret::Secret;

/// Environment variable overriding the SSM parameter path (default `/IAM-IDC/`).
pub const ENV_PARAMETER_PATH: &str = "SCIM_SYNC_PARAMETER_PATH";
/// Environment variable overriding the SCIM token secret id (default `IAM-IDC/SCIM-API-Token`).
pub const ENV_TOKEN_SECRET_ID: &str = "SCIM_SYNC_TOKEN_SECRET_ID";
/// Environment variable overriding the directory credentials secret id (default
/// `IAM-IDC/AD-RO-UserCreds`).
pub const ENV_LDAP_SECRET_ID: &str = "SCIM_SYNC_LDAP_SECRET_ID";

/// The sample's names, used when no override is set.
pub const DEFAULT_PARAMETER_PATH: &str = "/IAM-IDC/";
pub const DEFAULT_TOKEN_SECRET_ID: &str = "IAM-IDC/SCIM-API-Token";
pub const DEFAULT_LDAP_SECRET_ID: &str = "IAM-IDC/AD-RO-UserCreds";

/// Parameter names below the path (the sample's, plus the optional ones scim-sync adds).
pub mod parameter {
    pub const GROUP_NAME: &str = "AD-Group-Name";
    pub const GROUP_PREFIX: &str = "AD-Group-Prefix";
    pub const SEARCH_BASE: &str = "AD-Search-Base";
    pub const SCIM_URI: &str = "SCIM-URI";
    pub const DOMAIN_CONTROLLER: &str = "Domain-Controller";
    /// Optional: PEM of the CA that signed the domain controllers' certificates.
    pub const CA_BUNDLE: &str = "AD-CA-Bundle";
    /// Optional: a TOML or JSON document with the optional settings.
    pub const SYNC_SETTINGS: &str = "Sync-Settings";
}

const REQUIRED: [(&str, &str); 5] = [
    (
        parameter::GROUP_NAME,
        "create it (type String) with the name of the AD group whose members are synchronised",
    ),
    (
        parameter::GROUP_PREFIX,
        "create it (type String) with the name prefix of the AD groups to synchronise, e.g. aws-*",
    ),
    (
        parameter::SEARCH_BASE,
        "create it (type String) with the DN under which those groups are searched, e.g. \
        OU=AWS,DC=example,DC=com",
    ),
    (
        parameter::SCIM_URI,
        "create it with the SCIM endpoint URL from the IAM Identity Center console (Settings > \
        Automatic provisioning)",
    ),
    (
        parameter::DOMAIN_CONTROLLER,
        "create it with the AD domain's DNS name (e.g. corp.example.com, meaning \
        ldaps://corp.example.com:636) or an ldaps:// URL",
    ),
];

/// Where the configuration lives in SSM and Secrets Manager. The defaults are the sample's
/// names; the overrides let several deployments share one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsNames {
    /// Always starts and ends with `/`, e.g. `/IAM-IDC/`.
    pub parameter_path: String,
    pub token_secret_id: String,
    pub ldap_secret_id: String,
}

impl Default for AwsNames {
    fn default() -> Self {
        Self {
            parameter_path: DEFAULT_PARAMETER_PATH.to_string(),
            token_secret_id: DEFAULT_TOKEN_SECRET_ID.to_string(),
            ldap_secret_id: DEFAULT_LDAP_SECRET_ID.to_string(),
        }
    }
}

impl AwsNames {
    /// The sample's names, overridden by `SCIM_SYNC_PARAMETER_PATH`,
    /// `SCIM_SYNC_TOKEN_SECRET_ID` and `SCIM_SYNC_LDAP_SECRET_ID` when set and non-empty.
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// As [`AwsNames::from_env`], reading variables through `lookup` (testable without
    /// touching the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let defaults = Self::default();
        Self {
            parameter_path: get(ENV_PARAMETER_PATH)
                .map(|p| normalise_path(&p))
                .unwrap_or(defaults.parameter_path),
            token_secret_id: get(ENV_TOKEN_SECRET_ID).unwrap_or(defaults.token_secret_id),
            ldap_secret_id: get(ENV_LDAP_SECRET_ID).unwrap_or(defaults.ldap_secret_id),
        }
    }

    /// These names with another parameter path (`IAM-IDC`, `/IAM-IDC` and `/IAM-IDC/` are
    /// the same path).
    pub fn with_parameter_path(mut self, path: &str) -> Self {
        self.parameter_path = normalise_path(path);
        self
    }

    /// The full name of a parameter under the path, e.g. `/IAM-IDC/SCIM-URI`.
    pub fn parameter(&self, leaf: &str) -> String {
        format!("{}{leaf}", self.parameter_path)
    }
}

fn normalise_path(path: &str) -> String {
    let inner = path.trim().trim_matches('/');
    if inner.is_empty() {
        "/".to_string()
    } else {
        format!("/{inner}/")
    }
}

/// Reads the whole configuration: every parameter under the path in one recursive
/// GetParametersByPath (with decryption, so SecureString works), and both secrets, all
/// concurrently. Every missing required item is reported in one [`ConfigError::Missing`].
/// The Lambda calls it on every invocation, so changed settings apply to the next pass.
pub async fn load_from_aws(sdk: &SdkConfig, names: &AwsNames) -> Result<Settings, ConfigError> {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let (params, token, creds) = tokio::join!(
        read_parameters(&ssm, &names.parameter_path),
        fetch_secret(&secrets, &names.token_secret_id),
        fetch_secret(&secrets, &names.ldap_secret_id),
    );
    let params = params?;

    let mut missing: Vec<MissingItem> = REQUIRED
        .iter()
        .filter(|(leaf, _)| !params.contains_key(*leaf))
        .map(|(leaf, hint)| MissingItem {
            kind: MissingKind::Parameter,
            name: names.parameter(leaf),
            hint: (*hint).to_string(),
        })
        .collect();
    let token_missing = secret_missing(&names.token_secret_id, TOKEN_HINT);
    let creds_missing = secret_missing(&names.ldap_secret_id, CREDENTIALS_HINT);
    if matches!(token, Err(Fetch::NotFound)) {
        missing.push(token_missing.clone());
    }
    if matches!(creds, Err(Fetch::NotFound)) {
        missing.push(creds_missing.clone());
    }
    if !missing.is_empty() {
        return Err(ConfigError::Missing(missing));
    }
    let token_raw = token.map_err(|e| e.into_error(token_missing))?;
    let creds_raw = creds.map_err(|e| e.into_error(creds_missing))?;

    let settings_name = names.parameter(parameter::SYNC_SETTINGS);
    let optional = match params.get(parameter::SYNC_SETTINGS) {
        Some(text) => parse_document(text, &settings_name)?,
        None => OptionalSettings::default(),
    };
    let tuning = optional.resolve(&settings_name)?;

    let value = |leaf: &str| params.get(leaf).map(String::as_str).unwrap_or_default();
    let invalid = |leaf: &str| {
        let name = names.parameter(leaf);
        move |reason: String| ConfigError::InvalidParameter { name, reason }
    };
    let sync_group = validate::non_empty(value(parameter::GROUP_NAME), "the sync group's name")
        .map_err(invalid(parameter::GROUP_NAME))?;
    let scope = tuning
        .scope
        .scope(
            Some(sync_group),
            validate::group_prefix(value(parameter::GROUP_PREFIX))
                .map_err(invalid(parameter::GROUP_PREFIX))?,
            validate::distinguished_name(value(parameter::SEARCH_BASE))
                .map_err(invalid(parameter::SEARCH_BASE))?,
            tuning.extra_domain_sids.clone(),
        )
        .map_err(|(setting, reason)| ConfigError::InvalidSetting {
            origin: settings_name.clone(),
            setting: setting.to_string(),
            reason,
        })?;
    let scim_url =
        validate::scim_url(value(parameter::SCIM_URI)).map_err(invalid(parameter::SCIM_URI))?;
    let ldap_url = LdapUrl::parse(
        value(parameter::DOMAIN_CONTROLLER),
        tuning.ldap.start_tls,
        tuning.ldap.allow_plain_ldap,
    )
    .map_err(invalid(parameter::DOMAIN_CONTROLLER))?;
    let ca_bundle = match params.get(parameter::CA_BUNDLE) {
        Some(pem) => Some(CaBundle::from_pem(pem).map_err(invalid(parameter::CA_BUNDLE))?),
        None => None,
    };

    let token = parse_token(&names.token_secret_id, &token_raw)?;
    let (bind_dn, bind_password) = parse_credentials(&names.ldap_secret_id, &creds_raw)?;

    let group_name_prefix = tuning.scope.name_prefix(&scope.group_prefix);
    Ok(Settings {
        directory: DirectorySource::Ldap(LdapSettings {
            url: ldap_url,
            bind_dn,
            bind_password,
            ca_bundle,
            start_tls: tuning.ldap.start_tls,
            allow_plain_ldap: tuning.ldap.allow_plain_ldap,
            base_dn: tuning.ldap.base_dn,
            page_size: tuning.ldap.page_size,
            connect_timeout: tuning.ldap.connect_timeout,
            operation_timeout: tuning.ldap.operation_timeout,
            range_window: Some(tuning.ldap.range_window),
        }),
        profile: tuning.profile,
        scope,
        scim: tuning
            .scim
            .into_settings(scim_url, token, Some(names.token_secret_id.clone()), None),
        policy: Policy {
            group_name_prefix,
            ..tuning.policy
        },
        guard: tuning.guard,
        run: tuning.run,
    })
}

/// Fetches only the SCIM token again, for the one retry after Identity Center rejected the
/// token with 401 (the token was rotated since the pass read it).
pub async fn reload_scim_token(sdk: &SdkConfig, secret_id: &str) -> Result<Secret, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let raw = fetch_secret(&client, secret_id)
        .await
        .map_err(|e| match e {
            Fetch::NotFound => ConfigError::Missing(vec![secret_missing(
                secret_id,
                "it was deleted after start-up: recreate it with the current SCIM access token",
            )]),
            Fetch::Failed(err) => err,
        })?;
    parse_token(secret_id, &raw)
}

/// Parameter values by their name relative to `path` (direct children only: deeper names
/// are not ours and are ignored).
async fn read_parameters(
    client: &aws_sdk_ssm::Client,
    path: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    // AWS documents paths without the trailing slash (`/IAM-IDC`).
    let api_path = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let mut values = BTreeMap::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = client
            .get_parameters_by_path()
            .path(api_path)
            .recursive(true)
            .with_decryption(true)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| ConfigError::ParameterStore {
                path: api_path.to_string(),
                reason: describe_ssm_error(&e, api_path),
            })?;
        for p in page.parameters() {
            let (Some(name), Some(value)) = (p.name(), p.value()) else {
                continue;
            };
            match name.strip_prefix(path) {
                Some(leaf) if !leaf.contains('/') => {
                    values.insert(leaf.to_string(), value.to_string());
                }
                _ => tracing::debug!(
                    parameter = name,
                    "ignoring a parameter nested below the configuration path"
                ),
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next_token = Some(t.to_string()),
            _ => break,
        }
    }
    for leaf in values.keys() {
        let known = REQUIRED.iter().any(|(r, _)| r == leaf)
            || leaf == parameter::CA_BUNDLE
            || leaf == parameter::SYNC_SETTINGS;
        if !known {
            tracing::warn!(
                parameter = %format!("{path}{leaf}"),
                "ignoring an unrecognised parameter under the configuration path (misspelt?)"
            );
        }
    }
    Ok(values)
}

fn describe_ssm_error<E, R>(err: &aws_sdk_ssm::error::SdkError<E, R>, path: &str) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some("AccessDeniedException") => format!(
            "access denied ({}): the role needs ssm:GetParametersByPath on \
                arn:aws:ssm:<region>:<account>:parameter{path}, and kms:Decrypt for SecureString \
                parameters under a customer-managed key",
            err.message().unwrap_or("no detail")
        ),
        Some(code) => format!("{code}: {}", err.message().unwrap_or("no detail")),
        None => format!(
            "{} (check network access to SSM, the region and AWS_ENDPOINT_URL)",
            DisplayErrorContext(err)
        ),
    }
}

/// A secret read that distinguishes "does not exist" (reported with the other missing items)
/// from every other failure.
enum Fetch {
    NotFound,
    Failed(ConfigError),
}

impl Fetch {
    fn into_error(self, if_missing: MissingItem) -> ConfigError {
        match self {
            Fetch::Failed(e) => e,
            Fetch::NotFound => ConfigError::Missing(vec![if_missing]),
        }
    }
}

fn secret_missing(id: &str, hint: &str) -> MissingItem {
    MissingItem {
        kind: MissingKind::Secret,
        name: id.to_string(),
        hint: hint.to_string(),
    }
}

const TOKEN_HINT: &str =
    "create it with the access token from the IAM Identity Center console (Settings > Automatic \
    provisioning), as the token alone or as {\"SCIM-API-Token\": \"<token>\"}";
const CREDENTIALS_HINT: &str =
    "create it with the read-only directory account as JSON {\"username\": \
    \"svc-scim@example.com\", \"password\": \"…\"}";

async fn fetch_secret(client: &aws_sdk_secretsmanager::Client, id: &str) -> Result<String, Fetch> {
    let unreadable = |reason: String| {
        Fetch::Failed(ConfigError::SecretUnreadable {
            id: id.to_string(),
            reason,
        })
    };
    let out = match client.get_secret_value().secret_id(id).send().await {
        Ok(out) => out,
        Err(e) => {
            let detail = e.message().unwrap_or("no detail").to_string();
            return Err(match e.code() {
                Some("ResourceNotFoundException") => Fetch::NotFound,
                Some("AccessDeniedException") => unreadable(format!(
                    "access denied ({detail}): the role needs secretsmanager:GetSecretValue \
                        on it, and kms:Decrypt if it uses a customer-managed key"
                )),
                Some("DecryptionFailure") => unreadable(format!(
                    "its KMS key cannot decrypt it ({detail}): grant the role kms:Decrypt on \
                        the secret's key"
                )),
                Some(code) => unreadable(format!("{code}: {detail}")),
                None => unreadable(format!(
                    "{} (check network access to Secrets Manager, the region and AWS_ENDPOINT_URL)",
                    DisplayErrorContext(&e)
                )),
            });
        }
    };
    match out.secret_string() {
        Some(s) => Ok(s.to_string()),
        None => Err(Fetch::Failed(ConfigError::SecretMalformed {
            id: id.to_string(),
            reason: "it holds a binary value: store it as a secret string".into(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_the_samples() {
        let n = AwsNames::from_lookup(|_| None);
        assert_eq!(n, AwsNames::default());
        assert_eq!(n.parameter(parameter::SCIM_URI), "/IAM-IDC/SCIM-URI");
        assert_eq!(n.token_secret_id, "IAM-IDC/SCIM-API-Token");
        assert_eq!(n.ldap_secret_id, "IAM-IDC/AD-RO-UserCreds");
    }

    #[test]
    fn env_overrides_replace_each_name_and_the_path_is_normalised() {
        let n = AwsNames::from_lookup(|k| match k {
            ENV_PARAMETER_PATH => Some("prod/scim-sync".into()),
            ENV_TOKEN_SECRET_ID => Some("prod/token".into()),
            ENV_LDAP_SECRET_ID => Some("  ".into()),
            _ => None,
        });
        assert_eq!(n.parameter_path, "/prod/scim-sync/");
        assert_eq!(n.parameter("SCIM-URI"), "/prod/scim-sync/SCIM-URI");
        assert_eq!(n.token_secret_id, "prod/token");
        assert_eq!(
            n.ldap_secret_id, DEFAULT_LDAP_SECRET_ID,
            "a blank override is ignored"
        );
        assert_eq!(
            AwsNames::default()
                .with_parameter_path("/IAM-IDC")
                .parameter_path,
            "/IAM-IDC/"
        );
    }
}
