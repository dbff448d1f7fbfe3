//! One reconciliation pass, shared by the Lambda and the CLI: read the directory, read
//! Identity Center live, plan, guard, apply, summarise.
//!
//! [`Session`] holds one pass's settings and the SCIM client (with its rate limiter), and
//! handles the one retry after a rotated SCIM token. The Lambda reads its settings on every
//! invocation and keeps only the client warm between them.

mod error;
mod incremental;
mod runner;
pub mod select;
mod session;
mod sources;
mod writer;

/// The warm SCIM client a front end keeps between passes (the Lambda, across invocations).
pub use crate::identity_center::ScimClient;
pub use error::PassError;
pub use session::{Inspection, PassOptions, PassReport, Session};
pub use sources::{read_ancestry, read_directory};
