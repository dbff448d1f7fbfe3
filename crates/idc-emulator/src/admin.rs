//! The admin API under `/admin/` (outside `/scim/v2/`, never counted or faulted): faults,
//! behaviour switches, counters, state dump, reset and token management at run time.

use crate::errors::ScimError;
use crate::{App, Behaviour, Faults};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use serde_json::json;

/// Admin routes; they need the admin token only if one was configured.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/behaviour", get(get_behaviour).put(put_behaviour))
        .route("/counters", get(get_counters).delete(reset_counters))
        .route("/counters/reset", post(reset_counters))
        .route("/state", get(get_state))
        .route("/state/summary", get(get_summary))
        .route("/reset", post(reset))
        .route("/tokens", get(get_tokens))
        .route("/token/rotate", post(rotate_token))
        .route("/token/add", post(add_token))
        .route("/token/revoke", post(revoke_token))
        .route("/token/expire", post(expire_token))
        .route_layer(middleware::from_fn_with_state(app.clone(), admin_auth))
        .with_state(app)
}

async fn admin_auth(State(app): State<App>, req: Request, next: Next) -> Response {
    if let Some(expected) = &app.admin_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(expected.as_ref()) {
            return ScimError::unauthorized().into_response();
        }
    }
    next.run(req).await
}

async fn get_faults(State(app): State<App>) -> Json<Faults> {
    Json(app.lock().faults.clone())
}

async fn put_faults(State(app): State<App>, Json(f): Json<Faults>) -> Json<Faults> {
    app.set_faults(f.clone());
    Json(f)
}

async fn get_behaviour(State(app): State<App>) -> Json<Behaviour> {
    Json(app.lock().behaviour.clone())
}

async fn put_behaviour(State(app): State<App>, Json(b): Json<Behaviour>) -> Json<Behaviour> {
    app.set_behaviour(b.clone());
    Json(b)
}

async fn get_counters(State(app): State<App>) -> Json<crate::Counters> {
    Json(app.lock().counters.clone())
}

async fn reset_counters(State(app): State<App>) -> StatusCode {
    app.lock().counters = crate::Counters::default();
    StatusCode::NO_CONTENT
}

async fn get_state(State(app): State<App>) -> Json<crate::StateDump> {
    Json(crate::dump::dump(&app.lock()))
}

async fn get_summary(State(app): State<App>) -> Json<serde_json::Value> {
    let g = app.lock();
    Json(json!({
        "users": g.store.users.len(),
        "groups": g.store.groups.len(),
        "memberships": g.store.membership_count(),
    }))
}

async fn reset(State(app): State<App>) -> StatusCode {
    app.reset();
    StatusCode::NO_CONTENT
}

async fn get_tokens(State(app): State<App>) -> Json<serde_json::Value> {
    let (existing, active) = app.lock().tokens.counts();
    Json(json!({"existing": existing, "active": active, "max": crate::tokens::MAX_TOKENS}))
}

/// Body of the token routes.
#[derive(Deserialize)]
struct TokenBody {
    token: String,
    /// Optional lifetime of a new token, in seconds.
    #[serde(default)]
    ttl_secs: Option<u64>,
}

impl TokenBody {
    fn ttl(&self) -> Option<std::time::Duration> {
        self.ttl_secs.map(std::time::Duration::from_secs)
    }
}

async fn rotate_token(State(app): State<App>, Json(b): Json<TokenBody>) -> StatusCode {
    app.lock().tokens.rotate(&b.token, b.ttl());
    StatusCode::NO_CONTENT
}

async fn add_token(State(app): State<App>, Json(b): Json<TokenBody>) -> Response {
    match app.lock().tokens.add(&b.token, b.ttl()) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::CONFLICT, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

async fn revoke_token(State(app): State<App>, Json(b): Json<TokenBody>) -> StatusCode {
    app.lock().tokens.revoke(&b.token);
    StatusCode::NO_CONTENT
}

async fn expire_token(State(app): State<App>, Json(b): Json<TokenBody>) -> StatusCode {
    app.lock().tokens.expire(&b.token);
    StatusCode::NO_CONTENT
}
