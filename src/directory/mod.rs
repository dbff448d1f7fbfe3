//! The directory side of a pass: reads Active Directory (over LDAP, or from an LDIF export)
//! into one [`DirectorySnapshot`](crate::model::DirectorySnapshot).
//!
//! Scope follows the PowerShell original: the users are the direct and nested members of the
//! sync group (enabled and disabled), the groups are those under the group search base whose
//! name starts with the prefix, each with its members flattened to users in scope. A read
//! either returns the whole snapshot or a [`DirectoryError`]; single malformed entries are
//! left out and listed in `snapshot.skipped`.

mod dn;
mod entry;
mod error;
pub mod filter_escape;
mod ldif;
pub mod mapping;
mod scope;
pub mod sid;

pub use error::{DirectoryError, CREDENTIALS_SECRET_HINT};
pub use ldif::{read_ldif, read_ldif_file, read_ldif_with};
pub use mapping::AttributeMap;
pub use scope::Scope;

mod ldap;
pub use ldap::{read_ldap, read_ldap_with, LdapSettings};
