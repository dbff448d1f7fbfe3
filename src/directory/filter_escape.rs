//! Escaping of values placed into LDAP filters (RFC 4515) and distinguished names (RFC 4514).
//!
//! Every value that comes from configuration (the sync group name, the group prefix) or from
//! the directory itself (a DN used inside an in-chain filter) goes through here, so a `*`,
//! `(` or `)` in a name can never widen a search to objects it was not meant to match.

/// Escapes a value for use inside an LDAP filter assertion (RFC 4515 §3).
///
/// `*`, `(`, `)`, `\` and NUL are written as `\XX`; so is every non-ASCII or control byte,
/// which keeps the filter plain ASCII and is always valid for a server to decode.
pub fn filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'*' | b'(' | b')' | b'\\' | 0 => out.push_str(&format!("\\{b:02x}")),
            0x01..=0x1f | 0x7f..=0xff => out.push_str(&format!("\\{b:02x}")),
            _ => out.push(char::from(b)),
        }
    }
    out
}

/// Escapes raw bytes (e.g. an `objectGUID`) for an equality filter: every byte as `\XX`.
pub fn filter_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// Escapes an attribute value for use in one RDN of a DN (RFC 4514 §2.4).
pub fn dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_specials_are_escaped() {
        assert_eq!(filter_value("aws-*"), "aws-\\2a");
        assert_eq!(
            filter_value("x)(|(cn=*"),
            "x\\29\\28|\\28cn=\\2a",
            "an injection attempt stays one literal value"
        );
        assert_eq!(
            filter_value("CN=Smith\\, John,OU=People"),
            "CN=Smith\\5c, John,OU=People"
        );
        assert_eq!(filter_value("a\0b"), "a\\00b");
        assert_eq!(filter_value("José"), "Jos\\c3\\a9");
        assert_eq!(filter_value("plain-name_1.2"), "plain-name_1.2");
    }

    #[test]
    fn bytes_are_fully_escaped() {
        assert_eq!(filter_bytes(&[0xee, 0x53, 0x00]), "\\ee\\53\\00");
    }

    #[test]
    fn dn_values_are_escaped() {
        assert_eq!(dn_value("Smith, John"), "Smith\\, John");
        assert_eq!(dn_value("Bob \"B\" Jones"), "Bob \\\"B\\\" Jones");
        assert_eq!(dn_value(" lead#"), "\\ lead#");
        assert_eq!(dn_value("#x"), "\\#x");
        assert_eq!(dn_value("trail "), "trail\\ ");
        assert_eq!(dn_value("a+b=c;d<e>f\\"), "a\\+b\\=c\\;d\\<e\\>f\\\\");
        assert_eq!(dn_value("山田 太郎"), "山田 太郎");
    }
}
