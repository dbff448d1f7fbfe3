//! An operator's LDAP filter (`scope.userFilter`), checked against RFC 4515 once, when the
//! settings load: a typo is refused with the character where it went wrong, instead of
//! failing every pass against the server (or, worse, matching something unintended).
//!
//! The parsed tree is kept beside the text: the LDAP source sends the text as it is, the LDIF
//! source evaluates the tree against the export's entries.

use std::fmt;

/// One node of a parsed filter. Attribute names are kept as written (compared
/// case-insensitively); assertion values are unescaped bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterNode {
    And(Vec<FilterNode>),
    Or(Vec<FilterNode>),
    Not(Box<FilterNode>),
    /// `(attr=value)`
    Equal {
        attr: String,
        value: Vec<u8>,
    },
    /// `(attr~=value)`
    Approx {
        attr: String,
        value: Vec<u8>,
    },
    /// `(attr>=value)`
    GreaterOrEqual {
        attr: String,
        value: Vec<u8>,
    },
    /// `(attr<=value)`
    LessOrEqual {
        attr: String,
        value: Vec<u8>,
    },
    /// `(attr=*)`
    Present {
        attr: String,
    },
    /// `(attr=initial*any*…*final)`
    Substring {
        attr: String,
        initial: Option<Vec<u8>>,
        any: Vec<Vec<u8>>,
        last: Option<Vec<u8>>,
    },
    /// `(attr:dn:rule:=value)`, e.g. AD's bitwise `(userAccountControl:1.2.840.113556.1.4.803:=2)`.
    Extensible {
        attr: Option<String>,
        rule: Option<String>,
        dn_attributes: bool,
        value: Vec<u8>,
    },
}

/// A filter that parses under RFC 4515. The only constructor is [`LdapFilter::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapFilter {
    text: String,
    root: FilterNode,
}

impl LdapFilter {
    /// Parses `raw` (surrounding whitespace ignored). The error says where and what, for the
    /// caller to wrap with the setting's name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("the filter is empty: give one such as (employeeType=Staff)".into());
        }
        if !text.starts_with('(') {
            return Err(format!(
                "{text:?} is not in parentheses: an LDAP filter looks like ({text})"
            ));
        }
        let mut p = Parser {
            s: text.as_bytes(),
            at: 0,
        };
        let root = p.filter(0).map_err(|e| format!("{text:?}: {e}"))?;
        if p.at != p.s.len() {
            return Err(format!(
                "{text:?}: unexpected text after the filter's closing parenthesis at character {} \
                 (combine several filters with (&(a=1)(b=2)))",
                p.at + 1
            ));
        }
        Ok(Self {
            text: text.to_string(),
            root,
        })
    }

    /// The filter as the operator wrote it (trimmed): what is sent to the server.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed tree.
    pub fn root(&self) -> &FilterNode {
        &self.root
    }
}

impl fmt::Display for LdapFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Nesting deeper than this is refused (no real filter needs it; it bounds the recursion).
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn here(&self) -> String {
        format!("character {}", self.at + 1)
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(got) if got == c => {
                self.at += 1;
                Ok(())
            }
            Some(got) => Err(format!(
                "expected '{}' at {} but found '{}'",
                c as char,
                self.here(),
                got as char
            )),
            None => Err(format!(
                "expected '{}' at {} but the filter ended (a parenthesis is not closed)",
                c as char,
                self.here()
            )),
        }
    }

    /// `filter = "(" filtercomp ")"`
    fn filter(&mut self, depth: usize) -> Result<FilterNode, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        self.expect(b'(')?;
        let node = match self.peek() {
            Some(b'&') => {
                self.at += 1;
                FilterNode::And(self.list(depth, '&')?)
            }
            Some(b'|') => {
                self.at += 1;
                FilterNode::Or(self.list(depth, '|')?)
            }
            Some(b'!') => {
                self.at += 1;
                FilterNode::Not(Box::new(self.filter(depth + 1)?))
            }
            Some(b'(') => {
                return Err(format!(
                    "a parenthesis opens at {} where an attribute, &, | or ! was expected",
                    self.here()
                ))
            }
            _ => self.item()?,
        };
        self.expect(b')')?;
        Ok(node)
    }

    /// `filterlist = 1*filter`
    fn list(&mut self, depth: usize, op: char) -> Result<Vec<FilterNode>, String> {
        let mut items = Vec::new();
        while self.peek() == Some(b'(') {
            items.push(self.filter(depth + 1)?);
        }
        if items.is_empty() {
            return Err(format!(
                "'{op}' at character {} is followed by no filter (write ({op}(a=1)(b=2)))",
                self.at
            ));
        }
        Ok(items)
    }

    /// `item = simple / present / substring / extensible`
    fn item(&mut self) -> Result<FilterNode, String> {
        let start = self.at;
        let attr = self.attribute_description();
        let (dn_attributes, rule) = self.extensible_parts()?;
        if dn_attributes || rule.is_some() || self.s[self.at..].starts_with(b":=") {
            if !self.s[self.at..].starts_with(b":=") {
                return Err(format!(
                    "expected ':=' at {} in an extensible match such as \
                     (userAccountControl:1.2.840.113556.1.4.803:=2)",
                    self.here()
                ));
            }
            self.at += 2;
            if attr.is_none() && rule.is_none() {
                return Err(format!(
                    "the extensible match at character {} names neither an attribute nor a \
                     matching rule",
                    start + 1
                ));
            }
            let value = self.value()?;
            return Ok(FilterNode::Extensible {
                attr,
                rule,
                dn_attributes,
                value,
            });
        }
        let Some(attr) = attr else {
            return Err(format!(
                "expected an attribute name at {} (letters, digits and '-', starting with a \
                 letter, or an OID)",
                self.here()
            ));
        };
        let rest = &self.s[self.at..];
        let op = if rest.starts_with(b"~=") {
            Some(2)
        } else if rest.starts_with(b">=") {
            Some(3)
        } else if rest.starts_with(b"<=") {
            Some(4)
        } else if rest.starts_with(b"=") {
            None
        } else {
            return Err(format!(
                "expected '=', '~=', '>=' or '<=' after {attr:?} at {}",
                self.here()
            ));
        };
        match op {
            Some(kind) => {
                self.at += 2;
                let value = self.value()?;
                Ok(match kind {
                    2 => FilterNode::Approx { attr, value },
                    3 => FilterNode::GreaterOrEqual { attr, value },
                    _ => FilterNode::LessOrEqual { attr, value },
                })
            }
            None => {
                self.at += 1;
                self.equality_or_substring(attr)
            }
        }
    }

    /// After `attr=`: a value, `*` (presence) or value parts separated by `*`.
    fn equality_or_substring(&mut self, attr: String) -> Result<FilterNode, String> {
        let mut parts = vec![self.value()?];
        while self.peek() == Some(b'*') {
            self.at += 1;
            parts.push(self.value()?);
        }
        if parts.len() == 1 {
            let value = parts.pop().unwrap_or_default();
            return Ok(FilterNode::Equal { attr, value });
        }
        if parts.len() == 2 && parts.iter().all(Vec::is_empty) {
            return Ok(FilterNode::Present { attr });
        }
        let last = parts.pop().filter(|p| !p.is_empty());
        let mut parts = parts.into_iter();
        let initial = parts.next().filter(|p| !p.is_empty());
        let any: Vec<Vec<u8>> = parts.collect();
        if any.iter().any(Vec::is_empty) {
            return Err(format!(
                "two '*' in a row before {} in the value of {attr:?}",
                self.here()
            ));
        }
        Ok(FilterNode::Substring {
            attr,
            initial,
            any,
            last,
        })
    }

    /// `[":dn"] [":" oid]` of an extensible match.
    fn extensible_parts(&mut self) -> Result<(bool, Option<String>), String> {
        let mut dn = false;
        if self.s[self.at..].len() >= 3 && self.s[self.at..self.at + 3].eq_ignore_ascii_case(b":dn")
        {
            let after = self.s.get(self.at + 3).copied();
            if after == Some(b':') {
                dn = true;
                self.at += 3;
            }
        }
        let mut rule = None;
        if self.peek() == Some(b':') && self.s.get(self.at + 1) != Some(&b'=') {
            self.at += 1;
            let start = self.at;
            match self.attribute_type() {
                Some(oid) => rule = Some(oid),
                None => {
                    return Err(format!(
                        "expected a matching rule (an OID such as 1.2.840.113556.1.4.803) at \
                         character {}",
                        start + 1
                    ))
                }
            }
        }
        Ok((dn, rule))
    }

    /// `attributedescription = attributetype *(";" option)`, or nothing.
    fn attribute_description(&mut self) -> Option<String> {
        let start = self.at;
        self.attribute_type()?;
        while self.peek() == Some(b';') {
            let before = self.at;
            self.at += 1;
            let opt_start = self.at;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-')
            {
                self.at += 1;
            }
            if self.at == opt_start {
                self.at = before;
                break;
            }
        }
        Some(String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }

    /// `descr` (a letter, then letters, digits and `-`) or a numeric OID.
    fn attribute_type(&mut self) -> Option<String> {
        let start = self.at;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-')
                {
                    self.at += 1;
                }
            }
            Some(c) if c.is_ascii_digit() => loop {
                let digits = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                if self.at == digits {
                    self.at = start;
                    return None;
                }
                if self.peek() == Some(b'.')
                    && self.s.get(self.at + 1).is_some_and(u8::is_ascii_digit)
                {
                    self.at += 1;
                } else {
                    break;
                }
            },
            _ => return None,
        }
        Some(String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }

    /// `valueencoding = 0*(normal / escaped)`: stops at `*`, `(` is refused, `)` ends it.
    fn value(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b')') | Some(b'*') => return Ok(out),
                Some(b'(') => {
                    return Err(format!(
                        "an unescaped '(' at {} in a value: write it as \\28",
                        self.here()
                    ))
                }
                Some(0) => return Err(format!("a NUL byte at {} in a value", self.here())),
                Some(b'\\') => {
                    let hex = self.s.get(self.at + 1..self.at + 3);
                    let byte = hex
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match byte {
                        Some(b) => {
                            out.push(b);
                            self.at += 3;
                        }
                        None => {
                            return Err(format!(
                                "a '\\' at {} is not followed by two hex digits (\\2a is '*', \
                                 \\28 '(', \\29 ')', \\5c '\\')",
                                self.here()
                            ))
                        }
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ok(s: &str) -> FilterNode {
        LdapFilter::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .root
    }

    fn err(s: &str) -> String {
        LdapFilter::parse(s).unwrap_err()
    }

    #[test]
    fn the_usual_filters_parse() {
        assert_eq!(
            ok(" (employeeType=Staff) "),
            FilterNode::Equal {
                attr: "employeeType".into(),
                value: b"Staff".to_vec()
            }
        );
        assert_eq!(
            ok("(mail=*)"),
            FilterNode::Present {
                attr: "mail".into()
            }
        );
        assert_eq!(
            ok("(cn=Jo*n*Doe)"),
            FilterNode::Substring {
                attr: "cn".into(),
                initial: Some(b"Jo".to_vec()),
                any: vec![b"n".to_vec()],
                last: Some(b"Doe".to_vec())
            }
        );
        assert_eq!(
            ok("(cn=*Doe)"),
            FilterNode::Substring {
                attr: "cn".into(),
                initial: None,
                any: vec![],
                last: Some(b"Doe".to_vec())
            }
        );
        assert_eq!(
            ok("(!(userAccountControl:1.2.840.113556.1.4.803:=2))"),
            FilterNode::Not(Box::new(FilterNode::Extensible {
                attr: Some("userAccountControl".into()),
                rule: Some("1.2.840.113556.1.4.803".into()),
                dn_attributes: false,
                value: b"2".to_vec()
            }))
        );
        assert!(matches!(
            ok("(&(employeeType=Staff)(|(department=IT)(department=Ops))(!(title=Intern*)))"),
            FilterNode::And(v) if v.len() == 3
        ));
        assert!(matches!(
            ok("(ou:dn:=Sales)"),
            FilterNode::Extensible {
                dn_attributes: true,
                ..
            }
        ));
        assert!(matches!(
            ok("(:caseExactMatch:=x)"),
            FilterNode::Extensible { attr: None, .. }
        ));
        assert!(matches!(
            ok("(employeeNumber>=1000)"),
            FilterNode::GreaterOrEqual { .. }
        ));
        assert!(matches!(ok("(sn~=smith)"), FilterNode::Approx { .. }));
        assert!(matches!(
            ok("(2.5.4.3;lang-en=x)"),
            FilterNode::Equal { .. }
        ));
        assert_eq!(
            ok(r"(cn=a\2ab\28\29\5c)"),
            FilterNode::Equal {
                attr: "cn".into(),
                value: b"a*b()\\".to_vec()
            }
        );
        assert_eq!(
            ok("(cn=)"),
            FilterNode::Equal {
                attr: "cn".into(),
                value: vec![]
            }
        );
        assert_eq!(
            LdapFilter::parse(" (employeeType=Staff)\n")
                .unwrap()
                .as_str(),
            "(employeeType=Staff)"
        );
    }

    #[test]
    fn malformed_filters_are_refused_with_a_reason_a_person_can_act_on() {
        assert!(err("").contains("empty"));
        assert!(err("employeeType=Staff").contains("(employeeType=Staff)"));
        assert!(err("(employeeType=Staff").contains("not closed"));
        assert!(err("(employeeType=Staff))").contains("after the filter"));
        assert!(err("(employeeType=Staff)(title=x)").contains("(&(a=1)(b=2))"));
        assert!(err("(&)").contains("followed by no filter"));
        assert!(err("(|)").contains("followed by no filter"));
        assert!(err("((cn=x))").contains("parenthesis opens"));
        assert!(err("(=x)").contains("attribute name"));
        assert!(err("(1cn=x)").contains("'=', '~=', '>=' or '<='"));
        assert!(err("(cn x)").contains("'=', '~=', '>=' or '<='"));
        assert!(err("(cn=a(b)").contains("\\28"));
        assert!(err(r"(cn=\zz)").contains("two hex digits"));
        assert!(err(r"(cn=abc\2)").contains("two hex digits"));
        assert!(err("(cn=a**b)").contains("two '*'"));
        assert!(matches!(
            ok("(cn:=x)"),
            FilterNode::Extensible { rule: None, .. }
        ));
        assert!(err("(cn:1.2.x:=y)").contains("':='"));
        assert!(err("(!(a=1)(b=2))").contains("expected ')'"));
        assert!(err(&format!("{}(a=1){}", "(!".repeat(40), ")".repeat(40))).contains("levels"));
        // The position is given.
        assert!(
            err("(&(a=1)(b=2)").contains("character 13"),
            "{}",
            err("(&(a=1)(b=2)")
        );
    }
}
