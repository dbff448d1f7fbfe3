//! Cursor pagination and single-object lookups.
//!
//! Enumeration always uses cursor mode: the first page is requested with an empty `cursor`,
//! then `nextCursor` is followed until it is absent. Short pages are normal and `totalResults`
//! is never read (the old service reported the page size there). Single-object `eq` lookups
//! use one plain page.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::counts::RequestKind;
use super::error::ScimError;
use super::transport::{Call, Transport};
use super::wire::ListPage;

/// Guard against a server that hands out cursors forever: 100,000 objects is Identity
/// Center's quota, so at one item per page this is already generous.
const MAX_PAGES: usize = 200_000;

/// What a listing decoded, and what it had to skip.
#[derive(Debug, Clone)]
pub(super) struct Decoded<T> {
    pub items: Vec<T>,
    /// Descriptions of resources that could not be decoded (no id, wrong shape).
    pub skipped: Vec<String>,
}

/// Where and what to list.
pub(super) struct Listing<'a> {
    pub kind: RequestKind,
    /// `Users` or `Groups`.
    pub collection: &'a str,
    pub filter: Option<&'a str>,
    pub operation: &'a str,
    pub object: &'a str,
}

/// Every resource of a collection (optionally filtered), following cursors to the end,
/// handed to `each_page` one page at a time so a caller can decode and drop it: 100,000
/// users held as JSON values would cost hundreds of megabytes.
pub(super) async fn for_each_page(
    t: &Transport,
    listing: &Listing<'_>,
    mut each_page: impl FnMut(Vec<Value>),
) -> Result<(), ScimError> {
    let mut cursor = String::new();
    let mut seen_cursors = std::collections::HashSet::new();
    for _ in 0..MAX_PAGES {
        let page = page(t, listing, Some(&cursor)).await?;
        each_page(page.resources);
        match page.next_cursor.filter(|c| !c.is_empty()) {
            None => return Ok(()),
            Some(next) => {
                if !seen_cursors.insert(next.clone()) {
                    return Err(invalid(listing, "the server repeated a cursor"));
                }
                cursor = next;
            }
        }
    }
    Err(invalid(listing, "more pages than Identity Center can hold"))
}

/// Every resource of a collection, decoded page by page with `convert`.
pub(super) async fn list_decoded<W, T>(
    t: &Transport,
    listing: &Listing<'_>,
    what: &str,
    convert: impl Fn(W) -> Option<T>,
) -> Result<Decoded<T>, ScimError>
where
    W: DeserializeOwned,
{
    let mut all = Decoded {
        items: Vec::new(),
        skipped: Vec::new(),
    };
    for_each_page(t, listing, |page| {
        let decoded = decode_each(page, what, &convert);
        all.items.extend(decoded.items);
        all.skipped.extend(decoded.skipped);
    })
    .await?;
    all.items.shrink_to_fit();
    Ok(all)
}

/// The first page of an `eq` lookup: such a filter matches at most a few objects.
pub(super) async fn lookup(t: &Transport, listing: &Listing<'_>) -> Result<Vec<Value>, ScimError> {
    Ok(page(t, listing, None).await?.resources)
}

async fn page(
    t: &Transport,
    listing: &Listing<'_>,
    cursor: Option<&str>,
) -> Result<ListPage, ScimError> {
    let mut url = t.resource_url(&[listing.collection]);
    {
        let mut q = url.query_pairs_mut();
        if let Some(filter) = listing.filter {
            q.append_pair("filter", filter);
        }
        q.append_pair("count", &t.tuning().page_size.to_string());
        if let Some(cursor) = cursor {
            q.append_pair("cursor", cursor);
        }
    }
    let call = Call::new(
        listing.kind,
        Method::GET,
        url,
        listing.operation,
        listing.object,
    )
    .collection()
    .expect_json();
    let reply = t.send(&call).await?;
    if !reply.status.is_success() {
        return Err(reply.into_error(&call));
    }
    serde_json::from_slice::<ListPage>(&reply.body)
        .map_err(|e| invalid(listing, &format!("not a SCIM list response: {e}")))
}

fn invalid(listing: &Listing<'_>, reason: &str) -> ScimError {
    ScimError::InvalidResponse {
        operation: listing.operation.to_string(),
        object: listing.object.to_string(),
        reason: reason.to_string(),
    }
}

/// Decodes each resource on its own, so one odd object never fails a whole listing.
pub(super) fn decode_each<W, T>(
    resources: Vec<Value>,
    what: &str,
    convert: impl Fn(W) -> Option<T>,
) -> Decoded<T>
where
    W: DeserializeOwned,
{
    let mut decoded = Decoded {
        items: Vec::with_capacity(resources.len()),
        skipped: Vec::new(),
    };
    for resource in resources {
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("(no id)")
            .to_string();
        match serde_json::from_value::<W>(resource)
            .ok()
            .and_then(&convert)
        {
            Some(item) => decoded.items.push(item),
            None => decoded.skipped.push(format!(
                "a {what} Identity Center listed ({id}) could not be read"
            )),
        }
    }
    decoded
}
