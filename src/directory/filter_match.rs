//! `scope.userFilter` evaluated against an entry of an LDIF export, which has no server to
//! run it: the filter kinds directories agree on (equality, presence, substrings, ordering,
//! AND/OR/NOT) and Active Directory's two bitwise rules. Values compare without regard to
//! case, as AD's string attributes do; a number compares as a number. A filter the export
//! cannot evaluate is refused before the read (see [`check_evaluable`]), never guessed.

use crate::model::settings::FilterNode;

use super::dn::first_rdn_value;
use super::entry::RawEntry;

/// AD's LDAP_MATCHING_RULE_BIT_AND and LDAP_MATCHING_RULE_BIT_OR.
const BIT_AND: &str = "1.2.840.113556.1.4.803";
const BIT_OR: &str = "1.2.840.113556.1.4.804";

/// `Err` names the part of the filter an export cannot evaluate.
pub(crate) fn check_evaluable(node: &FilterNode) -> Result<(), String> {
    match node {
        FilterNode::And(v) | FilterNode::Or(v) => v.iter().try_for_each(check_evaluable),
        FilterNode::Not(n) => check_evaluable(n),
        FilterNode::Extensible {
            attr,
            rule,
            dn_attributes,
            ..
        } => {
            let known = matches!(rule.as_deref(), None | Some(BIT_AND) | Some(BIT_OR));
            if attr.is_none() || *dn_attributes || !known {
                Err(format!(
                    "the extensible match on {} with rule {} cannot be evaluated against an LDIF \
                     export (only AD's bitwise rules {BIT_AND} and {BIT_OR} on a named \
                     attribute can); use a live directory or a simpler filter",
                    attr.as_deref().unwrap_or("(no attribute)"),
                    rule.as_deref().unwrap_or("(none)")
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// Whether `e` matches the filter (an attribute the entry lacks matches nothing).
pub(crate) fn matches(node: &FilterNode, e: &RawEntry) -> bool {
    match node {
        FilterNode::And(v) => v.iter().all(|n| matches(n, e)),
        FilterNode::Or(v) => v.iter().any(|n| matches(n, e)),
        FilterNode::Not(n) => !matches(n, e),
        FilterNode::Present { attr } => {
            attr.eq_ignore_ascii_case("objectClass") || values(e, attr).next().is_some()
        }
        FilterNode::Equal { attr, value } | FilterNode::Approx { attr, value } => {
            values(e, attr).any(|v| equal(attr, v, value))
        }
        FilterNode::GreaterOrEqual { attr, value } => {
            values(e, attr).any(|v| compare(v, value).is_ge())
        }
        FilterNode::LessOrEqual { attr, value } => {
            values(e, attr).any(|v| compare(v, value).is_le())
        }
        FilterNode::Substring {
            attr,
            initial,
            any,
            last,
        } => values(e, attr).any(|v| substring(v, initial.as_deref(), any, last.as_deref())),
        FilterNode::Extensible {
            attr: Some(attr),
            rule,
            value,
            ..
        } => values(e, attr).any(|v| match rule.as_deref() {
            None => equal(attr, v, value),
            Some(BIT_AND) | Some(BIT_OR) => {
                let (Some(have), Some(want)) = (number(v), number(value)) else {
                    return false;
                };
                // AD reads both as unsigned 32-bit masks (negative values are two's complement).
                let (have, want) = (have as u32, want as u32);
                if rule.as_deref() == Some(BIT_AND) {
                    have & want == want
                } else {
                    have & want != 0
                }
            }
            Some(_) => false,
        }),
        FilterNode::Extensible { attr: None, .. } => false,
    }
}

fn values<'e>(e: &'e RawEntry, attr: &str) -> impl Iterator<Item = &'e [u8]> {
    e.values(attr).unwrap_or_default().iter().map(Vec::as_slice)
}

/// Case-insensitive equality; `objectCategory=person` matches the DN AD stores
/// (`CN=Person,CN=Schema,…`), as AD itself does.
fn equal(attr: &str, have: &[u8], want: &[u8]) -> bool {
    if have == want || folded(have) == folded(want) {
        return true;
    }
    if attr.eq_ignore_ascii_case("objectCategory") && !want.contains(&b'=') {
        let rdn = std::str::from_utf8(have).ok().and_then(first_rdn_value);
        return rdn.is_some_and(|r| folded(r.as_bytes()) == folded(want));
    }
    false
}

fn folded(v: &[u8]) -> Option<String> {
    std::str::from_utf8(v).ok().map(str::to_lowercase)
}

fn number(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

fn compare(have: &[u8], want: &[u8]) -> std::cmp::Ordering {
    match (number(have), number(want)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => folded(have)
            .unwrap_or_default()
            .cmp(&folded(want).unwrap_or_default()),
    }
}

fn substring(have: &[u8], initial: Option<&[u8]>, any: &[Vec<u8>], last: Option<&[u8]>) -> bool {
    let Some(mut rest) = folded(have) else {
        return false;
    };
    if let Some(i) = initial.and_then(folded) {
        match rest.strip_prefix(&i) {
            Some(r) => rest = r.to_string(),
            None => return false,
        }
    }
    for part in any {
        let Some(p) = folded(part) else { return false };
        match rest.find(&p) {
            Some(at) => rest = rest[at + p.len()..].to_string(),
            None => return false,
        }
    }
    match last.and_then(folded) {
        Some(l) => rest.ends_with(&l),
        None => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::settings::LdapFilter;

    fn entry() -> RawEntry {
        let mut e = RawEntry {
            dn: "CN=Jane Doe,OU=People,DC=x".into(),
            attrs: Vec::new(),
        };
        e.push("employeeType", b"Staff".to_vec());
        e.push("department", b"Platform Engineering".to_vec());
        e.push("userAccountControl", b"514".to_vec());
        e.push("employeeNumber", b"1200".to_vec());
        e.push(
            "objectCategory",
            b"CN=Person,CN=Schema,CN=Configuration,DC=x".to_vec(),
        );
        e
    }

    fn is(f: &str) -> bool {
        let f = LdapFilter::parse(f).unwrap();
        check_evaluable(f.root()).unwrap();
        matches(f.root(), &entry())
    }

    #[test]
    fn filters_evaluate_as_a_directory_would() {
        assert!(is("(employeeType=staff)"));
        assert!(!is("(employeeType=Contractor)"));
        assert!(is("(!(employeeType=Contractor))"));
        assert!(
            !is("(title=*)"),
            "an attribute the entry lacks matches nothing"
        );
        assert!(is("(!(title=Intern))"));
        assert!(is("(department=*)"));
        assert!(is("(department=platform*)"));
        assert!(is("(department=*Eng*)"));
        assert!(is("(department=P*m E*ing)"));
        assert!(!is("(department=*Sales*)"));
        assert!(is("(employeeNumber>=1000)"));
        assert!(!is("(employeeNumber>=13000)"), "numbers compare as numbers");
        assert!(is("(employeeNumber<=1200)"));
        assert!(is("(userAccountControl:1.2.840.113556.1.4.803:=2)"));
        assert!(!is("(userAccountControl:1.2.840.113556.1.4.803:=3)"));
        assert!(is("(userAccountControl:1.2.840.113556.1.4.804:=3)"));
        assert!(is("(objectCategory=person)"));
        assert!(is(
            "(&(employeeType=Staff)(|(department=Sales)(department=Platform*)))"
        ));
        assert!(!is("(&(employeeType=Staff)(department=Sales))"));
        assert!(is("(objectClass=*)"));
    }

    #[test]
    fn rules_an_export_cannot_evaluate_are_refused() {
        for f in [
            "(memberOf:1.2.840.113556.1.4.1941:=CN=g,DC=x)",
            "(ou:dn:=People)",
            "(:caseExactMatch:=x)",
        ] {
            let f = LdapFilter::parse(f).unwrap();
            let err = check_evaluable(f.root()).unwrap_err();
            assert!(err.contains("LDIF export"), "{err}");
        }
    }
}
