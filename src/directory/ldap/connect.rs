//! Opening the connection: transport choice (LDAPS by default, StartTLS, plain LDAP only on
//! explicit opt-in), certificate verification against an optional private CA, time limits,
//! and the simple bind with the read-only account.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::directory::error::{ad_data_code, bind_data_meaning, DirectoryError};

use super::LdapSettings;

/// The URL actually dialled: a bare host (`dc1.example.com`, `dc1.example.com:3269`) means
/// LDAPS on 636 (or `ldap://host:389` with StartTLS); plain LDAP needs the explicit opt-in.
pub(crate) fn effective_url(settings: &LdapSettings) -> Result<String, DirectoryError> {
    let raw = settings.url.trim();
    if raw.is_empty() {
        return Err(DirectoryError::Settings(
            "the directory URL is empty".into(),
        ));
    }
    let url = if raw.contains("://") {
        raw.trim_end_matches('/').to_string()
    } else if settings.start_tls {
        with_default_port("ldap", raw, 389)
    } else {
        with_default_port("ldaps", raw, 636)
    };
    let scheme = url
        .split("://")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match (scheme.as_str(), settings.start_tls) {
        ("ldaps", true) => Err(DirectoryError::Settings(format!(
            "{url} is already TLS (ldaps://); StartTLS applies to ldap:// only"
        ))),
        ("ldaps", false) | ("ldap", true) => Ok(url),
        ("ldap", false) if settings.allow_plain_ldap => Ok(url),
        ("ldap", false) => Err(DirectoryError::PlainLdapRefused { url }),
        _ => Err(DirectoryError::Settings(format!(
            "{url} is not an LDAP URL: use ldaps://host:636 or just the host name"
        ))),
    }
}

fn with_default_port(scheme: &str, host: &str, port: u16) -> String {
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && !h.ends_with(':') && p.parse::<u16>().is_ok());
    if has_port {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

/// TLS settings trusting exactly the given CA bundle (a private AD CS CA is the usual case).
fn tls_config(pem: &str) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    let bad = |r: String| DirectoryError::Settings(format!("the CA bundle is unusable: {r}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| bad(format!("not PEM ({e})")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("a certificate was rejected ({e})")))?;
    }
    if roots.is_empty() {
        return Err(bad("it contains no CERTIFICATE block".into()));
    }
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
    if let Some(pem) = &settings.ca_bundle_pem {
        conn_settings = conn_settings.set_config(tls_config(pem)?);
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
    use crate::secret::Secret;

    fn settings(url: &str) -> LdapSettings {
        LdapSettings::new(url, "svc@example.test", Secret::new("pw"))
    }

    #[test]
    fn bare_hosts_mean_ldaps_636() {
        assert_eq!(
            effective_url(&settings("dc1.example.com")).unwrap(),
            "ldaps://dc1.example.com:636"
        );
        assert_eq!(
            effective_url(&settings("dc1.example.com:3269")).unwrap(),
            "ldaps://dc1.example.com:3269"
        );
        let mut s = settings("dc1.example.com");
        s.start_tls = true;
        assert_eq!(effective_url(&s).unwrap(), "ldap://dc1.example.com:389");
    }

    #[test]
    fn plain_ldap_needs_opt_in_and_ldaps_refuses_starttls() {
        let mut s = settings("ldap://127.0.0.1:389");
        assert!(matches!(
            effective_url(&s),
            Err(DirectoryError::PlainLdapRefused { .. })
        ));
        s.allow_plain_ldap = true;
        assert!(effective_url(&s).is_ok());
        let mut s = settings("ldaps://dc1");
        s.start_tls = true;
        assert!(matches!(
            effective_url(&s),
            Err(DirectoryError::Settings(_))
        ));
        assert!(effective_url(&settings("https://dc1")).is_err());
    }

    #[tokio::test]
    async fn empty_password_is_refused_before_any_connection() {
        // Nothing listens on port 1 of this address: reaching the network would give Connect.
        let s = LdapSettings::new("ldaps://127.0.0.1:1", "svc@example.test", Secret::new(""));
        let err = connect_and_bind(&s, "ldaps://127.0.0.1:1")
            .await
            .unwrap_err();
        assert!(matches!(err, DirectoryError::EmptyPassword { .. }), "{err}");
    }

    #[test]
    fn settings_debug_output_hides_the_password() {
        let s = LdapSettings::new("dc1", "svc@example.test", Secret::new("hunter2-secret"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_ca_bundle_without_certificates_is_a_settings_error() {
        let err = tls_config("not a pem").unwrap_err();
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
    }
}
