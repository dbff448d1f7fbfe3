use crate::config::{DirectorySource, ScimConfig, Settings};
use crate::directory::{read_ldap, read_ldif_file, DirectoryError};
use crate::identity_center::ScimClientConfig;
use crate::model::DirectorySnapshot;

/// Reads the configured directory source in full, or fails: never a partial snapshot.
pub async fn read_directory(settings: &Settings) -> Result<DirectorySnapshot, DirectoryError> {
    let mut snapshot = read_source(settings).await?;
    if settings.policy.exclude_sync_group {
        let sync = settings.scope.sync_group.as_str();
        snapshot
            .groups
            .retain(|g| !g.name.eq_ignore_ascii_case(sync) && !g.dn.eq_ignore_ascii_case(sync));
    }
    Ok(snapshot)
}

async fn read_source(settings: &Settings) -> Result<DirectorySnapshot, DirectoryError> {
    let scope = settings.scope.clone();
    match &settings.directory {
        DirectorySource::Ldap(ldap) => read_ldap(ldap, &scope).await,
        DirectorySource::Ldif { path } => {
            let path = path.clone();
            // File reading and parsing are blocking; keep them off the async workers.
            tokio::task::spawn_blocking(move || read_ldif_file(&path, &scope))
                .await
                .map_err(|e| DirectoryError::Protocol {
                    operation: "reading the LDIF export".to_string(),
                    detail: e.to_string(),
                })?
        }
    }
}

/// The SCIM client's configuration for these settings.
pub fn scim_client_config(scim: &ScimConfig) -> ScimClientConfig {
    ScimClientConfig::from_settings(scim)
}
