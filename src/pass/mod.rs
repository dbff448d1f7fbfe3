//! One reconciliation pass, shared by the Lambda and the CLI: read the directory, read
//! Identity Center live, plan, guard, apply, summarise.
//!
//! [`Session`] holds what survives between passes in one process (settings, the SCIM client
//! with its rate limiter), so a warm Lambda does not reload configuration, and handles the
//! one retry after a rotated SCIM token.

mod error;
mod session;
mod sources;

pub use error::PassError;
pub use session::{PassOptions, PassReport, Session};
pub use sources::read_directory;
