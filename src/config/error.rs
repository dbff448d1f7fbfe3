//! Configuration errors, worded for the operator who has to fix the deployment.

use std::fmt;

/// Why the configuration could not be loaded. Every message names the parameter, secret,
/// file or setting at fault and says what to do; none ever contains a secret's value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Required SSM parameters or secrets do not exist; all of them are listed at once so a
    /// first deployment is fixed in one round.
    #[error("{}", MissingList(.0))]
    Missing(Vec<MissingItem>),

    /// SSM could not be read at all (permissions, network, endpoint).
    #[error("cannot read SSM parameters under {path}: {reason}")]
    ParameterStore { path: String, reason: String },

    /// A parameter exists but its value is unusable.
    #[error("SSM parameter {name} is invalid: {reason}")]
    InvalidParameter { name: String, reason: String },

    /// A secret exists but could not be read (permissions, KMS, network).
    #[error("cannot read secret {id}: {reason}")]
    SecretUnreadable { id: String, reason: String },

    /// A secret was read but its content has the wrong shape. The reason describes the shape,
    /// never the content.
    #[error("secret {id} is malformed: {reason}")]
    SecretMalformed { id: String, reason: String },

    /// The `--config` file could not be read.
    #[error("cannot read config file {path}: {source}")]
    FileRead {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The `--config` file is not valid TOML or does not follow the schema.
    #[error("config file {path} is invalid: {reason}")]
    FileInvalid { path: String, reason: String },

    /// One setting has a value outside its allowed range or shape. `origin` is the file or
    /// SSM parameter it came from.
    #[error("{origin}: setting {setting} is invalid: {reason}")]
    InvalidSetting {
        origin: String,
        setting: String,
        reason: String,
    },

    /// An environment variable named by the config file (`tokenEnv`, `passwordEnv`) is unset
    /// or empty.
    #[error("environment variable {var} (named by {setting} in {origin}) is not set or empty: export it before running")]
    MissingEnv {
        var: String,
        setting: String,
        origin: String,
    },
}

/// One required item that does not exist, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingItem {
    pub kind: MissingKind,
    /// The full name: `/IAM-IDC/SCIM-URI`, `IAM-IDC/SCIM-API-Token`.
    pub name: String,
    /// What to create, e.g. "create it with the SCIM endpoint URL from the IAM Identity
    /// Center console".
    pub hint: String,
}

/// Whether a missing item is an SSM parameter or a Secrets Manager secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKind {
    Parameter,
    Secret,
}

impl fmt::Display for MissingItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            MissingKind::Parameter => "SSM parameter",
            MissingKind::Secret => "secret",
        };
        write!(f, "{kind} {} is missing: {}", self.name, self.hint)
    }
}

struct MissingList<'a>(&'a [MissingItem]);

impl fmt::Display for MissingList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            items => {
                write!(
                    f,
                    "{} required configuration items are missing:",
                    items.len()
                )?;
                for item in items {
                    write!(f, "\n  - {item}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_items_are_all_listed_with_full_names() {
        let err = ConfigError::Missing(vec![
            MissingItem {
                kind: MissingKind::Parameter,
                name: "/IAM-IDC/SCIM-URI".into(),
                hint: "create it".into(),
            },
            MissingItem {
                kind: MissingKind::Secret,
                name: "IAM-IDC/SCIM-API-Token".into(),
                hint: "create it too".into(),
            },
        ]);
        let text = err.to_string();
        assert!(text.starts_with("2 required configuration items are missing:"));
        assert!(text.contains("SSM parameter /IAM-IDC/SCIM-URI is missing: create it"));
        assert!(text.contains("secret IAM-IDC/SCIM-API-Token is missing: create it too"));
    }

    #[test]
    fn a_single_missing_item_reads_as_one_sentence() {
        let err = ConfigError::Missing(vec![MissingItem {
            kind: MissingKind::Parameter,
            name: "/IAM-IDC/SCIM-URI".into(),
            hint: "create it with the SCIM endpoint URL".into(),
        }]);
        assert_eq!(
            err.to_string(),
            "SSM parameter /IAM-IDC/SCIM-URI is missing: create it with the SCIM endpoint URL"
        );
    }
}
