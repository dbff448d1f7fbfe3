use crate::config::{DirectorySource, LdapConfig, ScimConfig, ScopeConfig, Settings};
use crate::directory::{read_ldap, read_ldif_file, DirectoryError, LdapSettings, Scope};
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
    let scope = scope(&settings.scope);
    match &settings.directory {
        DirectorySource::Ldap(ldap) => read_ldap(&ldap_settings(ldap), &scope).await,
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

fn scope(s: &ScopeConfig) -> Scope {
    Scope {
        sync_group: s.sync_group.clone(),
        group_prefix: s.group_prefix.clone(),
        group_search_base: s.group_search_base.clone(),
    }
}

fn ldap_settings(c: &LdapConfig) -> LdapSettings {
    LdapSettings {
        url: c.url.clone(),
        ca_bundle_pem: c.ca_bundle_pem.clone(),
        bind_dn: c.bind_dn.clone(),
        bind_password: c.bind_password.clone(),
        allow_plain_ldap: c.allow_plain_ldap,
        start_tls: c.start_tls,
        connect_timeout: c.connect_timeout,
        operation_timeout: c.operation_timeout,
        page_size: c.page_size,
        // AD's own window is 1500; asking for it explicitly behaves the same on Windows and
        // on servers that would otherwise return everything at once.
        range_window: Some(c.range_window),
        base_dn: c.base_dn.clone(),
    }
}

/// The SCIM client's configuration for these settings.
pub fn scim_client_config(scim: &ScimConfig) -> ScimClientConfig {
    ScimClientConfig::from_settings(scim)
}
