//! List query parameters and cursor pagination (spec §4.1, §4.3).
//!
//! Cursors are keyset cursors: base64 of (resource kind, filter hash, last slot returned), so a
//! page costs O(log n + count) whatever the position, and a cursor cannot be replayed with a
//! different filter.

use crate::errors::{ScimError, ScimResult};
use base64::Engine;
use serde_json::{json, Value};
use std::hash::{DefaultHasher, Hash, Hasher};

/// URN of list responses.
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// AWS's page size limit and default.
pub const MAX_COUNT: usize = 100;

/// Parsed list query.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub count: usize,
    /// `Some("")` for the first cursor page: the mere presence of `cursor` selects cursor mode.
    pub cursor: Option<String>,
}

/// Parses the raw query string (`?cursor` with no `=` counts as an empty cursor).
pub fn parse_query(raw: Option<&str>) -> ScimResult<ListQuery> {
    let mut q = ListQuery {
        count: MAX_COUNT,
        ..ListQuery::default()
    };
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "filter" => q.filter = Some(v.into_owned()),
            "count" => {
                let n: i64 = v.trim().parse().map_err(|_| ScimError::unparsable())?;
                if !(1..=MAX_COUNT as i64).contains(&n) {
                    return Err(ScimError::unparsable());
                }
                q.count = n as usize;
            }
            "cursor" => q.cursor = Some(v.into_owned()),
            // startIndex is silently ignored by AWS; other parameters too.
            _ => {}
        }
    }
    Ok(q)
}

fn filter_hash(kind: u8, filter: Option<&str>) -> u64 {
    let mut h = DefaultHasher::new();
    kind.hash(&mut h);
    filter.hash(&mut h);
    h.finish()
}

/// Opaque cursor pointing after `last_slot` for this resource kind and filter.
pub fn encode_cursor(kind: u8, filter: Option<&str>, last_slot: u64) -> String {
    let mut bytes = Vec::with_capacity(17);
    bytes.push(kind);
    bytes.extend_from_slice(&filter_hash(kind, filter).to_be_bytes());
    bytes.extend_from_slice(&last_slot.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The slot after which to continue; `None` for the first page. 400 for a foreign cursor.
pub fn decode_cursor(kind: u8, filter: Option<&str>, cursor: &str) -> ScimResult<Option<u64>> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .map_err(|_| ScimError::unparsable())?;
    let ok = bytes.len() == 17
        && bytes[0] == kind
        && bytes[1..9] == filter_hash(kind, filter).to_be_bytes();
    if !ok {
        return Err(ScimError::unparsable());
    }
    let mut slot = [0u8; 8];
    slot.copy_from_slice(&bytes[9..17]);
    Ok(Some(u64::from_be_bytes(slot)))
}

/// Takes up to `n` slots and says whether more follow.
pub fn take_page(mut iter: impl Iterator<Item = u64>, n: usize) -> (Vec<u64>, bool) {
    let page: Vec<u64> = iter.by_ref().take(n).collect();
    let more = page.len() == n && iter.next().is_some();
    (page, more)
}

/// A cursor-mode page: `itemsPerPage`, `nextCursor` unless last, no `totalResults`.
pub fn cursor_response(resources: Vec<Value>, next: Option<String>) -> Value {
    let mut v = json!({
        "schemas": [LIST_URN],
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let (Some(c), Value::Object(m)) = (next, &mut v) {
        m.insert("nextCursor".into(), Value::String(c));
    }
    v
}

/// A non-cursor page: the pessimistic old AWS shape, `totalResults = itemsPerPage`.
pub fn plain_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_URN],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_is_filter_bound() {
        let c = encode_cursor(1, Some("a"), 42);
        assert_eq!(decode_cursor(1, Some("a"), &c).unwrap(), Some(42));
        assert!(decode_cursor(1, Some("b"), &c).is_err());
        assert!(decode_cursor(2, Some("a"), &c).is_err());
        assert!(decode_cursor(1, None, "garbage!").is_err());
    }

    #[test]
    fn bare_cursor_selects_cursor_mode() {
        let q = parse_query(Some("cursor&count=5")).unwrap();
        assert_eq!(q.cursor.as_deref(), Some(""));
        assert_eq!(q.count, 5);
        assert!(parse_query(Some("count=0")).is_err());
        assert!(parse_query(Some("count=101")).is_err());
    }
}
