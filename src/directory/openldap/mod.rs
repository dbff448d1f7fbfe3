//! The `openldap` profile: RFC 4519 directories (OpenLDAP, 389-DS, FreeIPA) read into the same
//! [`DirectorySnapshot`](crate::model::DirectorySnapshot) as Active Directory.
//!
//! What differs from the Active Directory profile, and why it lives apart from it:
//! - **Anchors.** Users and groups are anchored by `entryUUID` (RFC 4530) or, chosen by a
//!   setting, 389-DS's `nsUniqueId`, written as `ldap:<directory id>:<value>`. The directory
//!   id is the same attribute of the naming context entry, read every pass (as Active
//!   Directory's domain SID is), so an externalId of this profile can be mistaken neither for
//!   a SID or GUID nor for another directory's anchor: ownership stays exact.
//! - **Nesting.** There is no in-chain matching rule, and `memberOf` (an overlay) may be
//!   missing, so the reader reads every group's `member` and `uniqueMember` and expands
//!   nesting itself: cycle-safe, at most `maxNestingDepth` levels, a group whose members it
//!   cannot read making every group above it a partial read (`flatten.rs`).
//! - **Disabled.** `pwdAccountLockedTime` present (ppolicy, the permanent lock
//!   `000001010000Z` included), `nsAccountLock: true` (389-DS/FreeIPA), and `shadowExpire` in
//!   the past (days since 1970, judged against the time of the pass).
//!
//! Layout: `mapping.rs` (attribute names, the anchor form), `decode.rs` (entries into the
//! model), `flatten.rs` (the group graph and the snapshot), `live.rs` (LDAP), `export.rs`
//! (LDIF exports: `slapcat`, `ldapsearch '*' '+'`).

mod decode;
mod export;
mod flatten;
mod live;
mod mapping;

pub use export::{read_openldap_ldif, read_openldap_ldif_ancestry};
pub use live::{read_openldap, read_openldap_ancestry};
pub use mapping::OpenLdapReading;
