//! The pure planner: from what the directory says and what Identity Center holds, the list of
//! writes that makes the second look like the first.
//!
//! It knows nothing of LDAP or HTTP, performs no I/O and is deterministic, so it can be tested
//! exhaustively (property tests in `tests/`), run against an LDIF export with `scim-sync plan`,
//! and benchmarked on a million memberships.

mod policy;
mod types;

pub use policy::{OutOfScopeAction, Policy, UserNameSource};
pub use types::{GroupRef, Operation, Plan, UserAttributes, UserField, UserRef};
