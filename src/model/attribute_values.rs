//! The optional attributes a user carries (the `attributes` setting), in the one compact
//! form the directory side, the Identity Center side and the planner share.
//!
//! Why not a `BTreeMap`: its first insert allocates a node with room for eleven entries, and
//! a user carries a handful (three with the default mapping). At 100k users that node cost
//! about 60 MB across the directory snapshot, the Identity Center snapshot and the plan
//! (heaptrack, `BENCH_CHILD_PREFIX` in `benches/pass.rs`; docs/performance.md). A map kept
//! as a sorted vector holds just the entries, with the same ordered iteration and lookups.
//!
//! Why `Arc<str>`: names and values repeat. Every user carries the same attribute names and
//! one of a few dozen titles or departments; the readers share them through
//! [`SharedStrings`](super::SharedStrings), so 100k users hold one copy of "Engineering"
//! instead of a string each (about 40 MB at 100k users with three attributes), and the plan
//! copies a value into an operation by taking another reference to it.

use std::sync::Arc;

use litemap::LiteMap;

use super::settings::UserAttribute;

/// Identity Center attribute → value, sorted by attribute.
pub type AttributeValues = LiteMap<UserAttribute, Arc<str>>;

/// Directory attribute name (lowercase) → its first value, `None` when it is not UTF-8.
pub type DirectoryAttributes = LiteMap<Arc<str>, Option<Arc<str>>>;
