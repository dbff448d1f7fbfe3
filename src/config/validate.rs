//! Checks and normalisations shared by both sources (SSM and the TOML file). Each returns the
//! reason as a string; the caller wraps it with the parameter or setting name.

use std::net::IpAddr;

use url::{Host, Url};

use super::settings::defaults;

/// Accepts the SCIM endpoint only over https, except on a loopback address (the tests and the
/// local demo run an emulator there); returns it ending in exactly one `/`.
pub(crate) fn scim_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let mut url = Url::parse(raw).map_err(|e| {
        format!("{raw:?} is not a URL ({e}); expected the SCIM endpoint from the IAM Identity Center console, like https://scim.eu-west-1.amazonaws.com/<tenant>/scim/v2/")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url.host()) => {}
        "http" => {
            return Err(format!(
                "{raw:?} uses http://: the SCIM endpoint must use https:// (plain http is accepted only for a loopback test endpoint such as http://127.0.0.1:8080/scim/v2/)"
            ))
        }
        other => return Err(format!("{raw:?} has scheme {other:?}: the SCIM endpoint must use https://")),
    }
    if url.host().is_none() {
        return Err(format!("{raw:?} has no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the URL must not contain credentials: the token belongs in its own secret".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{raw:?} must not have a query (?…) or fragment (#…)"
        ));
    }
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url.into())
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Turns the sample's `Domain-Controller` value (an FQDN, optionally `:port`) or an LDAP URL
/// into `scheme://host:port`. An FQDN means LDAPS on 636 (or LDAP + StartTLS on 389 when
/// `start_tls` is set). Plain `ldap://` without StartTLS needs `allow_plain`, because the bind
/// password would cross the network in clear.
pub(crate) fn ldap_url(raw: &str, start_tls: bool, allow_plain: bool) -> Result<String, String> {
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

/// The sample stores the prefix as a PowerShell `-like` pattern (`aws-*`); a trailing `*` is
/// dropped, any other wildcard is refused rather than silently matched literally.
pub(crate) fn group_prefix(raw: &str) -> Result<String, String> {
    let prefix = raw.trim().trim_end_matches('*');
    if prefix.contains('*') || prefix.contains('?') {
        return Err(format!(
            "{raw:?} has a wildcard before the end: only a prefix with an optional trailing * (like aws-*) is supported"
        ));
    }
    Ok(prefix.to_string())
}

/// A distinguished name such as `OU=AWS,DC=example,DC=com`.
pub(crate) fn distinguished_name(raw: &str) -> Result<String, String> {
    let dn = raw.trim();
    if dn.is_empty() || !dn.contains('=') {
        return Err(format!(
            "{raw:?} is not a distinguished name: expected something like OU=AWS,DC=example,DC=com"
        ));
    }
    Ok(dn.to_string())
}

/// A name that must be present.
pub(crate) fn non_empty(raw: &str, what: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(format!("the value is empty: give {what}"));
    }
    Ok(value.to_string())
}

/// One or more PEM certificates.
pub(crate) fn ca_bundle(raw: &str) -> Result<String, String> {
    let pem = raw.trim();
    if !(pem.contains("-----BEGIN CERTIFICATE-----") && pem.contains("-----END CERTIFICATE-----")) {
        return Err(
            "it holds no PEM certificate: expected -----BEGIN CERTIFICATE----- … -----END CERTIFICATE----- blocks of the CA that signed the domain controllers' certificates".into(),
        );
    }
    Ok(format!("{pem}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_url_accepts_https_and_normalises_the_trailing_slash() {
        let want = "https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2/";
        assert_eq!(
            scim_url("https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2").unwrap(),
            want
        );
        assert_eq!(
            scim_url(" https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2// ").unwrap(),
            want
        );
    }

    #[test]
    fn scim_url_allows_http_only_on_loopback() {
        assert_eq!(
            scim_url("http://127.0.0.1:8080/scim/v2").unwrap(),
            "http://127.0.0.1:8080/scim/v2/"
        );
        assert!(scim_url("http://127.5.6.7:8080/").is_ok());
        assert!(scim_url("http://localhost:8080/scim/v2/").is_ok());
        assert!(scim_url("http://[::1]:8080/scim/v2/").is_ok());
        let err = scim_url("http://scim.eu-west-1.amazonaws.com/x/scim/v2/").unwrap_err();
        assert!(err.contains("must use https://"), "{err}");
        assert!(scim_url("http://10.0.0.1/scim/v2/").is_err());
        assert!(scim_url("http://localhost.evil.example/scim/v2/").is_err());
    }

    #[test]
    fn scim_url_refuses_other_shapes() {
        assert!(scim_url("scim.amazonaws.com/x")
            .unwrap_err()
            .contains("not a URL"));
        assert!(scim_url("ftp://example.com/").is_err());
        assert!(scim_url("https://user:pw@example.com/")
            .unwrap_err()
            .contains("credentials"));
        assert!(scim_url("https://example.com/scim/v2/?x=1").is_err());
    }

    #[test]
    fn domain_controller_fqdn_becomes_ldaps_636() {
        assert_eq!(
            ldap_url("corp.example.com", false, false).unwrap(),
            "ldaps://corp.example.com:636"
        );
        assert_eq!(
            ldap_url("dc1.example.com:3269", false, false).unwrap(),
            "ldaps://dc1.example.com:3269"
        );
        assert_eq!(
            ldap_url("10.0.0.5", false, false).unwrap(),
            "ldaps://10.0.0.5:636"
        );
        assert_eq!(ldap_url("::1", false, false).unwrap(), "ldaps://[::1]:636");
        assert_eq!(
            ldap_url("corp.example.com", true, false).unwrap(),
            "ldap://corp.example.com:389"
        );
    }

    #[test]
    fn ldap_urls_are_normalised_with_an_explicit_port() {
        assert_eq!(
            ldap_url("ldaps://dc1.example.com", false, false).unwrap(),
            "ldaps://dc1.example.com:636"
        );
        assert_eq!(
            ldap_url("ldaps://dc1.example.com:636/", false, false).unwrap(),
            "ldaps://dc1.example.com:636"
        );
        assert_eq!(
            ldap_url("LDAPS://127.0.0.1:1636", false, false).unwrap(),
            "ldaps://127.0.0.1:1636"
        );
        assert_eq!(
            ldap_url("ldap://dc1.example.com", true, false).unwrap(),
            "ldap://dc1.example.com:389"
        );
    }

    #[test]
    fn plain_ldap_needs_an_explicit_opt_in() {
        let err = ldap_url("ldap://dc1.example.com", false, false).unwrap_err();
        assert!(
            err.contains("unencrypted") && err.contains("allowPlainLdap"),
            "{err}"
        );
        assert_eq!(
            ldap_url("ldap://dc1.example.com", false, true).unwrap(),
            "ldap://dc1.example.com:389"
        );
        // The opt-in allows plain LDAP; it does not downgrade a bare host name.
        assert_eq!(
            ldap_url("dc1.example.com", false, true).unwrap(),
            "ldaps://dc1.example.com:636"
        );
    }

    #[test]
    fn conflicting_or_odd_ldap_values_are_refused() {
        assert!(ldap_url("ldaps://dc1.example.com", true, false)
            .unwrap_err()
            .contains("StartTLS"));
        assert!(ldap_url("https://dc1.example.com", false, false).is_err());
        assert!(ldap_url("ldaps://dc1.example.com/dc=example", false, false).is_err());
        assert!(ldap_url("EXAMPLE\\dc1", false, false).is_err());
        assert!(ldap_url("dc1 example com", false, false).is_err());
        assert!(ldap_url("dc1.example.com:notaport", false, false).is_err());
        assert!(ldap_url("", false, false).is_err());
    }

    #[test]
    fn group_prefix_drops_the_powershell_wildcard() {
        assert_eq!(group_prefix("aws-*").unwrap(), "aws-");
        assert_eq!(group_prefix("AWS-").unwrap(), "AWS-");
        assert_eq!(group_prefix("*").unwrap(), "");
        assert!(group_prefix("aws-*-prod").is_err());
    }

    #[test]
    fn dn_and_ca_bundle_shapes_are_checked() {
        assert!(distinguished_name("OU=AWS,DC=example,DC=com").is_ok());
        assert!(distinguished_name("example.com").is_err());
        assert!(ca_bundle("not a cert").is_err());
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(ca_bundle(pem).unwrap(), format!("{pem}\n"));
    }
}
