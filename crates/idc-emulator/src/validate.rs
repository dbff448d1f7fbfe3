//! Attribute validation with AWS's limits and messages (spec §2.2, §2.3): required
//! attributes, single-element lists, primary email, lengths and character patterns.

use crate::errors::{ScimError, ScimResult, UNPARSABLE};
use crate::state::UserKeys;
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Pattern text AWS quotes for userName and externalId (no whitespace).
pub const ID_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+";
/// Pattern text AWS quotes for names and other free text.
pub const SENSITIVE_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r  \u00A0\u3000]+";
/// Pattern text for group displayName.
pub const GROUP_NAME_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r \u00A0]+";

static ID_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$").ok());
static SENSITIVE_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r \u00A0\u3000]+$").ok());
static GROUP_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r \u00A0]+$").ok());

/// Which of the three AWS string types a value has.
#[derive(Clone, Copy)]
pub enum Kind {
    /// userName: 1–128, no whitespace.
    UserName,
    /// externalId: 1–256, no whitespace.
    ExternalId,
    /// Names and free text: 1–1024.
    Sensitive,
    /// Group displayName: 1–1024.
    GroupName,
    /// A resource id (`manager.value`): 1–47, no whitespace.
    ResourceId,
}

impl Kind {
    fn limits(self) -> (usize, &'static str, &'static LazyLock<Option<Regex>>) {
        match self {
            Kind::UserName => (128, ID_PATTERN, &ID_RE),
            Kind::ExternalId => (256, ID_PATTERN, &ID_RE),
            Kind::Sensitive => (1024, SENSITIVE_PATTERN, &SENSITIVE_RE),
            Kind::GroupName => (1024, GROUP_NAME_PATTERN, &GROUP_RE),
            Kind::ResourceId => (47, ID_PATTERN, &ID_RE),
        }
    }
}

/// Collects constraint violations into AWS's "N validation errors detected: ..." message.
#[derive(Default)]
pub struct Violations(Vec<String>);

impl Violations {
    /// Checks one string value against its type's pattern and length.
    pub fn check(&mut self, at: &str, v: &str, kind: Kind) {
        let (max, pattern, re) = kind.limits();
        let matches = re.as_ref().is_some_and(|r| r.is_match(v));
        if !matches {
            self.0.push(format!(
                "Value at '{at}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
            ));
        }
        let len = v.chars().count();
        if len < 1 {
            self.0.push(format!(
                "Value at '{at}' failed to satisfy constraint: Member must have length greater than or equal to 1"
            ));
        }
        if len > max {
            self.0.push(format!(
                "Value at '{at}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            ));
        }
    }

    /// Records a missing required attribute.
    pub fn missing(&mut self, at: &str) {
        self.0.push(format!(
            "Value at '{at}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// Ok, or a 400 listing every violation.
    pub fn finish(self) -> ScimResult<()> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ScimError::bad_request(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(ScimError::bad_request(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

/// Coerces a boolean; with `lenient`, also `"true"`/`"True"`/`"false"` strings (as AWS does).
pub fn as_bool(v: &Value, lenient: bool) -> ScimResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if lenient && s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if lenient && s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::unparsable()),
    }
}

/// A string attribute, `None` when absent or null; any other JSON type is unparsable.
pub fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> ScimResult<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ScimError::unparsable()),
    }
}

const SIMPLE: &[&str] = &[
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
];
const NAME_PARTS: &[&str] = &[
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
const EMAIL_PARTS: &[&str] = &["value", "type"];
const ADDRESS_PARTS: &[&str] = &[
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
];
const ROLE_PARTS: &[&str] = &["value", "type"];
const PHONE_PARTS: &[&str] = &["value", "type"];
const ENTERPRISE_PARTS: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
];
/// The enterprise extension URN, also a top-level attribute name of the user resource.
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Copies the listed string sub-attributes of `src` into `dst`, validating each.
fn copy_strings(
    src: &Map<String, Value>,
    dst: &mut Map<String, Value>,
    keys: &[&str],
    prefix: &str,
    v: &mut Violations,
) -> ScimResult<()> {
    for k in keys {
        if let Some(s) = opt_str(src, k)? {
            v.check(&format!("{prefix}{k}"), s, Kind::Sensitive);
            dst.insert((*k).to_string(), Value::String(s.to_string()));
        }
    }
    Ok(())
}

fn list_limit_message(attr: &str) -> String {
    if attr == "addresses" {
        "List attribute addresses allowed limit of 1".to_string()
    } else {
        format!("List attribute {attr} exceeds allowed limit of 1")
    }
}

/// Validates a single-element multi-valued attribute and returns its normalised form.
fn single_list(
    body: &Map<String, Value>,
    attr: &str,
    parts: &[&str],
    lenient: bool,
    v: &mut Violations,
) -> ScimResult<Option<Value>> {
    let items = match body.get(attr) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ScimError::unparsable()),
    };
    if items.len() > 1 {
        return Err(ScimError::bad_request(list_limit_message(attr)));
    }
    let mut out = Vec::new();
    for item in items {
        let Value::Object(src) = item else {
            return Err(ScimError::unparsable());
        };
        // AWS supports no `display` sub-attribute on emails, addresses or phone numbers.
        if src.get("display").is_some_and(|d| !d.is_null()) {
            return Err(ScimError::bad_request(format!(
                "The sub-attribute display of {attr} is not supported."
            )));
        }
        let mut dst = Map::new();
        copy_strings(src, &mut dst, parts, &format!("{attr}."), v)?;
        if let Some(p) = src.get("primary").filter(|p| !p.is_null()) {
            dst.insert("primary".into(), Value::Bool(as_bool(p, lenient)?));
        }
        out.push(Value::Object(dst));
    }
    Ok(Some(Value::Array(out)))
}

/// Validates a whole user body (POST, PUT, or the result of a PATCH) and returns the stored
/// attributes plus the unique keys. Unknown attributes are dropped.
pub fn normalise_user(body: &Value, lenient: bool) -> ScimResult<(Map<String, Value>, UserKeys)> {
    let Value::Object(body) = body else {
        return Err(ScimError::unparsable());
    };
    let mut v = Violations::default();
    let mut out = Map::new();

    let user_name = opt_str(body, "userName")?;
    match user_name {
        Some(s) => v.check("userName", s, Kind::UserName),
        None => v.missing("userName"),
    }
    let external_id = opt_str(body, "externalId")?;
    if let Some(e) = external_id {
        v.check("externalId", e, Kind::ExternalId);
    }
    let mut name_out = Map::new();
    match body.get("name") {
        Some(Value::Object(name)) => {
            copy_strings(name, &mut name_out, NAME_PARTS, "name.", &mut v)?
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(ScimError::unparsable()),
    }
    for req in ["givenName", "familyName"] {
        if !name_out.contains_key(req) {
            v.missing(&format!("name.{req}"));
        }
    }
    copy_strings(body, &mut out, SIMPLE, "", &mut v)?;
    if !out.contains_key("displayName") {
        v.missing("displayName");
    }
    out.insert("name".into(), Value::Object(name_out));

    let active = match body.get("active") {
        None | Some(Value::Null) => true,
        Some(a) => as_bool(a, lenient)?,
    };
    out.insert("active".into(), Value::Bool(active));

    let emails = single_list(body, "emails", EMAIL_PARTS, lenient, &mut v)?;
    let mut email_key = None;
    if let Some(Value::Array(items)) = &emails {
        if let Some(Value::Object(e)) = items.first() {
            if e.get("primary") != Some(&Value::Bool(true)) {
                return Err(ScimError::bad_request(UNPARSABLE));
            }
            match e.get("value").and_then(Value::as_str) {
                Some(val) => email_key = Some(val.to_string()),
                None => v.missing("emails.value"),
            }
        }
    }
    let others = [
        ("addresses", ADDRESS_PARTS),
        ("phoneNumbers", PHONE_PARTS),
        ("roles", ROLE_PARTS),
    ];
    let mut lists = vec![("emails", emails)];
    for (attr, parts) in others {
        lists.push((attr, single_list(body, attr, parts, lenient, &mut v)?));
    }
    for (attr, val) in lists {
        if let Some(val) = val {
            out.insert(attr.into(), val);
        }
    }

    match body.get(ENTERPRISE_URN) {
        Some(Value::Object(ent)) => {
            let mut ent_out = Map::new();
            copy_strings(ent, &mut ent_out, ENTERPRISE_PARTS, "", &mut v)?;
            match ent.get("manager") {
                Some(Value::Object(m)) => {
                    // Only `value` (and `$ref`): AWS does not support manager.displayName.
                    if m.get("displayName").is_some_and(|d| !d.is_null()) {
                        return Err(ScimError::bad_request(
                            "The attribute manager.displayName is not supported.".to_string(),
                        ));
                    }
                    let mut m_out = Map::new();
                    match opt_str(m, "value")? {
                        Some(val) => {
                            v.check("manager.value", val, Kind::ResourceId);
                            m_out.insert("value".into(), Value::String(val.to_string()));
                        }
                        None => v.missing("manager.value"),
                    }
                    if let Some(r) = opt_str(m, "$ref")? {
                        m_out.insert("$ref".into(), Value::String(r.to_string()));
                    }
                    ent_out.insert("manager".into(), Value::Object(m_out));
                }
                None | Some(Value::Null) => {}
                Some(_) => return Err(ScimError::unparsable()),
            }
            out.insert(ENTERPRISE_URN.into(), Value::Object(ent_out));
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(ScimError::unparsable()),
    }
    v.finish()?;
    if let Some(e) = external_id {
        out.insert("externalId".into(), Value::String(e.to_string()));
    }
    let user_name = user_name.unwrap_or_default().to_string();
    out.insert("userName".into(), Value::String(user_name.clone()));
    Ok((
        out,
        UserKeys {
            user_name,
            email: email_key,
            external_id: external_id.map(str::to_string),
        },
    ))
}
