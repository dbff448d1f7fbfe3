//! AWS-shaped SCIM error bodies (spec §5.1): both `schema` and `schemas`, a string `status`,
//! `detail`, `exceptionRequestId` and `timeStamp`; no `scimType`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The one error URN AWS puts in both `schema` and `schemas`.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The generic 400 detail AWS gives for most validation failures.
pub const UNPARSABLE: &str = "Request is unparsable, syntactically incorrect, or violates schema.";
/// The 409 detail AWS gives for every uniqueness clash, users and groups alike.
pub const DUPLICATE: &str = "Refused to create a new, duplicate resource.";
/// The 400 detail for filters outside §4.2.
pub const INVALID_FILTER: &str = "Invalid Filter format";

/// One SCIM error: a status and the `detail` text AWS would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct ScimError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Text for the `detail` field.
    pub detail: String,
}

impl ScimError {
    /// Any error with an explicit status.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }
    /// 400 ValidationException with a specific detail.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    /// 400 with AWS's generic "unparsable" detail.
    pub fn unparsable() -> Self {
        Self::bad_request(UNPARSABLE)
    }
    /// 400 "Invalid Filter format".
    pub fn invalid_filter() -> Self {
        Self::bad_request(INVALID_FILTER)
    }
    /// 409 ConflictException.
    pub fn conflict() -> Self {
        Self::new(StatusCode::CONFLICT, DUPLICATE)
    }
    /// 404 ResourceNotFoundException for a user or group id.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{kind} {id} not found."))
    }
    /// 401 UnauthorizedException.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "The security token included in the request is invalid.",
        )
    }
}

/// Current time in AWS's error-body format, `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub fn error_timestamp() -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
    );
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

/// The JSON body of an AWS SCIM error.
pub fn error_body(status: StatusCode, detail: &str) -> serde_json::Value {
    json!({
        "schema": [ERROR_URN],
        "schemas": [ERROR_URN],
        "detail": detail,
        "status": status.as_u16().to_string(),
        "exceptionRequestId": uuid::Uuid::new_v4().to_string(),
        "timeStamp": error_timestamp(),
    })
}

/// A JSON response with the headers AWS always sends.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_request_id(&mut resp);
    resp
}

/// Adds `x-amzn-RequestId`, which AWS puts on every answer.
pub fn add_request_id(resp: &mut Response) {
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        json_response(self.status, &error_body(self.status, &self.detail))
    }
}

/// Handler result type: a response or an AWS-shaped error.
pub type ScimResult<T> = Result<T, ScimError>;
