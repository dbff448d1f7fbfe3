//! PATCH request parsing and the user PATCH rules of spec §2.5. Ops are applied to a copy of
//! the user's attributes; the result is validated like a PUT before anything is stored.

use crate::errors::{ScimError, ScimResult};
use crate::validate::ENTERPRISE_URN;
use serde_json::{Map, Value};

/// One PATCH operation kind; AWS matches `op` case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One PATCH operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Parses `{"Operations":[...]}`: `op` required, `remove` needs a path, add/replace a value.
pub fn parse_ops(body: &Value) -> ScimResult<Vec<Op>> {
    let ops = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(ScimError::unparsable)?;
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(ScimError::unparsable)?;
        let kind = match name.to_ascii_lowercase().as_str() {
            "add" => OpKind::Add,
            "replace" => OpKind::Replace,
            "remove" => OpKind::Remove,
            _ => return Err(ScimError::unparsable()),
        };
        let path = match op.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if !p.trim().is_empty() => Some(p.trim().to_string()),
            Some(Value::String(_)) => None,
            Some(_) => return Err(ScimError::unparsable()),
        };
        let value = op.get("value").filter(|v| !v.is_null()).cloned();
        if kind == OpKind::Remove && path.is_none() {
            return Err(ScimError::bad_request("Missing path in PATCH request"));
        }
        if kind != OpKind::Remove && value.is_none() {
            return Err(ScimError::unparsable());
        }
        out.push(Op { kind, path, value });
    }
    Ok(out)
}

const USER_ATTRS: &[&str] = &[
    "userName",
    "active",
    "externalId",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "name",
    "emails",
    "addresses",
    "phoneNumbers",
];
const MULTI: &[&str] = &["emails", "addresses", "phoneNumbers"];

fn canonical(attr: &str) -> ScimResult<&'static str> {
    if attr.eq_ignore_ascii_case(ENTERPRISE_URN) {
        return Ok(ENTERPRISE_URN);
    }
    USER_ATTRS
        .iter()
        .find(|a| a.eq_ignore_ascii_case(attr))
        .copied()
        .ok_or_else(ScimError::unparsable)
}

/// A parsed user PATCH path.
#[derive(Debug, Clone, PartialEq)]
enum UserPath {
    /// `attr` or `attr.sub` (sub may be dotted inside the enterprise extension).
    Plain(&'static str, Option<String>),
    /// `attr[fattr eq value].sub`
    Filtered(&'static str, String, Value, Option<String>),
}

fn parse_path(p: &str) -> ScimResult<UserPath> {
    if p.len() >= ENTERPRISE_URN.len()
        && p[..ENTERPRISE_URN.len()].eq_ignore_ascii_case(ENTERPRISE_URN)
    {
        let rest = &p[ENTERPRISE_URN.len()..];
        return match rest.strip_prefix(':') {
            None if rest.is_empty() => Ok(UserPath::Plain(ENTERPRISE_URN, None)),
            Some(sub) if !sub.is_empty() => Ok(UserPath::Plain(ENTERPRISE_URN, Some(sub.into()))),
            _ => Err(ScimError::unparsable()),
        };
    }
    if let Some((attr, rest)) = p.split_once('[') {
        let (filter, after) = rest.split_once(']').ok_or_else(ScimError::unparsable)?;
        let attr = canonical(attr)?;
        if !MULTI.contains(&attr) {
            return Err(ScimError::unparsable());
        }
        let mut parts = filter.trim().splitn(3, ' ');
        let (Some(fattr), Some(op), Some(fval)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ScimError::unparsable());
        };
        if !op.eq_ignore_ascii_case("eq") {
            return Err(ScimError::unparsable());
        }
        let fval: Value = serde_json::from_str(fval.trim()).map_err(|_| ScimError::unparsable())?;
        let sub = match after {
            "" => None,
            s => Some(
                s.strip_prefix('.')
                    .ok_or_else(ScimError::unparsable)?
                    .to_string(),
            ),
        };
        return Ok(UserPath::Filtered(attr, fattr.to_string(), fval, sub));
    }
    match p.split_once('.') {
        Some((attr, sub)) => Ok(UserPath::Plain(canonical(attr)?, Some(sub.to_string()))),
        None => Ok(UserPath::Plain(canonical(p)?, None)),
    }
}

/// Sets (or with `None` removes) a possibly dotted sub-path inside an object.
fn set_dotted(obj: &mut Map<String, Value>, path: &str, value: Option<Value>) {
    match path.split_once('.') {
        Some((head, rest)) => {
            let child = obj
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(c) = child {
                set_dotted(c, rest, value);
            }
        }
        None => match value {
            Some(v) => {
                obj.insert(path.to_string(), v);
            }
            None => {
                obj.remove(path);
            }
        },
    }
}

fn merge(target: &mut Value, value: Value) -> ScimResult<()> {
    let Value::Object(src) = value else {
        return Err(ScimError::unparsable());
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in src {
            t.insert(k, v);
        }
    }
    Ok(())
}

fn apply_plain(
    attrs: &mut Map<String, Value>,
    kind: OpKind,
    attr: &'static str,
    sub: Option<String>,
    value: Option<Value>,
) -> ScimResult<()> {
    let is_multi = MULTI.contains(&attr);
    match (kind, sub) {
        (OpKind::Remove, None) => {
            attrs.remove(attr);
        }
        (OpKind::Remove, Some(sub)) => match attrs.get_mut(attr) {
            Some(Value::Object(o)) => set_dotted(o, &sub, None),
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(o) = item {
                        o.remove(&sub);
                    }
                }
            }
            _ => {}
        },
        (_, None) if attr == "name" || attr == ENTERPRISE_URN => {
            let v = value.ok_or_else(ScimError::unparsable)?;
            merge(attrs.entry(attr).or_insert(Value::Null), v)?;
        }
        (OpKind::Add, None) if is_multi => {
            let new = match value {
                Some(Value::Array(a)) => a,
                Some(v @ Value::Object(_)) => vec![v],
                _ => return Err(ScimError::unparsable()),
            };
            let entry = attrs.entry(attr).or_insert_with(|| Value::Array(vec![]));
            match entry {
                Value::Array(a) => a.extend(new),
                other => *other = Value::Array(new),
            }
        }
        (_, None) => {
            let v = value.ok_or_else(ScimError::unparsable)?;
            attrs.insert(attr.to_string(), v);
        }
        (_, Some(sub)) if is_multi => {
            let v = value.ok_or_else(ScimError::unparsable)?;
            let entry = attrs.entry(attr).or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(items) = entry {
                if items.is_empty() {
                    items.push(new_element(attr));
                }
                for item in items.iter_mut() {
                    if let Value::Object(o) = item {
                        o.insert(sub.clone(), v.clone());
                    }
                }
            }
        }
        (_, Some(sub)) => {
            let v = value.ok_or_else(ScimError::unparsable)?;
            let entry = attrs
                .entry(attr)
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(o) = entry {
                set_dotted(o, &sub, Some(v));
            }
        }
    }
    Ok(())
}

/// A fresh element of a single-element list: an email is created primary, as AWS requires.
fn new_element(attr: &str) -> Value {
    let mut m = Map::new();
    if attr == "emails" {
        m.insert("primary".into(), Value::Bool(true));
    }
    Value::Object(m)
}

fn matches(item: &Value, fattr: &str, fval: &Value) -> bool {
    let Some(v) = item.get(fattr) else {
        return false;
    };
    match (v, fval) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

fn apply_filtered(
    attrs: &mut Map<String, Value>,
    kind: OpKind,
    attr: &'static str,
    (fattr, fval, sub): (String, Value, Option<String>),
    value: Option<Value>,
) -> ScimResult<()> {
    let entry = attrs.entry(attr).or_insert_with(|| Value::Array(vec![]));
    if !entry.is_array() {
        *entry = Value::Array(vec![]);
    }
    let Value::Array(items) = entry else {
        return Ok(());
    };
    if kind == OpKind::Remove {
        match sub {
            None => items.retain(|i| !matches(i, &fattr, &fval)),
            Some(sub) => {
                for i in items.iter_mut().filter(|i| matches(i, &fattr, &fval)) {
                    if let Value::Object(o) = i {
                        o.remove(&sub);
                    }
                }
            }
        }
        return Ok(());
    }
    let v = value.ok_or_else(ScimError::unparsable)?;
    if !items.iter().any(|i| matches(i, &fattr, &fval)) {
        let mut el = new_element(attr);
        if let Value::Object(o) = &mut el {
            o.insert(fattr.clone(), fval.clone());
        }
        items.push(el);
    }
    for i in items.iter_mut().filter(|i| matches(i, &fattr, &fval)) {
        match &sub {
            Some(sub) => {
                if let Value::Object(o) = i {
                    o.insert(sub.clone(), v.clone());
                }
            }
            None => merge(i, v.clone())?,
        }
    }
    Ok(())
}

fn target_of(path: &UserPath) -> &'static str {
    match path {
        UserPath::Plain(a, _) | UserPath::Filtered(a, ..) => a,
    }
}

/// Applies user PATCH ops to a copy of the attributes (validation happens afterwards).
pub fn apply_user_ops(attrs: &mut Map<String, Value>, ops: Vec<Op>) -> ScimResult<()> {
    let mut user_name_ops = 0;
    let mut active_ops = 0;
    let mut count = |attr: &str| {
        if attr == "userName" {
            user_name_ops += 1;
        } else if attr == "active" {
            active_ops += 1;
        }
    };
    let mut steps = Vec::new();
    for op in ops {
        match (&op.path, op.value) {
            (Some(p), value) => {
                let path = parse_path(p)?;
                let target = target_of(&path);
                if op.kind == OpKind::Remove && (target == "userName" || target == "active") {
                    return Err(ScimError::unparsable());
                }
                count(target);
                steps.push((op.kind, path, value));
            }
            (None, Some(Value::Object(obj))) => {
                for (k, v) in obj {
                    if matches!(k.as_str(), "id" | "schemas" | "meta") {
                        continue;
                    }
                    let attr = canonical(&k)?;
                    count(attr);
                    steps.push((op.kind, UserPath::Plain(attr, None), Some(v)));
                }
            }
            (None, _) => return Err(ScimError::unparsable()),
        }
    }
    if user_name_ops > 1 || active_ops > 1 {
        return Err(ScimError::unparsable());
    }
    for (kind, path, value) in steps {
        match path {
            UserPath::Plain(attr, sub) => apply_plain(attrs, kind, attr, sub, value)?,
            UserPath::Filtered(attr, fattr, fval, sub) => {
                apply_filtered(attrs, kind, attr, (fattr, fval, sub), value)?
            }
        }
    }
    Ok(())
}
