//! Configuration: where scim-sync finds its settings, and the validated [`Settings`] the rest
//! of the program runs on.
//!
//! Two sources, one result:
//! - **AWS** ([`load_from_aws`]), for the Lambda: the SSM parameters and Secrets Manager secrets
//!   the AWS PowerShell sample (aws-samples/aws-iam-identity-center-scim-sync) created, under
//!   `/IAM-IDC/`, so its users switch without re-creating anything, plus one optional
//!   parameter `/IAM-IDC/Sync-Settings` for everything the sample did not have.
//! - **A TOML file** ([`load_from_file`]), for the CLI and the local demo, which can also read
//!   an LDIF export instead of a live directory.
//!
//! The full reference of every setting is `docs/configuration.md`.

mod aws;
mod document;
mod error;
mod file;
mod lease;
mod scope;
mod secrets;
mod settings;
mod validate;

pub use aws::{
    load_from_aws, parameter, reload_scim_token, AwsNames, DEFAULT_LDAP_SECRET_ID,
    DEFAULT_PARAMETER_PATH, DEFAULT_TOKEN_SECRET_ID, ENV_LDAP_SECRET_ID, ENV_PARAMETER_PATH,
    ENV_TOKEN_SECRET_ID,
};
pub use error::{ConfigError, MissingItem, MissingKind};
pub use file::load_from_file;
pub use lease::{LeaseConfig, DEFAULT_LEASE, ENV_LEASE_SECONDS, ENV_LEASE_TABLE};
pub use settings::{defaults, DirectorySource, RunConfig, Settings};
