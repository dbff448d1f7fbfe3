//! Why a directory read failed as a whole. Each message names what the operator should
//! check or change; none contains the bind password.

use std::path::PathBuf;

/// Where the bind password usually lives, named in bind errors so the operator knows what to
/// update (the PowerShell original's secret name).
pub const CREDENTIALS_SECRET_HINT: &str = "IAM-IDC/AD-RO-UserCreds";

/// A failure of the whole directory read: no snapshot is produced, so the planner never
/// mistakes a broken read for users that left.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The settings cannot work (URL, TLS options, CA bundle, scope values).
    #[error("directory settings are invalid: {0}")]
    Settings(String),

    /// Refused before binding: AD treats an empty password as an anonymous bind and may
    /// report success.
    #[error("the bind password for {bind_dn} is empty; set the read-only account's password (secret {CREDENTIALS_SECRET_HINT} or the config file)")]
    EmptyPassword { bind_dn: String },

    /// TCP connection or TLS set-up failed (not a certificate problem).
    #[error("cannot connect to the directory at {url}: {detail}; check the domain controller address, the port and the network path")]
    Connect { url: String, detail: String },

    /// The server's certificate was not accepted.
    #[error("the TLS certificate of {url} is not trusted ({detail}); give the PEM of the CA that signed the domain controller's certificate (caBundleFile), and connect with a name or address the certificate lists")]
    Certificate { url: String, detail: String },

    /// An operation did not finish within its time limit.
    #[error("directory operation {operation} at {url} timed out after {seconds} s; check the server's health or raise the timeout")]
    Timeout {
        url: String,
        operation: String,
        seconds: u64,
    },

    /// The simple bind was rejected.
    #[error("LDAP bind as {bind_dn} failed ({code}{}): {meaning}", data.as_ref().map(|d| format!(", data {d}")).unwrap_or_default())]
    Bind {
        bind_dn: String,
        code: u32,
        /// AD's sub-code from the diagnostic text (`data 52e`), when present.
        data: Option<String>,
        meaning: String,
    },

    /// A search failed on the server (including a size limit or a rejected page).
    #[error("LDAP search {operation} under {base} failed ({code}): {message}")]
    Search {
        operation: String,
        base: String,
        code: u32,
        message: String,
    },

    /// A page or response that could not be decoded: the read stops rather than returning
    /// part of the directory.
    #[error("the directory sent a malformed response to {operation}: {detail}")]
    Protocol { operation: String, detail: String },

    /// The connection broke in the middle of the read.
    #[error("the connection to {url} failed during {operation}: {detail}")]
    Connection {
        url: String,
        operation: String,
        detail: String,
    },

    /// The configured sync group does not exist (or is not a group).
    #[error("sync group {name:?} was not found under {base}; check the sync group setting (a group name such as aws-sync-users, or its DN)")]
    SyncGroupNotFound { name: String, base: String },

    /// A group of `scope.excludeGroups` does not exist (or is not a group).
    #[error("exclusion group {name:?} (scope.excludeGroups) was not found under {base}; nothing was changed, since going on would sync the users it is meant to keep out; fix the name (a group name or its DN) or remove it")]
    ExcludeGroupNotFound { name: String, base: String },

    /// The sync group name matches more than one group.
    #[error("sync group name {name:?} matches {} groups ({}); set the sync group to the DN of the intended one", dns.len(), dns.join("; "))]
    SyncGroupAmbiguous { name: String, dns: Vec<String> },

    /// The LDIF text is not LDIF.
    #[error("LDIF line {line}: {reason}")]
    LdifSyntax { line: usize, reason: String },

    /// The LDIF file could not be read.
    #[error("cannot read the LDIF export {}: {source}", path.display())]
    LdifFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The meaning of AD's bind sub-code (the `data XXX` part of a code-49 diagnostic).
pub(crate) fn bind_data_meaning(data: &str) -> &'static str {
    match data {
        "525" => "no such account; check the bind name (a UPN such as svc@example.com, or a DN)",
        "52e" => "wrong password; update the password in secret IAM-IDC/AD-RO-UserCreds (or the config file)",
        "530" => "the account may not log on at this time",
        "531" => "the account may not log on from this computer",
        "532" => "the password has expired; set a new one and update the credentials secret",
        "533" => "the account is disabled; enable the read-only account",
        "701" => "the account has expired",
        "773" => "the password must be changed before first use; set one and update the credentials secret",
        "775" => "the account is locked out; unlock it and check for a stale password",
        _ => "the directory refused the credentials",
    }
}

/// Pulls AD's `data XXX` sub-code out of a diagnostic message.
pub(crate) fn ad_data_code(text: &str) -> Option<String> {
    let idx = text.find("data ")?;
    let code: String = text[idx + 5..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    (!code.is_empty()).then(|| code.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_sub_codes_are_found() {
        assert_eq!(
            ad_data_code("80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563").as_deref(),
            Some("52e")
        );
        assert_eq!(ad_data_code("no code here"), None);
    }

    #[test]
    fn bind_message_names_the_fix_and_not_the_password() {
        let e = DirectoryError::Bind {
            bind_dn: "svc@example.test".into(),
            code: 49,
            data: Some("52e".into()),
            meaning: bind_data_meaning("52e").into(),
        };
        assert_eq!(
            e.to_string(),
            "LDAP bind as svc@example.test failed (49, data 52e): wrong password; update the password in secret IAM-IDC/AD-RO-UserCreds (or the config file)"
        );
    }
}
