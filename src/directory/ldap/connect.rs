//! Opening the connection: transport choice (LDAPS by default, StartTLS, plain LDAP only on
//! explicit opt-in), certificate verification against an optional private CA, time limits,
//! and the simple bind with the read-only account.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};

use crate::directory::error::{ad_data_code, bind_data_meaning, DirectoryError};

use crate::model::settings::{CaBundle, LdapSettings};

/// TLS settings trusting exactly the given CA bundle (a private AD CS CA is the usual case);
/// the bundle itself was checked when the settings were loaded.
fn tls_config(bundle: &CaBundle) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    let bad = |r: String| DirectoryError::Settings(format!("the CA bundle is unusable: {r}"));
    let roots = bundle.root_store();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Connects, secures and binds; the returned handle is ready for searches.
pub(crate) async fn connect_and_bind(
    settings: &LdapSettings,
    url: &str,
) -> Result<Ldap, DirectoryError> {
    if settings.bind_password.is_empty() {
        return Err(DirectoryError::EmptyPassword {
            bind_dn: settings.bind_dn.clone(),
        });
    }
    if settings.bind_dn.trim().is_empty() {
        return Err(DirectoryError::Settings(
            "the bind name is empty; set the read-only account (a UPN or DN)".into(),
        ));
    }
    let mut conn_settings = LdapConnSettings::new()
        .set_conn_timeout(settings.connect_timeout)
        .set_starttls(settings.start_tls);
    if let Some(bundle) = &settings.ca_bundle {
        conn_settings = conn_settings.set_config(tls_config(bundle)?);
    }
    // The connect timeout covers TCP; the TLS handshake (and StartTLS exchange) gets the
    // operation timeout on top, so a server that accepts but never answers cannot hang us.
    let limit = settings.connect_timeout + settings.operation_timeout;
    let (conn, mut ldap) =
        match tokio::time::timeout(limit, LdapConnAsync::with_settings(conn_settings, url)).await {
            Err(_) => return Err(timeout(url, "connect", limit)),
            Ok(Err(e)) => return Err(connect_error(url, settings, e)),
            Ok(Ok(pair)) => pair,
        };
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(error = %e, "LDAP connection ended with an error");
        }
    });
    let result = ldap
        .with_timeout(settings.operation_timeout)
        .simple_bind(&settings.bind_dn, settings.bind_password.expose())
        .await
        .map_err(|e| op_error(url, "bind", settings.operation_timeout, e))?;
    if result.rc != 0 {
        let data = ad_data_code(&result.text);
        let meaning = match (&data, result.rc) {
            (Some(d), _) => bind_data_meaning(d).to_string(),
            (None, 49) => {
                "invalid credentials; check the bind name and password in the credentials secret"
                    .into()
            }
            (None, 8) => {
                "the server requires an encrypted connection; use ldaps:// or StartTLS".into()
            }
            (None, _) => format!("the server said: {}", result.text.trim()),
        };
        return Err(DirectoryError::Bind {
            bind_dn: settings.bind_dn.clone(),
            code: result.rc,
            data,
            meaning,
        });
    }
    Ok(ldap)
}

pub(crate) fn timeout(url: &str, operation: &str, limit: Duration) -> DirectoryError {
    DirectoryError::Timeout {
        url: url.to_string(),
        operation: operation.to_string(),
        seconds: limit.as_secs().max(1),
    }
}

fn connect_error(url: &str, settings: &LdapSettings, e: LdapError) -> DirectoryError {
    let detail = error_chain(&e);
    let lower = detail.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        return DirectoryError::Certificate {
            url: url.to_string(),
            detail,
        };
    }
    if matches!(e, LdapError::Timeout { .. }) {
        return timeout(url, "connect", settings.connect_timeout);
    }
    if matches!(e, LdapError::DNSName { .. }) {
        return DirectoryError::Settings(format!(
            "{url}: the host is not a valid TLS server name ({detail}); use a DNS name or an IPv4 address"
        ));
    }
    DirectoryError::Connect {
        url: url.to_string(),
        detail,
    }
}

/// Maps a failed operation (not a server result code) to an error of the whole read.
pub(crate) fn op_error(
    url: &str,
    operation: &str,
    limit: Duration,
    e: LdapError,
) -> DirectoryError {
    match e {
        LdapError::Timeout { .. } => timeout(url, operation, limit),
        LdapError::LdapResult { result } => DirectoryError::Search {
            operation: operation.to_string(),
            base: String::new(),
            code: result.rc,
            message: result.text,
        },
        other => DirectoryError::Connection {
            url: url.to_string(),
            operation: operation.to_string(),
            detail: error_chain(&other),
        },
    }
}

/// The error and its sources in one line (rustls' reason is often two levels down).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::LdapUrl;
    use crate::secret::Secret;

    fn settings(url: &str, password: &str) -> LdapSettings {
        let url = LdapUrl::parse(url, false, false).unwrap();
        LdapSettings::new(url, "svc@example.test", Secret::new(password))
    }

    #[tokio::test]
    async fn empty_password_is_refused_before_any_connection() {
        // Nothing listens on port 1 of this address: reaching the network would give Connect.
        let s = settings("ldaps://127.0.0.1:1", "");
        let err = connect_and_bind(&s, "ldaps://127.0.0.1:1")
            .await
            .unwrap_err();
        assert!(matches!(err, DirectoryError::EmptyPassword { .. }), "{err}");
    }

    #[test]
    fn settings_debug_output_hides_the_password() {
        let s = settings("dc1", "hunter2-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
