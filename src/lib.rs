//! scim-sync: keeps AWS IAM Identity Center in step with Active Directory (or any LDAP
//! directory) through Identity Center's SCIM 2.0 endpoint.
//!
//! One pass reads the directory ([`directory`]), reads Identity Center ([`identity_center`]),
//! computes a plan with a pure function ([`plan`]) and applies it ([`apply`]). The Lambda and
//! the CLI (`src/bin/`) are thin front ends over the same pass.

/// This release of scim-sync (`Cargo.toml`), reported by `--version` and in every pass summary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod apply;
pub mod audit;
pub mod cli;
pub mod config;
pub mod directory;
pub mod explain;
pub mod identity_center;
pub mod lambda;
pub mod lease;
pub mod metrics;
pub mod model;
pub mod pass;
pub mod plan;
pub mod secret;
pub mod state;
