//! Just enough distinguished-name handling to compare DNs the way the directory does: the
//! same object can be written `CN=Smith\, John,OU=People` or `cn=smith\2C john, ou=people`
//! (member values, memberOf values, exports), and membership is resolved by DN.

use super::filter_escape::dn_value;

/// Splits a DN into `(type, unescaped value)` pairs, or `None` when it is not a valid DN.
/// Multi-valued RDNs (`a=1+b=2`) are kept as one pair whose value contains the raw `+` part.
pub fn parse_dn(dn: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = dn.trim().chars().peekable();
    if chars.peek().is_none() {
        return Some(out);
    }
    loop {
        let mut attr = String::new();
        let mut has_equals = false;
        for c in chars.by_ref() {
            if c == '=' {
                has_equals = true;
                break;
            }
            attr.push(c);
        }
        let attr = attr.trim().to_string();
        if attr.is_empty() || !has_equals {
            return None;
        }
        let mut bytes: Vec<u8> = Vec::new();
        let mut trailing_spaces = 0usize;
        let mut ended = true;
        while let Some(c) = chars.next() {
            match c {
                ',' | ';' => {
                    ended = false;
                    break;
                }
                '\\' => {
                    let a = chars.next()?;
                    if a.is_ascii_hexdigit() {
                        let b = chars.next()?;
                        let hex: String = [a, b].iter().collect();
                        bytes.push(u8::from_str_radix(&hex, 16).ok()?);
                    } else {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(a.encode_utf8(&mut buf).as_bytes());
                    }
                    trailing_spaces = 0;
                }
                ' ' if bytes.is_empty() => {}
                _ => {
                    if c == ' ' {
                        trailing_spaces += 1;
                    } else {
                        trailing_spaces = 0;
                    }
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        bytes.truncate(bytes.len() - trailing_spaces);
        out.push((attr, String::from_utf8(bytes).ok()?));
        if ended {
            return Some(out);
        }
    }
}

/// A comparison key for a DN: types and values lowercased, escaping and spacing made uniform.
/// A string that does not parse as a DN is only lowercased (it then matches only itself).
pub fn dn_key(dn: &str) -> String {
    match parse_dn(dn) {
        Some(rdns) => rdns
            .iter()
            .map(|(t, v)| format!("{}={}", t.to_lowercase(), dn_value(&v.to_lowercase())))
            .collect::<Vec<_>>()
            .join(","),
        None => dn.trim().to_lowercase(),
    }
}

/// True when `dn` is `base` or lies below it (both given as [`dn_key`]s).
pub fn key_is_under(dn_key: &str, base_key: &str) -> bool {
    base_key.is_empty()
        || dn_key == base_key
        || dn_key
            .strip_suffix(base_key)
            .is_some_and(|head| head.ends_with(','))
}

/// The value of the first RDN (e.g. a group's CN), unescaped.
pub fn first_rdn_value(dn: &str) -> Option<String> {
    parse_dn(dn)?.into_iter().next().map(|(_, v)| v)
}

/// The domain head a DN lies in: its trailing `DC=` components (`DC=corp,DC=example` for
/// `OU=People,DC=corp,DC=example`), which is the naming context of an Active Directory
/// domain; `None` when the DN ends in no `DC=` component.
pub fn domain_head(dn: &str) -> Option<String> {
    let rdns = parse_dn(dn)?;
    let start = rdns
        .iter()
        .rposition(|(t, _)| !t.eq_ignore_ascii_case("dc"))
        .map_or(0, |i| i + 1);
    let head = &rdns[start..];
    if head.is_empty() {
        return None;
    }
    Some(
        head.iter()
            .map(|(_, v)| format!("DC={}", dn_value(v)))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// True when a setting looks like a DN (`CN=…,OU=…`) rather than a plain name.
pub fn looks_like_dn(value: &str) -> bool {
    parse_dn(value).is_some_and(|rdns| {
        rdns.len() >= 2
            && rdns.iter().all(|(t, _)| {
                !t.is_empty()
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_head_is_the_trailing_dc_components() {
        use super::domain_head;
        assert_eq!(
            domain_head("OU=AWS,dc=example, DC=test").as_deref(),
            Some("DC=example,DC=test")
        );
        assert_eq!(
            domain_head("DC=example,DC=test").as_deref(),
            Some("DC=example,DC=test")
        );
        assert_eq!(domain_head("o=example"), None);
        assert_eq!(domain_head("DC=x,OU=y"), None);
    }

    #[test]
    fn equivalent_spellings_share_a_key() {
        let a = dn_key("CN=Smith\\, John,OU=People,DC=example,DC=test");
        assert_eq!(
            a,
            dn_key("cn=smith\\2C john, ou=People ,dc=EXAMPLE,dc=test")
        );
        assert_eq!(a, "cn=smith\\, john,ou=people,dc=example,dc=test");
        assert_ne!(a, dn_key("CN=Smith,OU=People,DC=example,DC=test"));
        assert_eq!(
            dn_key("CN=Jos\\C3\\A9,DC=x"),
            dn_key("CN=José,DC=x"),
            "hex-escaped UTF-8 equals the literal"
        );
    }

    #[test]
    fn a_key_is_its_own_key() {
        // The LDAP reader queues keys and DNs alike for nested groups.
        for dn in [
            "CN=Smith\\, John,OU=People,DC=example,DC=test",
            "CN=Bob \\\"B\\\" Jones,OU=A\\+B,DC=x",
            "CN=Jos\\C3\\A9 \\#1\\;x,DC=x",
            "CN= padded \\ ,DC=x",
            "not a dn at all",
        ] {
            let key = dn_key(dn);
            assert_eq!(dn_key(&key), key, "{dn}");
        }
    }

    #[test]
    fn parses_values_with_specials() {
        let rdns = parse_dn("CN=Bob \\\"B\\\" Jones,OU=A\\+B,DC=x").unwrap();
        assert_eq!(rdns[0], ("CN".into(), "Bob \"B\" Jones".into()));
        assert_eq!(rdns[1].1, "A+B");
        assert_eq!(
            first_rdn_value("CN=aws-legacy (old),OU=AWS").unwrap(),
            "aws-legacy (old)"
        );
        assert!(parse_dn("CN=broken\\").is_none());
        assert!(parse_dn("=x,DC=y").is_none());
    }

    #[test]
    fn subtree_test_respects_rdn_boundaries() {
        let base = dn_key("OU=AWS,DC=example,DC=test");
        assert!(key_is_under(
            &dn_key("CN=g,OU=AWS,DC=example,DC=test"),
            &base
        ));
        assert!(key_is_under(
            &dn_key("CN=g,OU=Sub,OU=AWS,DC=example,DC=test"),
            &base
        ));
        assert!(key_is_under(&base, &base));
        assert!(!key_is_under(
            &dn_key("CN=g,OU=NotAWS,DC=example,DC=test"),
            &base
        ));
        assert!(!key_is_under(
            &dn_key("CN=g,OU=Teams,DC=example,DC=test"),
            &base
        ));
    }

    #[test]
    fn tells_names_from_dns() {
        assert!(looks_like_dn("CN=aws-sync-users,OU=AWS,DC=example,DC=test"));
        assert!(!looks_like_dn("aws-sync-users"));
        assert!(!looks_like_dn("aws=sync"));
        assert!(!looks_like_dn("weird name=1, other"));
    }
}
