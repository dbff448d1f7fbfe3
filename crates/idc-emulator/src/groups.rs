//! `/Groups` handlers (spec §3): POST 201 (≤ 100 members), GET/List with `members: []`,
//! PATCH 204 (≤ 100 member changes summed over ops, no `replace` of members), DELETE 204,
//! no PUT.

use crate::errors::{json_response, ScimError, ScimResult};
use crate::filter::{parse_group_filter, GroupFilter};
use crate::paging::{self, parse_query};
use crate::patch::{parse_ops, OpKind};
use crate::routes::{new_id, no_content, parse_body, short_page, visible_at};
use crate::state::{GroupRec, Store};
use crate::validate::{opt_str, Kind, Violations};
use crate::{App, PutGroupAnswer};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use rand::seq::SliceRandom;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::ops::Bound;

/// Core group schema URN.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// AWS's limit on members per create and member changes per PATCH.
pub const MAX_MEMBER_CHANGES: usize = 100;
const KIND: u8 = 2;
const NO_REPLACE: &str = "Replacing group memberships is not supported.";

/// The group as AWS returns it; `with_members` adds the always-empty `members` of GET/List.
pub fn group_json(g: &GroupRec, echo_external_id: bool, with_members: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(g.id.clone()));
    m.insert(
        "meta".into(),
        json!({"resourceType": "Group", "created": g.created, "lastModified": g.modified}),
    );
    m.insert("schemas".into(), json!([GROUP_URN]));
    m.insert("displayName".into(), Value::String(g.display_name.clone()));
    if echo_external_id {
        if let Some(e) = &g.external_id {
            m.insert("externalId".into(), Value::String(e.clone()));
        }
    }
    if with_members {
        m.insert("members".into(), json!([]));
    }
    Value::Object(m)
}

fn visible_group<'a>(store: &'a Store, id: &str) -> ScimResult<(u64, &'a GroupRec)> {
    store
        .group_slot(id)
        .and_then(|s| store.groups.get(&s).map(|g| (s, g)))
        .filter(|(_, g)| g.is_visible())
        .ok_or_else(|| ScimError::not_found("Group", id))
}

fn check_name(name: &str, v: &mut Violations) {
    v.check("displayName", name, Kind::GroupName);
}

/// Member user slots from `[{"value": id}, ...]`; every id must be an existing user.
fn member_slots(store: &Store, value: &Value) -> ScimResult<Vec<u64>> {
    let Value::Array(items) = value else {
        return Err(ScimError::unparsable());
    };
    items
        .iter()
        .map(|m| {
            m.get("value")
                .and_then(Value::as_str)
                .and_then(|id| store.user_slot(id))
                .filter(|s| store.users.get(s).is_some_and(|u| u.is_visible()))
                .ok_or_else(ScimError::unparsable)
        })
        .collect()
}

/// POST /Groups
pub async fn create(State(app): State<App>, body: Bytes) -> ScimResult<Response> {
    let body = parse_body(&body)?;
    let Value::Object(obj) = &body else {
        return Err(ScimError::unparsable());
    };
    let mut v = Violations::default();
    let name = opt_str(obj, "displayName")?;
    match name {
        Some(n) => check_name(n, &mut v),
        None => v.missing("displayName"),
    }
    let ext = opt_str(obj, "externalId")?;
    if let Some(e) = ext {
        v.check("externalId", e, Kind::ExternalId);
    }
    v.finish()?;
    let mut g = app.lock();
    let g = &mut *g;
    let mut members = match obj.get("members") {
        None | Some(Value::Null) => vec![],
        Some(m) => member_slots(&g.store, m)?,
    };
    if members.len() > MAX_MEMBER_CHANGES {
        return Err(ScimError::unparsable());
    }
    members.sort_unstable();
    members.dedup();
    let name = name.unwrap_or_default().to_string();
    g.store.check_group_unique(&name, ext, None)?;
    let id = new_id(&mut g.rng, g.behaviour.legacy_ids);
    let ext = ext.map(str::to_string);
    let slot = g
        .store
        .insert_group(id, name, ext, &members, visible_at(&g.faults))?;
    let echo = g.behaviour.echo_group_external_id;
    let out = g
        .store
        .groups
        .get(&slot)
        .map(|gr| group_json(gr, echo, false))
        .unwrap_or_default();
    Ok(json_response(StatusCode::CREATED, &out))
}

/// GET /Groups/{id}: `members` is always empty, as on AWS.
pub async fn get(State(app): State<App>, Path(id): Path<String>) -> ScimResult<Response> {
    let g = app.lock();
    let (_, gr) = visible_group(&g.store, &id)?;
    let out = group_json(gr, g.behaviour.echo_group_external_id, true);
    Ok(json_response(StatusCode::OK, &out))
}

/// PUT /Groups/{id}: AWS has no PutGroup; the refusal is a switch.
pub async fn put(State(app): State<App>) -> ScimResult<Response> {
    let answer = app.lock().behaviour.put_group;
    Err(match answer {
        PutGroupAnswer::BadRequest => ScimError::bad_request("The operation is unsupported."),
        PutGroupAnswer::NotFound => ScimError::new(StatusCode::NOT_FOUND, "Not Found"),
        PutGroupAnswer::MethodNotAllowed => {
            ScimError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        }
    })
}

/// DELETE /Groups/{id}
pub async fn delete(State(app): State<App>, Path(id): Path<String>) -> ScimResult<Response> {
    let mut g = app.lock();
    let (slot, _) = visible_group(&g.store, &id)?;
    g.store.delete_group(slot);
    Ok(no_content())
}

/// A validated group PATCH, ready to apply atomically.
#[derive(Default)]
struct GroupChange {
    name: Option<String>,
    ext: Option<Option<String>>,
    /// (add?, user slot) in request order.
    members: Vec<(bool, u64)>,
}

fn string_value(v: Option<Value>) -> ScimResult<String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        _ => Err(ScimError::unparsable()),
    }
}

fn parse_member_filter(path: &str) -> Option<&str> {
    let inner = path
        .strip_prefix("members[")
        .or_else(|| path.strip_prefix("Members["))?
        .strip_suffix(']')?;
    let mut parts = inner.trim().splitn(3, ' ');
    let (a, op, v) = (parts.next()?, parts.next()?, parts.next()?);
    (a == "value" && op.eq_ignore_ascii_case("eq"))
        .then(|| v.trim().strip_prefix('"')?.strip_suffix('"'))
        .flatten()
}

fn collect_change(store: &Store, body: &Value, legacy_noop: bool) -> ScimResult<GroupChange> {
    let mut ch = GroupChange::default();
    let mut v = Violations::default();
    for op in parse_ops(body)? {
        let path = op.path.as_deref();
        match (op.kind, path) {
            (OpKind::Remove | OpKind::Add | OpKind::Replace, Some(p))
                if p.eq_ignore_ascii_case("members") =>
            {
                match op.kind {
                    OpKind::Replace if legacy_noop => {}
                    OpKind::Replace => return Err(ScimError::bad_request(NO_REPLACE)),
                    kind => {
                        let value = op.value.ok_or_else(ScimError::unparsable)?;
                        let slots = member_slots(store, &value)?;
                        if slots.is_empty() {
                            return Err(ScimError::unparsable());
                        }
                        ch.members
                            .extend(slots.into_iter().map(|s| (kind == OpKind::Add, s)));
                    }
                }
            }
            (kind, Some(p)) if parse_member_filter(p).is_some() => {
                if kind != OpKind::Remove {
                    return Err(ScimError::unparsable());
                }
                let slots = member_slots(store, &json!([{"value": parse_member_filter(p)}]))?;
                ch.members.extend(slots.into_iter().map(|s| (false, s)));
            }
            (OpKind::Remove, Some(p)) if p.eq_ignore_ascii_case("externalId") => {
                ch.ext = Some(None)
            }
            (_, Some(p)) if p.eq_ignore_ascii_case("externalId") && op.kind != OpKind::Remove => {
                let e = string_value(op.value)?;
                v.check("externalId", &e, Kind::ExternalId);
                ch.ext = Some(Some(e));
            }
            (kind, Some(p)) if p.eq_ignore_ascii_case("displayName") && kind != OpKind::Remove => {
                let n = string_value(op.value)?;
                check_name(&n, &mut v);
                ch.name = Some(n);
            }
            (_, Some(_)) => return Err(ScimError::unparsable()),
            (kind, None) => {
                let Some(Value::Object(obj)) = op.value else {
                    return Err(ScimError::unparsable());
                };
                for (k, val) in obj {
                    match k.as_str() {
                        "id" | "schemas" | "meta" => {}
                        "displayName" => {
                            let n = string_value(Some(val))?;
                            check_name(&n, &mut v);
                            ch.name = Some(n);
                        }
                        "externalId" => {
                            let e = string_value(Some(val))?;
                            v.check("externalId", &e, Kind::ExternalId);
                            ch.ext = Some(Some(e));
                        }
                        "members" if kind == OpKind::Add => {
                            let slots = member_slots(store, &val)?;
                            ch.members.extend(slots.into_iter().map(|s| (true, s)));
                        }
                        "members" if legacy_noop => {}
                        "members" => return Err(ScimError::bad_request(NO_REPLACE)),
                        _ => return Err(ScimError::unparsable()),
                    }
                }
            }
        }
    }
    v.finish()?;
    if ch.members.len() > MAX_MEMBER_CHANGES {
        return Err(ScimError::unparsable());
    }
    Ok(ch)
}

/// PATCH /Groups/{id}: 204, all-or-nothing.
pub async fn patch(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult<Response> {
    let body = parse_body(&body)?;
    let mut g = app.lock();
    let g = &mut *g;
    let (slot, gr) = visible_group(&g.store, &id)?;
    let (old_name, old_ext) = (gr.display_name.clone(), gr.external_id.clone());
    let ch = collect_change(&g.store, &body, g.behaviour.legacy_replace_members_noop)?;
    // Membership effects, checked against an overlay so a big group is never copied.
    let mut overlay: HashMap<u64, bool> = HashMap::new();
    for (add, user) in &ch.members {
        let is_member = overlay
            .get(user)
            .copied()
            .unwrap_or_else(|| g.store.is_member(slot, *user));
        if *add && is_member && g.behaviour.duplicate_member_add_is_error {
            return Err(ScimError::unparsable());
        }
        if !*add && !is_member && g.behaviour.remove_non_member_is_error {
            return Err(ScimError::unparsable());
        }
        overlay.insert(*user, *add);
    }
    let name = ch.name.unwrap_or(old_name.clone());
    let ext = ch.ext.unwrap_or(old_ext.clone());
    if name != old_name || ext != old_ext {
        g.store.update_group(slot, name, ext)?;
    }
    for (user, member) in overlay {
        if member {
            g.store.add_member(slot, user);
        } else {
            g.store.remove_member(slot, user);
        }
    }
    Ok(no_content())
}

/// Candidate group slots for a filter, in slot order, starting after `after`.
fn candidates<'a>(
    store: &'a Store,
    filter: Option<&GroupFilter>,
    after: Option<u64>,
) -> Box<dyn Iterator<Item = u64> + 'a> {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    match filter {
        None => Box::new(
            store
                .groups
                .range((start, Bound::Unbounded))
                .map(|(s, _)| *s),
        ),
        Some(GroupFilter::MembersValue(uid)) => match store
            .user_slot(uid)
            .and_then(|s| store.users.get(&s))
            .filter(|u| u.is_visible())
        {
            Some(u) => Box::new(u.groups.range((start, Bound::Unbounded)).copied()),
            None => Box::new(std::iter::empty()),
        },
        Some(GroupFilter::DisplayName(v)) => Box::new(store.group_by_name(v).into_iter()),
        Some(GroupFilter::ExternalId(v)) => Box::new(store.group_by_external_id(v).into_iter()),
        Some(GroupFilter::Id(id)) => Box::new(store.group_slot(id).into_iter()),
        Some(GroupFilter::IdAndMember(gid, uid)) => {
            let user = store.user_slot(uid);
            Box::new(
                store
                    .group_slot(gid)
                    .filter(|g| user.is_some_and(|u| store.is_member(*g, u)))
                    .into_iter(),
            )
        }
    }
}

/// GET /Groups with the §4.2 filters, cursor or plain mode.
pub async fn list(State(app): State<App>, RawQuery(raw): RawQuery) -> ScimResult<Response> {
    let q = parse_query(raw.as_deref())?;
    let filter = q.filter.as_deref().map(parse_group_filter).transpose()?;
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
    let echo = g.behaviour.echo_group_external_id;
    let iter = candidates(store, filter.as_ref(), after)
        .filter(|s| after.is_none_or(|a| *s > a))
        .filter(|s| store.groups.get(s).is_some_and(GroupRec::is_visible));
    let (slots, more) = paging::take_page(iter, n);
    let mut resources: Vec<Value> = slots
        .iter()
        .filter_map(|s| store.groups.get(s).map(|gr| group_json(gr, echo, true)))
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
