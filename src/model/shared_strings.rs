//! One shared copy of each string a read sees many times.
//!
//! A user in ten groups appears in ten member listings; at 100k users and a million
//! memberships, a `String` per listing entry costs ~90 MB where a shared `Arc<str>` costs
//! ~16 MB. The optional attributes repeat too: a directory has a few dozen titles and
//! departments and one or two companies for 100k users, and every user carries the same
//! attribute names. Each read (the directory's, Identity Center's user listing, its member
//! listings) shares through one pool, dropped with the read; what it handed out stays
//! shared. Member listings are read concurrently, so the table is behind a lock (held only
//! for a lookup, never across an await).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Hands out one `Arc<str>` per distinct string.
#[derive(Debug, Default)]
pub struct SharedStrings {
    strings: Mutex<HashSet<Arc<str>>>,
}

impl SharedStrings {
    /// The shared copy of `s`, made on first sight.
    pub fn share(&self, s: &str) -> Arc<str> {
        // A panic elsewhere cannot leave the set half-updated: insert is the only write.
        let mut strings = self.strings.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = strings.get(s) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(s);
        strings.insert(Arc::clone(&shared));
        shared
    }

    /// The shared copy of `s` in ASCII lowercase (a directory attribute name as a key),
    /// without a temporary copy when `s` is lowercase already.
    pub fn share_lowercase(&self, s: &str) -> Arc<str> {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            self.share(&s.to_ascii_lowercase())
        } else {
            self.share(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation() {
        let pool = SharedStrings::default();
        let a = pool.share("user-1");
        let b = pool.share(&String::from("user-1"));
        let c = pool.share("user-2");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "user-2");
    }

    #[test]
    fn lowercase_keys_share_with_their_lowercase_spelling() {
        let pool = SharedStrings::default();
        let a = pool.share_lowercase("employeeNumber");
        let b = pool.share_lowercase("employeenumber");
        assert_eq!(&*a, "employeenumber");
        assert!(Arc::ptr_eq(&a, &b));
    }
}
