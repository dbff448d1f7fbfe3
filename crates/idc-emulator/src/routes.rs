//! The router, the static discovery documents (spec §6) and small helpers shared by handlers.

use crate::errors::{add_request_id, json_response, ScimError, ScimResult};
use crate::{admin, faults, groups, users, App, Behaviour, Faults};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use rand::Rng;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The whole application: `/scim/v2/...` (authenticated, counted, faulted) and `/admin/...`.
pub(crate) fn router(app: App) -> Router {
    let scim = Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::put)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::put)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            faults::scim_middleware,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app.clone());
    Router::new()
        .nest("/scim/v2", scim)
        .nest("/admin", admin::router(app))
        .fallback(not_found)
}

async fn not_found() -> Response {
    ScimError::new(StatusCode::NOT_FOUND, "Not Found").into_response()
}

async fn method_not_allowed() -> Response {
    ScimError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response()
}

/// 204 with AWS's request-id header.
pub(crate) fn no_content() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    add_request_id(&mut r);
    r
}

/// Parses a request body as JSON whatever its Content-Type (AWS does).
pub(crate) fn parse_body(b: &[u8]) -> ScimResult<Value> {
    serde_json::from_slice(b).map_err(|_| ScimError::bad_request("Invalid JSON from RequestBody"))
}

/// A new resource id from the seeded RNG: a UUID, or the legacy `<10 hex>-<uuid>` form.
pub(crate) fn new_id(rng: &mut impl Rng, legacy: bool) -> String {
    let uuid = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
    if legacy {
        let prefix: u64 = rng.random_range(0..(1u64 << 40));
        format!("{prefix:010x}-{uuid}")
    } else {
        uuid.to_string()
    }
}

/// The page size to serve: sometimes shorter than asked when `short_pages` is on.
pub(crate) fn short_page(rng: &mut impl Rng, b: &Behaviour, count: usize) -> usize {
    if b.short_pages
        && count > 0
        && b.short_page_rate > 0.0
        && rng.random::<f64>() < b.short_page_rate
    {
        rng.random_range(0..count)
    } else {
        count
    }
}

/// When a fresh object becomes readable under the visibility-delay fault.
pub(crate) fn visible_at(f: &Faults) -> Option<Instant> {
    (f.visibility_delay_ms > 0)
        .then(|| Instant::now() + Duration::from_millis(f.visibility_delay_ms))
}

async fn service_provider_config() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/userguide/manage-your-identity-source-idp.html",
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication scheme using the OAuth Bearer Token Standard",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/userguide/provision-automatically.html",
                "primary": true
            }],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 1, "maxPayloadSize": 1048576},
            "filter": {"supported": true, "maxResults": 50},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false}
        }),
    )
}

fn schema_docs() -> Vec<Value> {
    let attr = |name: &str, ty: &str, required: bool| {
        json!({"name": name, "type": ty, "multiValued": false, "required": required,
               "caseExact": false, "mutability": "readWrite", "returned": "default",
               "uniqueness": "none"})
    };
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
               "id": users::USER_URN, "name": "User", "description": "User Account",
               "attributes": [attr("userName", "string", true), attr("displayName", "string", true),
                              attr("externalId", "string", false), attr("active", "boolean", false),
                              attr("name", "complex", true), attr("emails", "complex", false)]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
               "id": groups::GROUP_URN, "name": "Group", "description": "Group",
               "attributes": [attr("displayName", "string", true), attr("externalId", "string", false),
                              attr("members", "complex", false)]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
               "id": crate::validate::ENTERPRISE_URN, "name": "EnterpriseUser",
               "description": "Enterprise User",
               "attributes": [attr("employeeNumber", "string", false), attr("costCenter", "string", false),
                              attr("organization", "string", false), attr("division", "string", false),
                              attr("department", "string", false), attr("manager", "complex", false)]}),
    ]
}

fn resource_type_docs() -> Vec<Value> {
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
               "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
               "schema": users::USER_URN,
               "schemaExtensions": [{"schema": crate::validate::ENTERPRISE_URN, "required": false}]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
               "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
               "schema": groups::GROUP_URN}),
    ]
}

fn list_of(items: Vec<Value>) -> Response {
    json_response(StatusCode::OK, &crate::paging::plain_response(items))
}

async fn schemas() -> Response {
    list_of(schema_docs())
}

async fn schema(Path(id): Path<String>) -> ScimResult<Response> {
    schema_docs()
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .map(|s| json_response(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, "Not Found"))
}

async fn resource_types() -> Response {
    list_of(resource_type_docs())
}

async fn resource_type(Path(id): Path<String>) -> ScimResult<Response> {
    resource_type_docs()
        .into_iter()
        .find(|s| s["id"] == id.as_str())
        .map(|s| json_response(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, "Not Found"))
}
