//! AD's ranged retrieval of big multi-valued attributes: Windows returns at most
//! MaxValRange (1500) `member` values per request, under the name `member;range=0-1499`,
//! and a plain `member` is then absent. Samba does not cap, but honours explicit windows,
//! which is how the tests exercise this loop.

use crate::directory::entry::RawEntry;
use crate::directory::error::DirectoryError;

use super::search::Reader;

/// The attribute description to request first: `member` or `member;range=0-{window-1}`.
pub(crate) fn first_request(attr: &str, window: Option<u32>) -> String {
    match window {
        Some(w) => format!("{attr};range=0-{}", w.max(1) - 1),
        None => attr.to_string(),
    }
}

/// `(start, Some(end))` or `(start, None)` for the `*` end marker.
fn parse_range(description: &str, attr: &str) -> Option<(u64, Option<u64>)> {
    let lower = description.to_ascii_lowercase();
    let spec = lower.strip_prefix(&format!("{};range=", attr.to_ascii_lowercase()))?;
    let (start, end) = spec.split_once('-')?;
    let start = start.parse().ok()?;
    let end = if end == "*" {
        None
    } else {
        Some(end.parse().ok()?)
    };
    Some((start, end))
}

/// The values of `attr` the entry itself carries, and where the next range starts when the
/// server cut the attribute short (`None`: these are all of them).
pub(crate) fn values_in_entry<'e>(
    entry: &'e RawEntry,
    attr: &str,
) -> Result<(Vec<&'e [u8]>, Option<u64>), DirectoryError> {
    let mut values: Vec<&[u8]> = Vec::new();
    let mut next: Option<u64> = None;
    let mut found_plain = false;
    for (name, vals) in &entry.attrs {
        if name.eq_ignore_ascii_case(attr) {
            values.extend(vals.iter().map(Vec::as_slice));
            found_plain = true;
        } else if let Some((start, end)) = parse_range(name, attr) {
            if start != 0 {
                return Err(bad_range(&format!("read {attr} of {}", entry.dn), name));
            }
            values.extend(vals.iter().map(Vec::as_slice));
            next = end.map(|e| e + 1);
        }
    }
    // A plain description is the whole attribute: nothing more to ask for.
    Ok((values, next.filter(|_| !found_plain)))
}

/// Every value of `attr` on `entry`, following `;range=` continuations until the end marker
/// `*` (or until the server returns no further range). An inconsistent range is an error,
/// never a silently shortened group.
pub(crate) async fn all_values(
    reader: &mut Reader,
    entry: &RawEntry,
    attr: &str,
    window: Option<u32>,
) -> Result<Vec<Vec<u8>>, DirectoryError> {
    let operation = format!("read {attr} of {}", entry.dn);
    let (first, mut next) = values_in_entry(entry, attr)?;
    let mut values: Vec<Vec<u8>> = first.into_iter().map(<[u8]>::to_vec).collect();
    while let Some(start) = next.take() {
        let request = match window {
            Some(w) => format!("{attr};range={start}-{}", start + u64::from(w.max(1)) - 1),
            None => format!("{attr};range={start}-*"),
        };
        let Some(more) = reader
            .read_entry(
                &operation,
                &entry.dn,
                "(objectClass=*)",
                &[request.as_str()],
            )
            .await?
        else {
            return Err(DirectoryError::Protocol {
                operation,
                detail: "the entry disappeared during the ranged read".into(),
            });
        };
        for (name, vals) in &more.attrs {
            if let Some((s, end)) = parse_range(name, attr) {
                if s != start || end.is_some_and(|e| e < s) {
                    return Err(bad_range(&operation, name));
                }
                values.extend(vals.iter().cloned());
                next = end.map(|e| e + 1);
            }
        }
        // No ranged attribute in the answer: the previous range ended exactly at the end.
    }
    Ok(values)
}

fn bad_range(operation: &str, name: &str) -> DirectoryError {
    DirectoryError::Protocol {
        operation: operation.to_string(),
        detail: format!("unexpected range {name:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed() {
        assert_eq!(
            parse_range("member;range=0-1499", "member"),
            Some((0, Some(1499)))
        );
        assert_eq!(
            parse_range("Member;Range=1500-*", "member"),
            Some((1500, None))
        );
        assert_eq!(parse_range("member", "member"), None);
        assert_eq!(parse_range("member;range=x-1", "member"), None);
        assert_eq!(first_request("member", Some(1000)), "member;range=0-999");
        assert_eq!(first_request("member", None), "member");
    }
}
