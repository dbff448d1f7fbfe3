//! The directory's address, checked once: an unencrypted connection is never dialled by
//! accident, and the reader gets an explicit `scheme://host:port`.

use std::fmt;
use std::net::IpAddr;

use url::Url;

use super::defaults;

/// `ldaps://host:port` or `ldap://host:port`, validated against the transport settings it
/// was parsed with. The only constructor is [`LdapUrl::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapUrl(String);

impl LdapUrl {
    /// Accepts the PowerShell sample's `Domain-Controller` value (an FQDN, optionally with
    /// `:port`, meaning LDAPS on 636, or LDAP + StartTLS on 389 with `start_tls`) or an LDAP
    /// URL. Plain `ldap://` without StartTLS needs `allow_plain`. The error is the reason, for
    /// the caller to wrap with the setting's name.
    pub fn parse(raw: &str, start_tls: bool, allow_plain: bool) -> Result<Self, String> {
        normalise(raw, start_tls, allow_plain).map(Self)
    }

    /// The URL to dial.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for `ldap://` (plain, or upgraded with StartTLS).
    pub fn is_ldap_scheme(&self) -> bool {
        self.0.starts_with("ldap://")
    }
}

impl fmt::Display for LdapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns the sample's `Domain-Controller` value (an FQDN, optionally `:port`) or an LDAP URL
/// into `scheme://host:port`. An FQDN means LDAPS on 636 (or LDAP + StartTLS on 389 when
/// `start_tls` is set). Plain `ldap://` without StartTLS needs `allow_plain`, because the bind
/// password would cross the network in clear.
fn normalise(raw: &str, start_tls: bool, allow_plain: bool) -> Result<String, String> {
    let raw = raw.trim();
    let (scheme, host, port) = if raw.contains("://") {
        let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
        let scheme = url.scheme().to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "ldaps" => defaults::LDAPS_PORT,
            "ldap" => defaults::LDAP_PORT,
            other => {
                return Err(format!(
                    "{raw:?} has scheme {other:?}: use ldaps://host:636 or a host name"
                ))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{raw:?} has no host name"))?
            .to_string();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the URL must not contain credentials: they belong in the credentials secret"
                    .into(),
            );
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{raw:?} must be only scheme://host[:port], without a path or query"
            ));
        }
        (scheme, host, url.port().unwrap_or(default_port))
    } else {
        let (host, port) = split_host_port(raw)?;
        let (scheme, default_port) = if start_tls {
            ("ldap".to_string(), defaults::LDAP_PORT)
        } else {
            ("ldaps".to_string(), defaults::LDAPS_PORT)
        };
        (scheme, host, port.unwrap_or(default_port))
    };
    match (scheme.as_str(), start_tls) {
        ("ldaps", true) => {
            return Err(format!(
                "{raw:?} is ldaps:// but startTls is set: StartTLS applies to ldap:// only; unset startTls or use ldap://{host}:389"
            ))
        }
        ("ldap", false) if !allow_plain => {
            return Err(format!(
                "{raw:?} is unencrypted ldap://: use ldaps://{host}:636 (or just the host name), or set startTls = true; allowPlainLdap = true accepts plain LDAP for test directories only"
            ))
        }
        _ => {}
    }
    Ok(format!("{scheme}://{host}:{port}"))
}

/// `dc1.example.com`, `dc1.example.com:3269`, `10.0.0.5`.
fn split_host_port(raw: &str) -> Result<(String, Option<u16>), String> {
    let bad = || {
        format!("{raw:?} is neither a host name (dc1.example.com) nor an LDAP URL (ldaps://dc1.example.com:636)")
    };
    if raw.is_empty() {
        return Err(
            "the value is empty: give the domain's or a domain controller's DNS name".into(),
        );
    }
    let (host, port) = match raw.rsplit_once(':') {
        Some((h, p)) if raw.parse::<IpAddr>().is_err() => {
            (h, Some(p.parse::<u16>().map_err(|_| bad())?))
        }
        _ => (raw, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':');
    if !host_ok {
        return Err(bad());
    }
    let host = if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str, start_tls: bool, allow_plain: bool) -> Result<String, String> {
        LdapUrl::parse(raw, start_tls, allow_plain).map(|u| u.0)
    }

    #[test]
    fn domain_controller_fqdn_becomes_ldaps_636() {
        assert_eq!(
            parse("corp.example.com", false, false).unwrap(),
            "ldaps://corp.example.com:636"
        );
        assert_eq!(
            parse("dc1.example.com:3269", false, false).unwrap(),
            "ldaps://dc1.example.com:3269"
        );
        assert_eq!(
            parse("10.0.0.5", false, false).unwrap(),
            "ldaps://10.0.0.5:636"
        );
        assert_eq!(parse("::1", false, false).unwrap(), "ldaps://[::1]:636");
        assert_eq!(
            parse("corp.example.com", true, false).unwrap(),
            "ldap://corp.example.com:389"
        );
    }

    #[test]
    fn ldap_urls_are_normalised_with_an_explicit_port() {
        assert_eq!(
            parse("ldaps://dc1.example.com", false, false).unwrap(),
            "ldaps://dc1.example.com:636"
        );
        assert_eq!(
            parse("ldaps://dc1.example.com:636/", false, false).unwrap(),
            "ldaps://dc1.example.com:636"
        );
        assert_eq!(
            parse("LDAPS://127.0.0.1:1636", false, false).unwrap(),
            "ldaps://127.0.0.1:1636"
        );
        assert_eq!(
            parse("ldap://dc1.example.com", true, false).unwrap(),
            "ldap://dc1.example.com:389"
        );
    }

    #[test]
    fn plain_ldap_needs_an_explicit_opt_in() {
        let err = parse("ldap://dc1.example.com", false, false).unwrap_err();
        assert!(
            err.contains("unencrypted") && err.contains("allowPlainLdap"),
            "{err}"
        );
        assert_eq!(
            parse("ldap://dc1.example.com", false, true).unwrap(),
            "ldap://dc1.example.com:389"
        );
        // The opt-in allows plain LDAP; it does not downgrade a bare host name.
        assert_eq!(
            parse("dc1.example.com", false, true).unwrap(),
            "ldaps://dc1.example.com:636"
        );
    }

    #[test]
    fn conflicting_or_odd_ldap_values_are_refused() {
        assert!(parse("ldaps://dc1.example.com", true, false)
            .unwrap_err()
            .contains("StartTLS"));
        assert!(parse("https://dc1.example.com", false, false).is_err());
        assert!(parse("ldaps://dc1.example.com/dc=example", false, false).is_err());
        assert!(parse("EXAMPLE\\dc1", false, false).is_err());
        assert!(parse("dc1 example com", false, false).is_err());
        assert!(parse("dc1.example.com:notaport", false, false).is_err());
        assert!(parse("", false, false).is_err());
    }
}
