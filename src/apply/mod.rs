//! The executor: applies a [`Plan`](crate::plan::Plan) to Identity Center.
//!
//! It knows the order writes must happen in (creates before the memberships that need their
//! ids, destructive changes last), runs independent writes concurrently within a bound, keeps
//! going when one write fails, and stops starting writes before a deadline. How a write is sent
//! is the [`Writer`]'s business, so the executor is the same for the SCIM client and for tests.

mod executor;
mod writer;

pub use executor::{count_planned, execute, execute_audited, ExecuteOptions, MEMBERS_PER_RECORD};
pub use writer::{WriteError, Writer};

#[cfg(test)]
mod executor_tests;
