//! Reading the two secrets in the shapes the PowerShell sample's CloudFormation stack wrote
//! them, plus the simpler shapes a new deployment might choose. Errors describe the shape
//! only: a secret's value never reaches an error message.

use serde_json::{Map, Value};

use super::error::ConfigError;
use crate::secret::Secret;

/// Key names accepted for the SCIM token inside a JSON secret, compared case-insensitively.
/// The sample's stack stores `{"SCIM-API-Token": "<token>"}`.
const TOKEN_KEYS: &[&str] = &["scim-api-token", "token", "scimtoken", "scim_api_token"];
/// The sample's stack stores `{"userName": …, "userPassword": …}` (its script reads
/// `username`, case-insensitively as PowerShell does).
const USERNAME_KEYS: &[&str] = &["username", "user", "binddn", "bind_dn"];
const PASSWORD_KEYS: &[&str] = &["password", "userpassword"];

/// The SCIM token: either the token as a plain string, or a JSON object holding it under
/// `SCIM-API-Token` (what the sample's stack created) or `token`.
pub(crate) fn parse_token(secret_id: &str, raw: &str) -> Result<Secret, ConfigError> {
    let malformed = |reason: String| ConfigError::SecretMalformed {
        id: secret_id.to_string(),
        reason,
    };
    let text = raw.trim();
    let token = if text.starts_with('{') || text.starts_with('"') {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::String(s)) => s,
            Ok(Value::Object(map)) => {
                let value = find_key(&map, TOKEN_KEYS).ok_or_else(|| {
                    malformed(format!(
                        "the JSON object has no SCIM-API-Token key (keys found: {}); store \
                            either the token alone or {{\"SCIM-API-Token\": \"<token>\"}}",
                        key_list(&map)
                    ))
                })?;
                string_value(value, "SCIM-API-Token").map_err(malformed)?
            }
            Ok(_) => {
                return Err(malformed(
                    "it is JSON but neither a string nor an object".into(),
                ))
            }
            Err(e) => {
                return Err(malformed(format!(
                    "it looks like JSON but does not parse ({}); store either the token alone \
                        or {{\"SCIM-API-Token\": \"<token>\"}}",
                    json_position(&e)
                )))
            }
        }
    } else {
        text.to_string()
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(malformed(
            "the token is empty: paste the access token generated in the IAM Identity Center \
                console (Settings > Automatic provisioning)"
                .into(),
        ));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(malformed(
            "the token contains whitespace or control characters: store exactly the access token"
                .into(),
        ));
    }
    Ok(Secret::new(token))
}

/// The directory read-only account: a JSON object with the user name (a UPN or DN) and the
/// password. Returns `(bind name, password)`.
pub(crate) fn parse_credentials(
    secret_id: &str,
    raw: &str,
) -> Result<(String, Secret), ConfigError> {
    let malformed = |reason: String| ConfigError::SecretMalformed {
        id: secret_id.to_string(),
        reason,
    };
    const SHAPE: &str =
        r#"it must be JSON like {"username": "svc-scim@example.com", "password": "…"}"#;
    let map = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(malformed(format!("it is JSON but not an object: {SHAPE}"))),
        Err(e) => {
            return Err(malformed(format!(
                "it is not valid JSON ({}): {SHAPE}",
                json_position(&e)
            )))
        }
    };
    let username = find_key(&map, USERNAME_KEYS)
        .ok_or_else(|| {
            malformed(format!(
                "no username key (keys found: {}): {SHAPE}",
                key_list(&map)
            ))
        })
        .and_then(|v| string_value(v, "username").map_err(malformed))?;
    let password = find_key(&map, PASSWORD_KEYS)
        .ok_or_else(|| {
            malformed(format!(
                "no password key (keys found: {}): {SHAPE}",
                key_list(&map)
            ))
        })
        .and_then(|v| string_value(v, "password").map_err(malformed))?;
    let username = username.trim().to_string();
    if username.is_empty() {
        return Err(malformed(format!("the username is empty: {SHAPE}")));
    }
    if password.is_empty() {
        return Err(malformed(
            "the password is empty (an empty password would be an anonymous bind, which AD \
                accepts and which reads nothing useful)"
                .into(),
        ));
    }
    Ok((username, Secret::new(password)))
}

fn find_key<'a>(map: &'a Map<String, Value>, accepted: &[&str]) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| accepted.iter().any(|a| k.trim().eq_ignore_ascii_case(a)))
        .map(|(_, v)| v)
}

fn string_value(value: &Value, key: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!(
            "the {key} value is a JSON {}, not a string",
            json_kind(other)
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Key names only, never values.
fn key_list(map: &Map<String, Value>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.keys()
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Position and category only: serde_json's own messages can quote parts of the input.
fn json_position(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "it ends too early",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {}, column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "IAM-IDC/AD-RO-UserCreds";

    #[test]
    fn token_as_plain_string_or_in_the_samples_json() {
        assert_eq!(
            parse_token("t", "abc.def-123\n").unwrap().expose(),
            "abc.def-123"
        );
        assert_eq!(
            parse_token("t", r#"{"SCIM-API-Token": "abc"}"#)
                .unwrap()
                .expose(),
            "abc"
        );
        assert_eq!(
            parse_token("t", r#"{"token": "abc"}"#).unwrap().expose(),
            "abc"
        );
        assert_eq!(parse_token("t", r#""abc""#).unwrap().expose(), "abc");
    }

    #[test]
    fn bad_tokens_are_described_without_their_value() {
        let err = parse_token("IAM-IDC/SCIM-API-Token", r#"{"Token2": "hunter2"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("IAM-IDC/SCIM-API-Token") && err.contains("\"Token2\""),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = parse_token("t", r#"{"SCIM-API-Token": "hunter2"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2") && err.contains("line 1"), "{err}");
        assert!(parse_token("t", "  ")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(parse_token("t", "abc def").is_err());
    }

    #[test]
    fn credentials_in_every_accepted_capitalisation() {
        for raw in [
            r#"{"username": "svc@example.com", "password": "pw"}"#,
            r#"{"Username": "svc@example.com", "Password": "pw"}"#,
            r#"{"userName": "svc@example.com", "userPassword": "pw"}"#,
            r#"{"USERNAME": "svc@example.com", "PASSWORD": "pw", "extra": 1}"#,
        ] {
            let (user, pw) = parse_credentials(ID, raw).unwrap();
            assert_eq!(user, "svc@example.com");
            assert_eq!(pw.expose(), "pw");
        }
    }

    #[test]
    fn malformed_credentials_say_what_is_wrong_but_not_the_password() {
        let cases = [
            (
                r#"{"username": "svc", "password": "hunter2""#,
                "not valid JSON",
            ),
            (r#"username=svc password=hunter2"#, "not valid JSON"),
            (r#"["svc", "hunter2"]"#, "not an object"),
            (
                r#"{"username": "svc", "pass": "hunter2"}"#,
                "no password key",
            ),
            (
                r#"{"login": "svc", "password": "hunter2"}"#,
                "no username key",
            ),
            (
                r#"{"username": "svc", "password": ["hunter2"]}"#,
                "JSON array, not a string",
            ),
            (
                r#"{"username": "svc", "password": ""}"#,
                "password is empty",
            ),
        ];
        for (raw, want) in cases {
            let err = parse_credentials(ID, raw).unwrap_err().to_string();
            assert!(err.contains(want), "{raw}: {err}");
            assert!(err.contains(ID), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
