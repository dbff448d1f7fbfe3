//! Searches that either return every entry or fail: paged results (servers cap pages, and
//! Windows refuses unpaged searches past 1000 entries), search references ignored and never
//! chased, and entries decoded without trusting the server's encoding.

use std::time::Duration;

use ldap3::asn1::StructureTag;
use ldap3::controls::{PagedResults, RawControl};
use ldap3::{Ldap, LdapResult, Scope as LdapScope};

use crate::directory::entry::RawEntry;
use crate::directory::error::DirectoryError;
use crate::directory::filter_escape::filter_bytes;

use super::connect::op_error;

const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";
/// AD's LDAP_SERVER_SHOW_DELETED_OID: a search returns tombstones too.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// A bound connection plus the limits every search obeys.
pub(crate) struct Reader {
    pub ldap: Ldap,
    pub url: String,
    pub page_size: u32,
    pub timeout: Duration,
}

impl Reader {
    /// Every entry matching `filter` under `base`, page by page. Pages shorter than asked
    /// for are normal (the server decides); a failed page fails the whole search.
    pub async fn search_paged(
        &mut self,
        operation: &str,
        base: &str,
        scope: LdapScope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<RawEntry>, DirectoryError> {
        self.collect_with(operation, (base, scope, filter), attrs, None)
            .await
    }

    /// [`Self::search_paged`], handing each entry to `each` as its page arrives: 100k users
    /// held as raw entries would cost over 100 MB, one page of them a few hundred kB. An
    /// error from `each` ends the search with that error.
    pub async fn search_each(
        &mut self,
        operation: &str,
        base: &str,
        scope: LdapScope,
        filter: &str,
        attrs: &[&str],
        each: impl FnMut(RawEntry) -> Result<(), DirectoryError>,
    ) -> Result<(), DirectoryError> {
        self.search_each_with(operation, (base, scope, filter), attrs, None, each)
            .await
    }

    /// [`Self::search_paged`] with AD's show-deleted control (non-critical: a server without
    /// it returns no tombstone, as one that hides them from the bind account does).
    pub async fn search_deleted(
        &mut self,
        operation: &str,
        base: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<RawEntry>, DirectoryError> {
        let show_deleted = RawControl {
            ctype: SHOW_DELETED_OID.to_string(),
            crit: false,
            val: None,
        };
        self.collect_with(
            operation,
            (base, LdapScope::OneLevel, filter),
            attrs,
            Some(show_deleted),
        )
        .await
    }

    /// Every entry of a search with `extra` beside the paging control, collected.
    async fn collect_with(
        &mut self,
        operation: &str,
        search: (&str, LdapScope, &str),
        attrs: &[&str],
        extra: Option<RawControl>,
    ) -> Result<Vec<RawEntry>, DirectoryError> {
        let mut out = Vec::new();
        self.search_each_with(operation, search, attrs, extra, |e| {
            out.push(e);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// [`Self::search_each`], with one more control on every page.
    async fn search_each_with(
        &mut self,
        operation: &str,
        (base, scope, filter): (&str, LdapScope, &str),
        attrs: &[&str],
        extra: Option<RawControl>,
        mut each: impl FnMut(RawEntry) -> Result<(), DirectoryError>,
    ) -> Result<(), DirectoryError> {
        let size = i32::try_from(self.page_size.max(1)).unwrap_or(i32::MAX);
        let mut cookie: Vec<u8> = Vec::new();
        let mut pages = 0u32;
        loop {
            let paged: RawControl = PagedResults {
                size,
                cookie: std::mem::take(&mut cookie),
            }
            .into();
            let controls: Vec<RawControl> = std::iter::once(paged).chain(extra.clone()).collect();
            let result = self
                .ldap
                .with_controls(controls)
                .with_timeout(self.timeout)
                .search(base, scope, filter, attrs.to_vec())
                .await
                .map_err(|e| with_base(op_error(&self.url, operation, self.timeout, e), base))?;
            let (entries, res) = (result.0, result.1);
            check_result(operation, base, &res)?;
            pages += 1;
            for re in entries {
                // `search()` already set references aside (into res.refs); ignore them.
                if re.is_ref() || re.is_intermediate() {
                    continue;
                }
                each(decode_entry(re.0).ok_or_else(|| DirectoryError::Protocol {
                    operation: operation.to_string(),
                    detail: format!("an entry on page {pages} could not be decoded"),
                })?)?;
            }
            let control = res.ctrls.iter().find(|c| c.1.ctype == PAGED_RESULTS_OID);
            match control {
                // No paging control back: the server did not page and sent everything.
                None => return Ok(()),
                Some(c) => {
                    let next =
                        c.1.val
                            .as_deref()
                            .and_then(parse_paged_cookie)
                            .ok_or_else(|| DirectoryError::Protocol {
                                operation: operation.to_string(),
                                detail: format!(
                                    "the paged-results control of page {pages} is malformed"
                                ),
                            })?;
                    if next.is_empty() {
                        return Ok(());
                    }
                    cookie = next;
                }
            }
        }
    }

    /// The one entry at `dn` matching `filter`, `None` if it does not exist or does not match.
    pub async fn read_entry(
        &mut self,
        operation: &str,
        dn: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Option<RawEntry>, DirectoryError> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .search(dn, LdapScope::Base, filter, attrs.to_vec())
            .await
            .map_err(|e| with_base(op_error(&self.url, operation, self.timeout, e), dn))?;
        let (entries, res) = (result.0, result.1);
        if res.rc == 32 {
            return Ok(None);
        }
        check_result(operation, dn, &res)?;
        for re in entries {
            if re.is_ref() || re.is_intermediate() {
                continue;
            }
            return decode_entry(re.0)
                .map(Some)
                .ok_or_else(|| DirectoryError::Protocol {
                    operation: operation.to_string(),
                    detail: format!("the entry {dn} could not be decoded"),
                });
        }
        Ok(None)
    }

    /// As [`Self::read_entry`], for a DN the directory itself handed out (a `memberOf`
    /// value, a domain head) that may belong to another naming context, another domain of
    /// the forest: a referral (10), no such object (32) or a DN this server cannot place (34)
    /// means "not here", `None`.
    pub async fn read_entry_here(
        &mut self,
        operation: &str,
        dn: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Option<RawEntry>, DirectoryError> {
        match self.read_entry(operation, dn, filter, attrs).await {
            Err(DirectoryError::Search {
                code: 10 | 32 | 34, ..
            }) => Ok(None),
            other => other,
        }
    }
}

impl Reader {
    /// The entries under `base` matching `object_filter` whose `attr` holds one of `values`
    /// (binary anchors), [`VALUES_PER_SEARCH`] to a search as one OR filter: a round trip
    /// per hundred entries, not per entry (an on-premises DC is often tens of milliseconds
    /// away from the Lambda). Counts each search in `searches`.
    pub async fn find_each_by_value(
        &mut self,
        (operation, base): (&str, &str),
        object_filter: &str,
        (attr, values): (&str, &[Vec<u8>]),
        attrs: &[&str],
        searches: &mut u64,
    ) -> Result<Vec<RawEntry>, DirectoryError> {
        let mut found = Vec::new();
        for chunk in values.chunks(VALUES_PER_SEARCH) {
            let any_of: String = chunk
                .iter()
                .map(|v| format!("({attr}={})", filter_bytes(v)))
                .collect();
            let filter = format!("(&{object_filter}(|{any_of}))");
            *searches += 1;
            found.extend(
                self.search_paged(operation, base, LdapScope::Subtree, &filter, attrs)
                    .await?,
            );
        }
        Ok(found)
    }
}

/// How many anchors one [`Reader::find_each_by_value`] search asks for (a filter of about
/// 7 kB for objectSids, far below any server's request limit).
const VALUES_PER_SEARCH: usize = 100;

fn with_base(e: DirectoryError, base: &str) -> DirectoryError {
    match e {
        DirectoryError::Search {
            operation,
            code,
            message,
            ..
        } => DirectoryError::Search {
            operation,
            base: base.to_string(),
            code,
            message,
        },
        other => other,
    }
}

/// Turns a non-success search result into an error that says what to do.
fn check_result(operation: &str, base: &str, res: &LdapResult) -> Result<(), DirectoryError> {
    let message = match res.rc {
        0 => return Ok(()),
        4 => "the server's size limit was reached although the search is paged; the read stops \
            rather than return part of the directory"
            .to_string(),
        3 => "the server's time limit was reached; the read stops rather than return part of the \
            directory"
            .to_string(),
        10 => format!(
            "this server does not hold {base} (referral to {}); point the URL at a domain \
                controller of that domain",
            res.refs.join(", ")
        ),
        32 => format!("{base} does not exist; check the base DN / group search base setting"),
        50 => "the bind account may not read this part of the directory; grant it read access"
            .to_string(),
        _ => res.text.trim().to_string(),
    };
    Err(DirectoryError::Search {
        operation: operation.to_string(),
        base: base.to_string(),
        code: res.rc,
        message,
    })
}

/// Decodes a SearchResultEntry (RFC 4511 §4.5.2) without panicking on malformed input.
fn decode_entry(tag: StructureTag) -> Option<RawEntry> {
    let mut parts = tag.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let mut entry = RawEntry { dn, attrs: vec![] };
    for partial in parts.next()?.expect_constructed()? {
        let mut p = partial.expect_constructed()?.into_iter();
        let name = String::from_utf8(p.next()?.expect_primitive()?).ok()?;
        let values = p
            .next()?
            .expect_constructed()?
            .into_iter()
            .map(|v| v.expect_primitive())
            .collect::<Option<Vec<Vec<u8>>>>()?;
        entry.attrs.push((name, values));
    }
    Some(entry)
}

/// The cookie from a paged-results response value: `SEQUENCE { INTEGER, OCTET STRING }`.
/// (ldap3's own parser panics on malformed input; a broken page must be an error instead.)
fn parse_paged_cookie(val: &[u8]) -> Option<Vec<u8>> {
    let (tag, body, _) = ber_tlv(val)?;
    if tag != 0x30 {
        return None;
    }
    let (int_tag, _, rest) = ber_tlv(body)?;
    if int_tag != 0x02 {
        return None;
    }
    let (str_tag, cookie, _) = ber_tlv(rest)?;
    (str_tag == 0x04).then(|| cookie.to_vec())
}

/// One BER tag-length-value: (tag, value, rest). Definite lengths only, as LDAP requires.
fn ber_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_parsed_and_garbage_is_refused() {
        assert_eq!(
            parse_paged_cookie(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x04, 0x02, 0xab, 0xcd]),
            Some(vec![0xab, 0xcd])
        );
        assert_eq!(
            parse_paged_cookie(&[0x30, 0x05, 0x02, 0x01, 0x05, 0x04, 0x00]),
            Some(vec![])
        );
        let mut long = vec![0x30, 0x81, 0x86, 0x02, 0x01, 0x00, 0x04, 0x81, 0x80];
        long.extend([7u8; 128]);
        assert_eq!(parse_paged_cookie(&long).map(|c| c.len()), Some(128));
        assert_eq!(parse_paged_cookie(&[0x30, 0x05, 0x02, 0x01]), None);
        assert_eq!(parse_paged_cookie(&[0x04, 0x00]), None);
        assert_eq!(parse_paged_cookie(&[]), None);
    }
}
