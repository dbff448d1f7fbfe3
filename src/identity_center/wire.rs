//! SCIM bodies as Identity Center sends and accepts them.
//!
//! Reading is deliberately tolerant: users made outside SCIM may have `"emails": []` or emails
//! without `value`/`type`, a list may omit `Resources`, error bodies may lack `schemas` (2022)
//! and carry `status` as a string, and booleans may arrive as strings. Writing is strict: real
//! JSON booleans, one email with `primary: true`, explicit PATCH paths.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::attributes::{create_fields, WireOptional, ENTERPRISE_SCHEMA};
use crate::model::UserAttributes;
use crate::model::{IdcGroup, IdcUser, SharedStrings};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A user as read. Every field is optional so that one odd object never fails a whole page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireUser {
    pub id: Option<String>,
    pub external_id: Option<String>,
    pub user_name: Option<String>,
    pub display_name: Option<String>,
    pub name: Option<WireName>,
    #[serde(deserialize_with = "null_as_empty")]
    pub emails: Vec<WireEmail>,
    #[serde(deserialize_with = "lenient_bool")]
    pub active: Option<bool>,
    /// The optional attributes scim-sync can manage.
    #[serde(flatten)]
    pub optional: WireOptional,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireName {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WireEmail {
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub primary: Option<bool>,
}

impl WireUser {
    /// The sync's view of the user, or `None` when it has no id (nothing could address it).
    pub fn into_model(self) -> Option<IdcUser> {
        self.into_model_shared(&SharedStrings::default())
    }

    /// [`Self::into_model`], with the id and the optional attributes' values shared through
    /// `shared` across the users (and member listings) of one read.
    pub fn into_model_shared(self, shared: &SharedStrings) -> Option<IdcUser> {
        let id = self.id.filter(|id| !id.is_empty())?;
        // The primary email if one is flagged, else the first one that has a value.
        let email = self
            .emails
            .iter()
            .find(|e| e.primary == Some(true) && e.value.is_some())
            .or_else(|| self.emails.iter().find(|e| e.value.is_some()))
            .and_then(|e| e.value.clone());
        let name = self.name.unwrap_or_default();
        Some(IdcUser {
            id: shared.share(&id),
            external_id: self.external_id.filter(|x| !x.is_empty()),
            user_name: self.user_name.unwrap_or_default(),
            display_name: self.display_name,
            given_name: name.given_name,
            family_name: name.family_name,
            email,
            // Identity Center treats an omitted `active` as true.
            active: self.active.unwrap_or(true),
            attributes: self.optional.into_map(shared),
        })
    }
}

/// A group as read; `members` is always empty on Identity Center and is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireGroup {
    pub id: Option<String>,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
}

impl WireGroup {
    /// The sync's view of the group (members not read yet), or `None` without an id.
    pub fn into_model(self) -> Option<IdcGroup> {
        let id = self.id.filter(|id| !id.is_empty())?;
        Some(IdcGroup {
            id,
            external_id: self.external_id.filter(|x| !x.is_empty()),
            display_name: self.display_name.unwrap_or_default(),
            member_ids: None,
        })
    }
}

/// One page of a list. `totalResults` is never trusted, so it is not even read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListPage {
    #[serde(rename = "Resources", deserialize_with = "null_as_empty")]
    pub resources: Vec<Value>,
    #[serde(rename = "nextCursor")]
    pub next_cursor: Option<String>,
}

/// An error body, with or without `schemas`, `status` as string or number.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub detail: Option<String>,
    pub status: Option<Value>,
}

impl ErrorBody {
    /// The `detail` of an error response, or a short excerpt of whatever came back.
    pub fn detail_of(body: &[u8]) -> String {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody {
                detail: Some(d), ..
            }) => d,
            _ => {
                let text = String::from_utf8_lossy(body);
                let excerpt: String = text.chars().take(200).collect();
                if excerpt.trim().is_empty() {
                    "(no body)".to_string()
                } else {
                    excerpt
                }
            }
        }
    }
}

/// `POST /Users` body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserBody<'a> {
    pub schemas: Vec<&'static str>,
    pub external_id: &'a str,
    pub user_name: &'a str,
    pub display_name: &'a str,
    pub name: NameBody<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<EmailBody<'a>>,
    pub active: bool,
    /// The managed optional attributes (phone, address, enterprise extension, …).
    #[serde(flatten)]
    pub optional: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NameBody<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
}

/// The single email Identity Center allows: primary, type work.
#[derive(Debug, Clone, Serialize)]
pub struct EmailBody<'a> {
    pub value: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub primary: bool,
}

impl<'a> EmailBody<'a> {
    pub fn work(value: &'a str) -> Self {
        Self {
            value,
            kind: "work",
            primary: true,
        }
    }
}

impl<'a> CreateUserBody<'a> {
    pub fn from_attributes(user: &'a UserAttributes) -> Self {
        let (optional, enterprise) = create_fields(&user.attributes);
        let mut schemas = vec![USER_SCHEMA];
        if enterprise {
            schemas.push(ENTERPRISE_SCHEMA);
        }
        Self {
            schemas,
            external_id: &user.external_id,
            user_name: &user.user_name,
            display_name: &user.display_name,
            name: NameBody {
                given_name: &user.given_name,
                family_name: &user.family_name,
            },
            emails: user
                .email
                .as_deref()
                .map(EmailBody::work)
                .into_iter()
                .collect(),
            active: user.active,
            optional,
        }
    }
}

/// `POST /Groups` body, with up to 100 first members (AWS's CreateGroup limit); members
/// beyond those are added afterwards in PATCHes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupBody<'a> {
    pub schemas: [&'static str; 1],
    pub display_name: &'a str,
    pub external_id: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberRef<'a>>,
}

/// One `{"value": "<user id>"}` of a group's `members`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRef<'a> {
    pub value: &'a str,
}

/// A PATCH request: always explicit paths.
#[derive(Debug, Clone, Serialize)]
pub struct PatchBody {
    pub schemas: [&'static str; 1],
    #[serde(rename = "Operations")]
    pub operations: Vec<PatchOperation>,
}

impl PatchBody {
    pub fn new(operations: Vec<PatchOperation>) -> Self {
        Self {
            schemas: [PATCH_SCHEMA],
            operations,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PatchOperation {
    pub op: &'static str,
    pub path: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl PatchOperation {
    pub fn replace(path: &'static str, value: Value) -> Self {
        Self {
            op: "replace",
            path,
            value: Some(value),
        }
    }

    pub fn remove(path: &'static str) -> Self {
        Self {
            op: "remove",
            path,
            value: None,
        }
    }

    /// `add` or `remove` of member ids, `path: "members"`, `value: [{"value": id}, ...]`.
    pub fn members(op: &'static str, user_ids: &[String]) -> Self {
        let value = user_ids
            .iter()
            .map(|id| serde_json::json!({ "value": id }))
            .collect();
        Self {
            op,
            path: "members",
            value: Some(Value::Array(value)),
        }
    }
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `true`, `"true"`, `"True"` (AWS coerces string booleans, some tools send them).
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use serde_json::json;

    fn user(v: Value) -> Option<IdcUser> {
        serde_json::from_value::<WireUser>(v).unwrap().into_model()
    }

    #[test]
    fn tolerates_users_made_outside_scim() {
        let u = user(json!({"id":"u1","userName":"a","emails":[]})).unwrap();
        assert_eq!(u.email, None);
        assert!(u.active, "a missing active means true");
        let u =
            user(json!({"id":"u1","userName":"a","emails":[{"primary":true}], "active":"False"}))
                .unwrap();
        assert_eq!(u.email, None);
        assert!(!u.active);
        let u = user(json!({"id":"u1","emails":null,"name":null})).unwrap();
        assert_eq!(u.user_name, "");
        let u = user(json!({"id":"u1","emails":[{"value":"x@y","type":"home"},
                                            {"value":"p@y","primary":"true"}]}))
        .unwrap();
        assert_eq!(u.email.as_deref(), Some("p@y"));
        assert!(user(json!({"userName":"no id"})).is_none());
    }

    #[test]
    fn full_user_is_read() {
        let u = user(json!({
            "id":"9067729b3d-94f1e0b3-c394-48d5-8ab1-2c122a167074","externalId":"701984",
            "meta":{"resourceType":"User"},"userName":"bjensen",
            "name":{"familyName":"Jensen","givenName":"Barbara","formatted":"x"},
            "displayName":"Babs Jensen","active":true,
            "emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}))
        .unwrap();
        assert_eq!(u.external_id.as_deref(), Some("701984"));
        assert_eq!(u.given_name.as_deref(), Some("Barbara"));
        assert_eq!(u.family_name.as_deref(), Some("Jensen"));
        assert_eq!(u.email.as_deref(), Some("bjensen@example.com"));
    }

    #[test]
    fn list_pages_without_resources_and_errors_without_schemas() {
        let p: ListPage = serde_json::from_value(json!({"totalResults":0})).unwrap();
        assert!(p.resources.is_empty() && p.next_cursor.is_none());
        let body = br#"{"schema":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"Bad","status":"400"}"#;
        assert_eq!(ErrorBody::detail_of(body), "Bad");
        let body = br#"{"detail":"Bad","status":400}"#;
        assert_eq!(ErrorBody::detail_of(body), "Bad");
        assert_eq!(ErrorBody::detail_of(b""), "(no body)");
        assert_eq!(ErrorBody::detail_of(b"<html>oops"), "<html>oops");
    }

    #[test]
    fn create_user_sends_one_primary_work_email_and_real_booleans() {
        let attrs = UserAttributes {
            external_id: "S-1-5-21-1".into(),
            user_name: "a@b".into(),
            display_name: "A B".into(),
            given_name: "A".into(),
            family_name: "B".into(),
            email: Some("a@b".into()),
            active: true,
            attributes: Default::default(),
        };
        let v = serde_json::to_value(CreateUserBody::from_attributes(&attrs)).unwrap();
        assert_eq!(
            v["emails"],
            json!([{"value":"a@b","type":"work","primary":true}])
        );
        assert_eq!(v["active"], json!(true));
        assert_eq!(v["name"]["givenName"], json!("A"));
        assert_eq!(v["schemas"], json!([USER_SCHEMA]));
        let no_mail = UserAttributes {
            email: None,
            ..attrs
        };
        let v = serde_json::to_value(CreateUserBody::from_attributes(&no_mail)).unwrap();
        assert!(v.get("emails").is_none());
    }
}
