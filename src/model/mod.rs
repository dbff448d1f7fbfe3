//! The vocabulary shared by every layer of a pass.
//!
//! The directory side produces a [`DirectorySnapshot`], the Identity Center side an
//! [`IdcSnapshot`]; the planner turns both into a plan and the executor into a [`Summary`].
//! Keeping these types free of LDAP and HTTP details is what lets the planner stay a pure,
//! exhaustively testable function. [`Reason`] and [`Finding`] say why, for every layer.

pub mod anchor;
mod attribute_values;
mod directory;
mod identity_center;
mod reason;
pub mod settings;
mod shared_strings;
mod summary;
mod watermark;

pub use attribute_values::{AttributeValues, DirectoryAttributes};
pub use directory::{
    DirectoryGroup, DirectorySnapshot, DirectoryUser, EntryKind, ExcludedUser, SkippedEntry,
};
pub use identity_center::{IdcGroup, IdcSnapshot, IdcUser, UserAttributes, UserField};
pub use reason::{Finding, Reason, ReasonCode};
pub use shared_strings::SharedStrings;
pub use summary::{Failure, Summary};
pub use watermark::{
    ChangedGroup, ChangedUser, DcState, DirectoryChanges, DirectoryCounts, IncrementalSummary,
    ScopeSet, Watermark,
};
