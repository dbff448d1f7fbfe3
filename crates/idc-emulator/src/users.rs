//! `/Users` handlers (spec §2): POST 201, GET 200, PUT 200, PATCH 200 with body, DELETE 204.

use crate::errors::{json_response, ScimError, ScimResult};
use crate::filter::{parse_user_filter, UserFilter};
use crate::paging::{self, parse_query};
use crate::routes::{new_id, parse_body, short_page, visible_at};
use crate::state::{Store, UserRec};
use crate::validate::{normalise_user, ENTERPRISE_URN};
use crate::App;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use rand::seq::SliceRandom;
use serde_json::{json, Map, Value};
use std::ops::Bound;

/// Core user schema URN.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const KIND: u8 = 1;

/// The user as AWS returns it: attributes plus `id`, `meta` and `schemas`.
pub fn user_json(u: &UserRec) -> Value {
    let mut m: Map<String, Value> = u.attrs.clone();
    m.insert("id".into(), Value::String(u.id.clone()));
    m.insert(
        "meta".into(),
        json!({"resourceType": "User", "created": u.created, "lastModified": u.modified}),
    );
    m.insert("schemas".into(), json!([USER_URN, ENTERPRISE_URN]));
    Value::Object(m)
}

fn visible_user<'a>(store: &'a Store, id: &str) -> ScimResult<(u64, &'a UserRec)> {
    store
        .user_slot(id)
        .and_then(|s| store.users.get(&s).map(|u| (s, u)))
        .filter(|(_, u)| u.is_visible())
        .ok_or_else(|| ScimError::not_found("User", id))
}

/// POST /Users
pub async fn create(State(app): State<App>, body: Bytes) -> ScimResult<Response> {
    let body = parse_body(&body)?;
    let mut g = app.lock();
    let g = &mut *g;
    let (attrs, keys) = normalise_user(&body, g.behaviour.lenient_booleans)?;
    g.store.check_user_unique(&keys, None)?;
    let id = new_id(&mut g.rng, g.behaviour.legacy_ids);
    let slot = g
        .store
        .insert_user(id, attrs, keys, visible_at(&g.faults))?;
    let u = g.store.users.get(&slot).map(user_json).unwrap_or_default();
    Ok(json_response(StatusCode::CREATED, &u))
}

/// GET /Users/{id}
pub async fn get(State(app): State<App>, Path(id): Path<String>) -> ScimResult<Response> {
    let g = app.lock();
    let (_, u) = visible_user(&g.store, &id)?;
    Ok(json_response(StatusCode::OK, &user_json(u)))
}

/// PUT /Users/{id}: replaces the whole user; omitted optional attributes are cleared.
pub async fn put(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult<Response> {
    let body = parse_body(&body)?;
    let mut g = app.lock();
    let g = &mut *g;
    let (slot, _) = visible_user(&g.store, &id)?;
    let (attrs, keys) = normalise_user(&body, g.behaviour.lenient_booleans)?;
    g.store.replace_user(slot, attrs, keys)?;
    let u = g.store.users.get(&slot).map(user_json).unwrap_or_default();
    Ok(json_response(StatusCode::OK, &u))
}

/// PATCH /Users/{id}: ops applied to a copy, validated like a PUT, then stored. 200 + body.
pub async fn patch(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult<Response> {
    let body = parse_body(&body)?;
    let ops = crate::patch::parse_ops(&body)?;
    let mut g = app.lock();
    let g = &mut *g;
    let (slot, u) = visible_user(&g.store, &id)?;
    let mut attrs = u.attrs.clone();
    crate::patch::apply_user_ops(&mut attrs, ops)?;
    let (attrs, keys) = normalise_user(&Value::Object(attrs), g.behaviour.lenient_booleans)?;
    g.store.replace_user(slot, attrs, keys)?;
    let u = g.store.users.get(&slot).map(user_json).unwrap_or_default();
    Ok(json_response(StatusCode::OK, &u))
}

/// DELETE /Users/{id}: 204; memberships go with the user.
pub async fn delete(State(app): State<App>, Path(id): Path<String>) -> ScimResult<Response> {
    let mut g = app.lock();
    let (slot, _) = visible_user(&g.store, &id)?;
    g.store.delete_user(slot);
    Ok(crate::routes::no_content())
}

fn manager_of(u: &UserRec) -> Option<&str> {
    u.attrs
        .get(ENTERPRISE_URN)?
        .get("manager")?
        .get("value")?
        .as_str()
}

/// Candidate slots for a filter, in slot order, starting after `after`.
fn candidates<'a>(
    store: &'a Store,
    filter: Option<&UserFilter>,
    after: Option<u64>,
) -> Box<dyn Iterator<Item = u64> + 'a> {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    match filter {
        None => Box::new(
            store
                .users
                .range((start, Bound::Unbounded))
                .map(|(s, _)| *s),
        ),
        Some(UserFilter::GroupsValue(gid)) => match store
            .group_slot(gid)
            .and_then(|s| store.groups.get(&s))
            .filter(|g| g.is_visible())
        {
            Some(g) => Box::new(g.members.range((start, Bound::Unbounded)).copied()),
            None => Box::new(std::iter::empty()),
        },
        Some(UserFilter::UserName(v)) => Box::new(store.user_by_name(v).into_iter()),
        Some(UserFilter::ExternalId(v)) => Box::new(store.user_by_external_id(v).into_iter()),
        Some(UserFilter::Id(id)) => Box::new(store.user_slot(id).into_iter()),
        Some(UserFilter::IdAndManager(id, m)) => Box::new(
            store
                .user_slot(id)
                .filter(|s| {
                    store
                        .users
                        .get(s)
                        .and_then(manager_of)
                        .is_some_and(|mv| mv == m)
                })
                .into_iter(),
        ),
    }
}

/// GET /Users with the §4.2 filters, cursor or plain mode.
pub async fn list(State(app): State<App>, RawQuery(raw): RawQuery) -> ScimResult<Response> {
    let q = parse_query(raw.as_deref())?;
    let filter = q.filter.as_deref().map(parse_user_filter).transpose()?;
    let mut g = app.lock();
    let g = &mut *g;
    let after = match &q.cursor {
        Some(c) => paging::decode_cursor(KIND, q.filter.as_deref(), c)?,
        None => None,
    };
    let n = if q.cursor.is_some() {
        short_page(&mut g.rng, &g.behaviour, q.count)
    } else {
        q.count
    };
    let store = &g.store;
    let iter = candidates(store, filter.as_ref(), after)
        .filter(|s| after.is_none_or(|a| *s > a))
        .filter(|s| store.users.get(s).is_some_and(UserRec::is_visible));
    let (slots, more) = paging::take_page(iter, n);
    let mut resources: Vec<Value> = slots
        .iter()
        .filter_map(|s| store.users.get(s).map(user_json))
        .collect();
    let body = if q.cursor.is_some() {
        let next = more.then(|| {
            let last = slots.last().copied().or(after).unwrap_or(0);
            paging::encode_cursor(KIND, q.filter.as_deref(), last)
        });
        paging::cursor_response(resources, next)
    } else {
        if g.behaviour.shuffle_unpaged {
            resources.shuffle(&mut g.rng);
        }
        paging::plain_response(resources)
    };
    Ok(json_response(StatusCode::OK, &body))
}
