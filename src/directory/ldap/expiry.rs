//! Accounts that expire: the one kind of offboarding that changes nothing in the directory
//! when it takes effect.
//!
//! `accountExpires` is set in advance (an HR leaving date); the day it passes, no attribute
//! changes and `uSNChanged` does not move, so the change detector cannot see it. A full read
//! judges every user's expiry against the time of the pass, and the watermark keeps the
//! earliest expiry still to come among the users in scope; an incremental pass that finds
//! that moment passed asks for the users whose `accountExpires` is at or after it (one
//! search, made only then) and syncs those that have expired as changed users.

use ldap3::Scope as LdapScope;

use crate::model::settings::LdapSettings;
use crate::model::ChangedUser;

use super::super::entry::{filetime_expiry, FILETIME_UNIX_OFFSET_SECONDS};
use super::super::error::DirectoryError;
use super::super::mapping::AttributeMap;
use super::search::Reader;
use super::search_base;

/// The users whose account expires at or after `from` (Unix seconds), split at `now`.
#[derive(Debug, Default)]
pub struct Expiries {
    /// Users whose account has expired by `now` (objectSid uppercase).
    pub expired: Vec<ChangedUser>,
    /// Each user whose account expires after `now`, with when (Unix seconds).
    pub to_come: Vec<(String, i64)>,
}

/// One search: `accountExpires` at or after `from` (never-expiring accounts left out).
pub(super) async fn read_expiries(
    reader: &mut Reader,
    settings: &LdapSettings,
    map: &AttributeMap,
    from: i64,
    now: i64,
    searches: &mut u64,
) -> Result<Expiries, DirectoryError> {
    let base = search_base(reader, settings, map, searches).await?;
    let ticks = from
        .saturating_add(FILETIME_UNIX_OFFSET_SECONDS)
        .max(0)
        .saturating_mul(10_000_000);
    let filter = format!(
        "(&{}({attr}>={ticks})(!({attr}={never})))",
        map.user_filter,
        attr = map.account_expires,
        never = i64::MAX
    );
    *searches += 1;
    let entries = reader
        .search_paged(
            "users whose account expires",
            &base,
            LdapScope::Subtree,
            &filter,
            &[map.object_sid, map.account_expires],
        )
        .await?;
    let mut out = Expiries::default();
    for e in entries {
        let sid = e.sid(map.object_sid);
        let at = e
            .text(map.account_expires)
            .ok()
            .flatten()
            .and_then(|raw| filetime_expiry(&raw))
            .flatten();
        let (Some(sid), Some(at)) = (sid, at) else {
            continue; // unreadable here: the full read reports it
        };
        let sid = sid.to_ascii_uppercase();
        if at <= now {
            out.expired.push(ChangedUser {
                dn: e.dn,
                object_sid: sid,
            });
        } else {
            out.to_come.push((sid, at));
        }
    }
    Ok(out)
}
