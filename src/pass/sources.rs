use crate::config::{DirectorySource, Settings};
use crate::directory::{
    read_ldap_with, read_ldif_file_with, read_openldap, read_openldap_ancestry, read_openldap_ldif,
    read_openldap_ldif_ancestry, AttributeMap, DirectoryError, OpenLdapReading,
};
use crate::model::settings::DirectoryProfile;
use crate::model::DirectorySnapshot;

/// Reads the configured directory source in full, or fails: never a partial snapshot.
pub async fn read_directory(settings: &Settings) -> Result<DirectorySnapshot, DirectoryError> {
    finish_snapshot(settings, read_source(settings).await?)
}

/// What every directory read gets once read: the time account expiry is judged against,
/// the extra domain SIDs, the check that a domain is known, and `excludeSyncGroup`.
pub(super) fn finish_snapshot(
    settings: &Settings,
    mut snapshot: DirectorySnapshot,
) -> Result<DirectorySnapshot, DirectoryError> {
    // The time account expiry is judged against: this pass's, so an account that expired
    // since the last pass is disabled now, with no change in the directory.
    snapshot.read_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok());
    for extra in &settings.scope.extra_domain_sids {
        if !snapshot
            .domain_sids
            .iter()
            .any(|d| d.eq_ignore_ascii_case(extra))
        {
            snapshot.domain_sids.push(extra.clone());
        }
    }
    if snapshot.domain_sids.is_empty() {
        // Without a domain no user can be told apart from another forest's: refuse the pass
        // rather than treat every user as foreign (or, worse, every SID as ours).
        return Err(DirectoryError::Settings(format!(
            "the domain SID of {} could not be read (no objectSid on its domain head{}); set \
             scope.extraDomainSids to the domain's SID (S-1-5-21-…)",
            settings.scope.group_search_base,
            match settings.directory {
                DirectorySource::Ldif { .. } => ", or the export lacks the domain entry",
                DirectorySource::Ldap(_) => "",
            }
        )));
    }
    if settings.policy.exclude_sync_group {
        let is_sync = |g: &crate::model::DirectoryGroup| {
            settings
                .scope
                .sync_groups()
                .any(|s| g.name.eq_ignore_ascii_case(s) || g.dn.eq_ignore_ascii_case(s))
        };
        snapshot.groups.retain(|g| !is_sync(g));
    }
    Ok(snapshot)
}

/// The settings of the `openldap` profile's readers, when that is the profile.
fn openldap_reading(settings: &Settings) -> Option<OpenLdapReading> {
    match &settings.profile {
        DirectoryProfile::ActiveDirectory => None,
        DirectoryProfile::OpenLdap(p) => Some(OpenLdapReading::new(
            p.clone(),
            settings.policy.attributes.directory_attributes(),
        )),
    }
}

async fn read_source(settings: &Settings) -> Result<DirectorySnapshot, DirectoryError> {
    let scope = settings.scope.clone();
    if let Some(reading) = openldap_reading(settings) {
        return match &settings.directory {
            DirectorySource::Ldap(ldap) => read_openldap(ldap, &scope, &reading).await,
            DirectorySource::Ldif { path } => {
                let path = path.clone();
                blocking(move || read_openldap_ldif(&path, &scope, &reading)).await
            }
        };
    }
    // The mapped optional attributes are read with the rest of each user entry.
    let map = AttributeMap::active_directory()
        .with_user_attributes(settings.policy.attributes.directory_attributes());
    match &settings.directory {
        DirectorySource::Ldap(ldap) => read_ldap_with(ldap, &scope, &map).await,
        DirectorySource::Ldif { path } => {
            let path = path.clone();
            blocking(move || read_ldif_file_with(&path, &scope, &map)).await
        }
    }
}

/// File reading and parsing are blocking; keep them off the async workers.
async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, DirectoryError> + Send + 'static,
) -> Result<T, DirectoryError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| DirectoryError::Protocol {
            operation: "reading the LDIF export".to_string(),
            detail: e.to_string(),
        })?
}

/// The groups above one directory entry and the sync group's DN, from the configured source
/// (for `explain`).
pub async fn read_ancestry(
    settings: &Settings,
    target_dn: &str,
) -> Result<crate::directory::Ancestry, DirectoryError> {
    let scope = settings.scope.clone();
    if let Some(reading) = openldap_reading(settings) {
        return match &settings.directory {
            DirectorySource::Ldap(ldap) => {
                read_openldap_ancestry(ldap, &scope, &reading, target_dn).await
            }
            DirectorySource::Ldif { path } => {
                let (path, dn) = (path.clone(), target_dn.to_string());
                blocking(move || read_openldap_ldif_ancestry(&path, &scope, &reading, &dn)).await
            }
        };
    }
    match &settings.directory {
        DirectorySource::Ldap(ldap) => {
            crate::directory::read_ldap_ancestry(ldap, &scope, target_dn).await
        }
        DirectorySource::Ldif { path } => {
            let (path, dn) = (path.clone(), target_dn.to_string());
            tokio::task::spawn_blocking(move || {
                crate::directory::read_ldif_ancestry(&path, &scope, &dn)
            })
            .await
            .map_err(|e| DirectoryError::Protocol {
                operation: "reading the LDIF export".to_string(),
                detail: e.to_string(),
            })?
        }
    }
}
