//! The filter subset AWS supports (spec §4.2): `attr eq "value"`, joined by `and` only for the
//! listed pairs. Anything else is 400 "Invalid Filter format".

use crate::errors::{ScimError, ScimResult};

/// A parsed `/Users` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    UserName(String),
    ExternalId(String),
    /// Users in the group with this id.
    GroupsValue(String),
    Id(String),
    /// The user with this id, if its enterprise manager is the other value.
    IdAndManager(String, String),
}

/// A parsed `/Groups` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupFilter {
    DisplayName(String),
    ExternalId(String),
    /// Groups this user id belongs to.
    MembersValue(String),
    Id(String),
    /// The group with this id, if the user id is a member.
    IdAndMember(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Str(String),
}

fn tokenize(f: &str) -> ScimResult<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = f.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(ch) => s.push(ch),
                    None => return Err(ScimError::invalid_filter()),
                }
            }
            out.push(Token::Str(s));
        } else {
            let mut w = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                if ch == '"' {
                    // A quote glued to a word (`a"b`) is not the AWS syntax.
                    return Err(ScimError::invalid_filter());
                }
                w.push(ch);
                chars.next();
            }
            out.push(Token::Word(w));
        }
    }
    Ok(out)
}

/// Parses `attr eq "v" [and attr eq "v"]` into lower-cased attribute names and values.
fn terms(f: &str) -> ScimResult<Vec<(String, String)>> {
    let toks = tokenize(f)?;
    let term = |t: &[Token]| -> ScimResult<(String, String)> {
        match t {
            [Token::Word(a), Token::Word(op), Token::Str(v)] if op.eq_ignore_ascii_case("eq") => {
                if v.is_empty() {
                    return Err(ScimError::unparsable());
                }
                Ok((a.to_ascii_lowercase(), v.clone()))
            }
            _ => Err(ScimError::invalid_filter()),
        }
    };
    match toks.len() {
        3 => Ok(vec![term(&toks)?]),
        7 => match &toks[3] {
            Token::Word(and) if and.eq_ignore_ascii_case("and") => {
                Ok(vec![term(&toks[..3])?, term(&toks[4..])?])
            }
            _ => Err(ScimError::invalid_filter()),
        },
        _ => Err(ScimError::invalid_filter()),
    }
}

fn pair<'a>(t: &'a [(String, String)], a: &str, b: &[&str]) -> Option<(&'a str, &'a str)> {
    let [x, y] = t else { return None };
    if x.0 == a && b.contains(&y.0.as_str()) {
        Some((&x.1, &y.1))
    } else if y.0 == a && b.contains(&x.0.as_str()) {
        Some((&y.1, &x.1))
    } else {
        None
    }
}

/// Parses a `/Users` filter.
pub fn parse_user_filter(f: &str) -> ScimResult<UserFilter> {
    let t = terms(f)?;
    if let [(a, v)] = t.as_slice() {
        return match a.as_str() {
            "username" => Ok(UserFilter::UserName(v.clone())),
            "externalid" => Ok(UserFilter::ExternalId(v.clone())),
            "groups.value" => Ok(UserFilter::GroupsValue(v.clone())),
            "id" => Ok(UserFilter::Id(v.clone())),
            _ => Err(ScimError::invalid_filter()),
        };
    }
    match pair(&t, "id", &["manager", "manager.value"]) {
        Some((id, m)) => Ok(UserFilter::IdAndManager(id.into(), m.into())),
        None => Err(ScimError::invalid_filter()),
    }
}

/// Parses a `/Groups` filter.
pub fn parse_group_filter(f: &str) -> ScimResult<GroupFilter> {
    let t = terms(f)?;
    if let [(a, v)] = t.as_slice() {
        return match a.as_str() {
            "displayname" => Ok(GroupFilter::DisplayName(v.clone())),
            "externalid" => Ok(GroupFilter::ExternalId(v.clone())),
            "members.value" => Ok(GroupFilter::MembersValue(v.clone())),
            "id" => Ok(GroupFilter::Id(v.clone())),
            _ => Err(ScimError::invalid_filter()),
        };
    }
    match pair(&t, "id", &["members", "member", "members.value"]) {
        Some((id, m)) => Ok(GroupFilter::IdAndMember(id.into(), m.into())),
        None => Err(ScimError::invalid_filter()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_aws_forms() {
        assert_eq!(
            parse_user_filter("userName eq \"a b\"").unwrap(),
            UserFilter::UserName("a b".into())
        );
        assert_eq!(
            parse_group_filter("members eq \"u\" and id eq \"g\"").unwrap(),
            GroupFilter::IdAndMember("g".into(), "u".into())
        );
        assert_eq!(
            parse_user_filter("id eq \"x\" and manager eq \"m\"").unwrap(),
            UserFilter::IdAndManager("x".into(), "m".into())
        );
    }

    #[test]
    fn rejects_everything_else() {
        for f in [
            "userName co \"a\"",
            "userName eq a",
            "userName eq \"a",
            "userName eq \"a\"b\"",
            "displayName eq \"x\"",
            "userName eq \"a\" or userName eq \"b\"",
            "userName eq \"a\" and externalId eq \"b\"",
            "",
        ] {
            assert!(parse_user_filter(f).is_err(), "{f}");
        }
        assert!(parse_group_filter("id eq \"g\" and members eq \"\"").is_err());
    }
}
