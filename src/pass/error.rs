use crate::config::ConfigError;
use crate::directory::DirectoryError;
use crate::identity_center::ScimError;

/// Why a pass could not run. A pass that ran but had some writes fail is not an error: its
/// failures are in the summary.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// Nothing was written: a pass never acts on a partial directory.
    #[error("reading the directory failed, so nothing was changed: {0}")]
    Directory(#[from] DirectoryError),
    /// Nothing was written: without Identity Center's state the plan would be guesswork.
    #[error("reading Identity Center failed, so nothing was changed: {0}")]
    IdentityCenter(#[from] ScimError),
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// `--only` or `explain` named an object neither side knows.
    #[error(
        "no user or group answers to {0:?}: searched directory users in scope by \
         sAMAccountName, userPrincipalName, DN and objectSid, groups in scope by cn, DN and \
         objectGUID, and Identity Center users by userName and externalId and groups by \
         displayName and externalId"
    )]
    NotFound(String),
    /// An incremental pass cannot run as asked (an LDIF source, `--only`, no watermark
    /// store); nothing was read or written.
    #[error("{0}")]
    Incremental(String),
}

impl PassError {
    /// True when the SCIM token was rejected, which an operator fixes by rotating it.
    pub fn is_token_rejected(&self) -> bool {
        matches!(self, PassError::IdentityCenter(e) if e.is_auth_failure())
    }
}
