//! One shared copy of each member id read in a pass.
//!
//! A user in ten groups appears in ten member listings; at 100k users and a million
//! memberships, a `String` per listing entry costs ~90 MB where a shared `Arc<str>` costs
//! ~16 MB. Member listings are read concurrently, so the table is behind a lock (held only
//! for a lookup, never across an await).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Hands out one `Arc<str>` per distinct id.
#[derive(Debug, Default)]
pub struct IdInterner {
    ids: Mutex<HashSet<Arc<str>>>,
}

impl IdInterner {
    /// The shared copy of `id`, made on first sight.
    pub fn intern(&self, id: &str) -> Arc<str> {
        // A panic elsewhere cannot leave the set half-updated: insert is the only write.
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = ids.get(id) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(id);
        ids.insert(Arc::clone(&shared));
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_ids_share_one_allocation() {
        let interner = IdInterner::default();
        let a = interner.intern("user-1");
        let b = interner.intern(&String::from("user-1"));
        let c = interner.intern("user-2");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "user-2");
    }
}
