//! Per-client request counters, so a pass can report how many SCIM reads and writes it made.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a request was for; each HTTP attempt is counted under one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestKind {
    ListUsers,
    ListGroups,
    /// `groups.value eq` pages: a group's members.
    ListMembers,
    /// `userName eq` / `externalId eq` lookups of one user.
    FindUser,
    /// `displayName eq` / `externalId eq` lookups of one group.
    FindGroup,
    CreateUser,
    UpdateUser,
    DeleteUser,
    CreateGroup,
    /// Rename or externalId change.
    UpdateGroup,
    /// Member add/remove PATCH.
    PatchMembers,
    DeleteGroup,
    /// `GET /ServiceProviderConfig`, the connectivity and credentials check.
    Discovery,
}

impl RequestKind {
    const ALL: [RequestKind; 13] = [
        RequestKind::ListUsers,
        RequestKind::ListGroups,
        RequestKind::ListMembers,
        RequestKind::FindUser,
        RequestKind::FindGroup,
        RequestKind::CreateUser,
        RequestKind::UpdateUser,
        RequestKind::DeleteUser,
        RequestKind::CreateGroup,
        RequestKind::UpdateGroup,
        RequestKind::PatchMembers,
        RequestKind::DeleteGroup,
        RequestKind::Discovery,
    ];

    /// Stable name used as the key of [`ScimRequestCounts::by_kind`].
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::ListUsers => "list_users",
            RequestKind::ListGroups => "list_groups",
            RequestKind::ListMembers => "list_members",
            RequestKind::FindUser => "find_user",
            RequestKind::FindGroup => "find_group",
            RequestKind::CreateUser => "create_user",
            RequestKind::UpdateUser => "update_user",
            RequestKind::DeleteUser => "delete_user",
            RequestKind::CreateGroup => "create_group",
            RequestKind::UpdateGroup => "update_group",
            RequestKind::PatchMembers => "patch_members",
            RequestKind::DeleteGroup => "delete_group",
            RequestKind::Discovery => "discovery",
        }
    }

    /// Reads are GETs; everything else may change state.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            RequestKind::ListUsers
                | RequestKind::ListGroups
                | RequestKind::ListMembers
                | RequestKind::FindUser
                | RequestKind::FindGroup
                | RequestKind::Discovery
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A snapshot of a client's counters. Every HTTP attempt counts, retries included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimRequestCounts {
    /// GET requests sent.
    pub reads: u64,
    /// POST, PATCH and DELETE requests sent.
    pub writes: u64,
    /// Attempts that were retries of an earlier attempt.
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// Requests per [`RequestKind::as_str`]; kinds never used are absent.
    pub by_kind: BTreeMap<&'static str, u64>,
}

/// The live counters behind a client (shared by its clones).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    by_kind: [AtomicU64; 13],
    retries: AtomicU64,
    throttled: AtomicU64,
}

impl Counters {
    pub(crate) fn sent(&self, kind: RequestKind, is_retry: bool) {
        self.by_kind[kind.index()].fetch_add(1, Ordering::Relaxed);
        if is_retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ScimRequestCounts {
        let mut out = ScimRequestCounts {
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            ..ScimRequestCounts::default()
        };
        for kind in RequestKind::ALL {
            let n = self.by_kind[kind.index()].load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            out.by_kind.insert(kind.as_str(), n);
            if kind.is_read() {
                out.reads += n;
            } else {
                out.writes += n;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_split_by_kind() {
        let c = Counters::default();
        c.sent(RequestKind::ListUsers, false);
        c.sent(RequestKind::ListUsers, true);
        c.sent(RequestKind::CreateGroup, false);
        c.throttled();
        let s = c.snapshot();
        assert_eq!(s.reads, 2);
        assert_eq!(s.writes, 1);
        assert_eq!(s.retries, 1);
        assert_eq!(s.throttled, 1);
        assert_eq!(s.by_kind.get("list_users"), Some(&2));
        assert_eq!(s.by_kind.get("delete_user"), None);
        for (i, k) in RequestKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
