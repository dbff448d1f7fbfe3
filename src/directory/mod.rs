//! The directory side of a pass: reads Active Directory (over LDAP, or from an LDIF export)
//! into one [`DirectorySnapshot`](crate::model::DirectorySnapshot).
//!
//! Scope follows the PowerShell original: the users are the direct and nested members of the
//! sync group (enabled and disabled), the groups are those under the group search base whose
//! name starts with the prefix, each with its members flattened to users in scope (Identity
//! Center has no nested groups). A read either returns the whole snapshot or a
//! [`DirectoryError`]; single malformed entries are left out and listed in
//! `snapshot.skipped`. Both sources share decoding (`entry.rs`) and flattening (`scope.rs`),
//! so they agree on the same directory.
//!
//! Layout: `ldap/` (connect, paged search, ranged `member`), `ldif.rs` (parser + source),
//! `scope.rs` (nesting), `entry.rs` (model conversion), `sid.rs` (SID/GUID), `dn.rs`,
//! `filter_escape.rs` (RFC 4515/4514), `mapping.rs` (attribute names), `error.rs`, and
//! `openldap/` (the `openldap` profile: RFC 4519 directories, entryUUID anchors, nesting
//! expanded by the reader).

pub mod chain;
mod dn;
mod entry;
mod error;
pub mod filter_escape;
mod filter_match;
mod ldap;
mod ldif;
pub mod mapping;
mod openldap;
mod scope;
pub mod sid;

pub use crate::model::settings::{LdapSettings, Scope};
pub use chain::{chain_text, Ancestry};
pub use error::{DirectoryError, CREDENTIALS_SECRET_HINT};
pub use ldap::{
    open_change_reader, read_ldap, read_ldap_ancestry, read_ldap_with, ChangeReader, Expiries,
};
pub use ldif::{
    read_ldif, read_ldif_ancestry, read_ldif_file, read_ldif_file_with, read_ldif_with,
};
pub use mapping::AttributeMap;
pub use openldap::{
    read_openldap, read_openldap_ancestry, read_openldap_ldif, read_openldap_ldif_ancestry,
    OpenLdapReading,
};
