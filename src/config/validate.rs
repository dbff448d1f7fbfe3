//! Checks and normalisations shared by both sources (SSM and the TOML file). Each returns the
//! reason as a string; the caller wraps it with the parameter or setting name.

use crate::model::settings::ScimEndpoint;

/// The SCIM endpoint, checked by its type's own parser (the one place a SCIM URL is
/// validated); the reason comes back for the caller to wrap with the setting's name.
pub(crate) fn scim_url(raw: &str) -> Result<ScimEndpoint, String> {
    ScimEndpoint::parse(raw)
}

/// The sample stores the prefix as a PowerShell `-like` pattern (`aws-*`); a trailing `*` is
/// dropped, any other wildcard is refused rather than silently matched literally.
pub(crate) fn group_prefix(raw: &str) -> Result<String, String> {
    let prefix = raw.trim().trim_end_matches('*');
    if prefix.contains('*') || prefix.contains('?') {
        return Err(format!(
            "{raw:?} has a wildcard before the end: only a prefix with an optional trailing * \
                (like aws-*) is supported"
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

/// The SID of an Active Directory domain (`S-1-5-21-a-b-c`: the domain head's objectSid, an
/// account SID without its last part), in the canonical uppercase `S-` form.
pub(crate) fn domain_sid(raw: &str) -> Result<String, String> {
    let sid = raw.trim();
    let parts: Option<Vec<u32>> = sid
        .strip_prefix("S-1-5-21-")
        .or_else(|| sid.strip_prefix("s-1-5-21-"))
        .map(|rest| rest.split('-').map(|p| p.parse::<u32>().ok()).collect())
        .unwrap_or(None);
    match parts {
        Some(p) if p.len() == 3 => Ok(format!("S-1-5-21-{}-{}-{}", p[0], p[1], p[2])),
        _ => Err(format!(
            "{raw:?} is not a domain SID: expected S-1-5-21- and three numbers (the objectSid \
             of the domain's head, as `Get-ADDomain` prints it as DomainSID; an account's SID \
             has one number more)"
        )),
    }
}

/// A name that must be present.
pub(crate) fn non_empty(raw: &str, what: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(format!("the value is empty: give {what}"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_url_accepts_https_and_normalises_the_trailing_slash() {
        let want = "https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2/";
        assert_eq!(
            scim_url("https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2")
                .unwrap()
                .as_str(),
            want
        );
        assert_eq!(
            scim_url(" https://scim.eu-west-1.amazonaws.com/abc-123/scim/v2// ")
                .unwrap()
                .as_str(),
            want
        );
    }

    #[test]
    fn scim_url_allows_http_only_on_loopback() {
        assert_eq!(
            scim_url("http://127.0.0.1:8080/scim/v2").unwrap().as_str(),
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
    fn group_prefix_drops_the_powershell_wildcard() {
        assert_eq!(group_prefix("aws-*").unwrap(), "aws-");
        assert_eq!(group_prefix("AWS-").unwrap(), "AWS-");
        assert_eq!(group_prefix("*").unwrap(), "");
        assert!(group_prefix("aws-*-prod").is_err());
    }

    #[test]
    fn dn_shapes_are_checked() {
        assert!(distinguished_name("OU=AWS,DC=example,DC=com").is_ok());
        assert!(distinguished_name("example.com").is_err());
    }
}
