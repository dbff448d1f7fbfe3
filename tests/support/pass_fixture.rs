//! Everything a safety test needs to run a whole pass in-process: `Settings` for an LDIF or
//! LDAP source against an emulator URL, a generated LDIF directory that tests can change
//! between passes, a convergence check of the emulator's state against the directory, a
//! normalised dump (ids left out) to compare two runs, and a recording HTTP proxy that shows
//! exactly which request lines (filters included) reached Identity Center.
//!
//! Include with `#[path = "support/pass_fixture.rs"] mod pass_fixture;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use idc_emulator::{Counters, StateDump};
use scim_sync::config::{DirectorySource, RunConfig, Settings};
use scim_sync::model::settings::{
    CaBundle, GuardSettings, LdapSettings, LdapUrl, ScimClientConfig, Scope,
};
use scim_sync::model::DirectorySnapshot;
use scim_sync::plan::Policy;
use scim_sync::secret::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The SCIM token of every safety emulator: long and distinctive, so a leak is easy to find.
pub const TOKEN: &str = "scimtok-SAFETY-5e0c9a7b3d1f42e8a6c4b2d0f8e6a4c2-LEAKCANARY";

/// The sync group, group OU and prefix of the generated directory.
pub const SYNC_GROUP: &str = "aws-sync-users";
pub const GROUP_BASE: &str = "OU=AWS,DC=example,DC=test";
pub const PREFIX: &str = "aws-";

/// The domain part of every generated SID.
const DOMAIN_SID: &str = "S-1-5-21-1111111111-2222222222-333333333";

/// SCIM settings fast enough for tests, still going through the real client and limiter.
pub fn scim_config(scim_url: &str, token: &str) -> ScimClientConfig {
    ScimClientConfig {
        concurrency: 8,
        rate_limit_per_sec: 1000,
        max_attempts: 6,
        request_timeout: Duration::from_secs(5),
        ..ScimClientConfig::new(scim_url, Secret::new(token)).expect("a loopback SCIM URL")
    }
}

/// The generated directory's scope.
pub fn scope() -> Scope {
    Scope {
        sync_group: SYNC_GROUP.to_string(),
        group_prefix: PREFIX.to_string(),
        group_search_base: GROUP_BASE.to_string(),
        extra_domain_sids: Vec::new(),
        rules: Default::default(),
    }
}

/// Settings for a pass that reads `ldif` and writes to the emulator at `scim_url`.
pub fn ldif_settings(ldif: &Path, scim_url: &str, token: &str) -> Settings {
    Settings {
        directory: DirectorySource::Ldif {
            path: ldif.to_path_buf(),
        },
        profile: Default::default(),
        scope: scope(),
        scim: scim_config(scim_url, token),
        policy: Policy::default(),
        guard: GuardSettings::default(),
        run: RunConfig::default(),
    }
}

/// Settings for a pass that reads a live directory (`url` is `ldaps://…` or `ldap://…`; plain
/// LDAP is allowed only when `ca_pem` is `None` and the URL says `ldap://`).
pub fn ldap_settings(
    url: &str,
    ca_pem: Option<String>,
    bind_dn: &str,
    password: &str,
    scope: Scope,
    scim_url: &str,
    token: &str,
) -> Settings {
    Settings {
        directory: DirectorySource::Ldap(LdapSettings {
            url: LdapUrl::parse(url, false, url.starts_with("ldap://")).unwrap(),
            bind_dn: bind_dn.to_string(),
            bind_password: Secret::new(password),
            ca_bundle: ca_pem.map(|pem| CaBundle::from_pem(&pem).unwrap()),
            start_tls: false,
            allow_plain_ldap: url.starts_with("ldap://"),
            base_dn: Some("DC=example,DC=test".to_string()),
            page_size: 500,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(20),
            range_window: Some(1500),
        }),
        profile: Default::default(),
        scope,
        scim: scim_config(scim_url, token),
        policy: Policy::default(),
        guard: GuardSettings::default(),
        run: RunConfig::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// A generated directory
// ---------------------------------------------------------------------------------------------

/// One user of the generated directory. `n` makes the SID, GUID, DN and default names.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub n: u32,
    pub sam: String,
    pub cn: String,
    pub upn: Option<String>,
    pub mail: Option<String>,
    pub given: Option<String>,
    pub sn: Option<String>,
    pub display: Option<String>,
    pub enabled: bool,
    pub in_sync: bool,
    /// Leave objectSid out (a malformed entry).
    pub no_sid: bool,
    /// Leave objectGUID out (a malformed entry whose SID is still known).
    pub no_guid: bool,
}

impl UserSpec {
    pub fn new(n: u32) -> Self {
        let sam = format!("u{n:04}");
        Self {
            n,
            cn: sam.clone(),
            upn: Some(format!("{sam}@example.test")),
            mail: Some(format!("{sam}@example.test")),
            given: Some("User".to_string()),
            sn: Some(format!("Number{n}")),
            display: Some(format!("User {n}")),
            sam,
            enabled: true,
            in_sync: true,
            no_sid: false,
            no_guid: false,
        }
    }

    pub fn dn(&self) -> String {
        format!("CN={},OU=People,DC=example,DC=test", dn_escape(&self.cn))
    }

    /// The externalId scim-sync gives this user.
    pub fn sid(&self) -> String {
        sid_string(self.n)
    }
}

/// One group under [`GROUP_BASE`]; members are user numbers.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub n: u32,
    pub cn: String,
    pub members: BTreeSet<u32>,
}

impl GroupSpec {
    pub fn new(n: u32, cn: &str, members: impl IntoIterator<Item = u32>) -> Self {
        Self {
            n,
            cn: cn.to_string(),
            members: members.into_iter().collect(),
        }
    }

    pub fn dn(&self) -> String {
        format!("CN={},{GROUP_BASE}", dn_escape(&self.cn))
    }
}

/// A directory that tests change between passes and write out as an LDIF export.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub users: BTreeMap<u32, UserSpec>,
    pub groups: Vec<GroupSpec>,
    /// Leave the domain entry (`DC=example,DC=test` with the domain's objectSid) out of the
    /// export, as a partial export would.
    pub no_domain_entry: bool,
}

impl Directory {
    /// `users` numbered users (1..=users), all in the sync group, and `groups` groups
    /// `aws-gK` whose members are the users with `n % groups == K - 1` plus user K.
    pub fn generated(users: u32, groups: u32) -> Self {
        let mut d = Directory::default();
        for n in 1..=users {
            d.users.insert(n, UserSpec::new(n));
        }
        for k in 1..=groups {
            let members = (1..=users).filter(|n| n % groups == k - 1 || *n == k);
            d.groups
                .push(GroupSpec::new(k, &format!("aws-g{k}"), members));
        }
        d
    }

    pub fn user_mut(&mut self, n: u32) -> &mut UserSpec {
        self.users.get_mut(&n).expect("user exists")
    }

    pub fn group_mut(&mut self, cn: &str) -> &mut GroupSpec {
        self.groups
            .iter_mut()
            .find(|g| g.cn == cn)
            .expect("group exists")
    }

    /// The LDIF export, as `ldapsearch -LLL` would write it (binary values base64).
    pub fn to_ldif(&self) -> String {
        let mut out = String::new();
        if !self.no_domain_entry {
            // The domain head, whose objectSid says which users are this directory's.
            let _ = writeln!(out, "dn: DC=example,DC=test");
            line(&mut out, "objectClass", b"top");
            line(&mut out, "objectClass", b"domain");
            line(&mut out, "objectClass", b"domainDNS");
            line(&mut out, "objectSid", &domain_sid_bytes());
            out.push('\n');
        }
        // The sync group.
        let _ = writeln!(out, "dn: CN={SYNC_GROUP},{GROUP_BASE}");
        line(&mut out, "objectClass", b"top");
        line(&mut out, "objectClass", b"group");
        line(&mut out, "cn", SYNC_GROUP.as_bytes());
        line(&mut out, "sAMAccountName", SYNC_GROUP.as_bytes());
        line(&mut out, "objectGUID", &guid_bytes(0xff, 0));
        for u in self.users.values().filter(|u| u.in_sync) {
            line(&mut out, "member", u.dn().as_bytes());
        }
        out.push('\n');
        for u in self.users.values() {
            let _ = writeln!(out, "dn: {}", u.dn());
            for c in ["top", "person", "organizationalPerson", "user"] {
                line(&mut out, "objectClass", c.as_bytes());
            }
            line(&mut out, "cn", u.cn.as_bytes());
            let opt = |out: &mut String, name: &str, v: &Option<String>| {
                if let Some(v) = v {
                    line(out, name, v.as_bytes());
                }
            };
            opt(&mut out, "sn", &u.sn);
            opt(&mut out, "givenName", &u.given);
            opt(&mut out, "displayName", &u.display);
            line(
                &mut out,
                "userAccountControl",
                if u.enabled { b"512" } else { b"514" },
            );
            if !u.no_guid {
                line(&mut out, "objectGUID", &guid_bytes(1, u.n));
            }
            if !u.no_sid {
                line(&mut out, "objectSid", &sid_bytes(u.n));
            }
            line(&mut out, "sAMAccountName", u.sam.as_bytes());
            opt(&mut out, "userPrincipalName", &u.upn);
            opt(&mut out, "mail", &u.mail);
            out.push('\n');
        }
        for g in &self.groups {
            let _ = writeln!(out, "dn: {}", g.dn());
            line(&mut out, "objectClass", b"top");
            line(&mut out, "objectClass", b"group");
            line(&mut out, "cn", g.cn.as_bytes());
            line(&mut out, "objectGUID", &guid_bytes(2, g.n));
            for m in &g.members {
                if let Some(u) = self.users.get(m) {
                    line(&mut out, "member", u.dn().as_bytes());
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes the export to `path` (replacing it).
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.to_ldif()).expect("write LDIF");
    }
}

/// The SID string of generated user `n`.
pub fn sid_string(n: u32) -> String {
    format!("{DOMAIN_SID}-{}", 1000 + n)
}

/// The domain this fixture's users belong to.
pub fn domain_sid() -> &'static str {
    DOMAIN_SID
}

fn domain_sid_bytes() -> Vec<u8> {
    let mut b = vec![1u8, 4, 0, 0, 0, 0, 0, 5];
    for sub in [21u32, 1_111_111_111, 2_222_222_222, 333_333_333] {
        b.extend_from_slice(&sub.to_le_bytes());
    }
    b
}

fn sid_bytes(n: u32) -> Vec<u8> {
    let mut b = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
    for sub in [21u32, 1_111_111_111, 2_222_222_222, 333_333_333, 1000 + n] {
        b.extend_from_slice(&sub.to_le_bytes());
    }
    b
}

fn guid_bytes(kind: u8, n: u32) -> Vec<u8> {
    let mut b = vec![kind, 0x5a, 0xfe, 0x17, 0x42, 0x00, 0x4e, 0x11];
    b.extend_from_slice(&n.to_be_bytes());
    b.extend_from_slice(&[0xa1, 0xb2, 0xc3, kind]);
    b
}

/// RFC 4514 escaping for the generated DNs.
fn dn_escape(v: &str) -> String {
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// One LDIF attribute line: plain when RFC 2849 allows it, base64 otherwise.
fn line(out: &mut String, name: &str, value: &[u8]) {
    let safe = !value.is_empty()
        && value
            .iter()
            .all(|b| (0x20..0x7f).contains(b) && *b != b'\n' && *b != b'\r')
        && !matches!(value[0], b' ' | b':' | b'<')
        && value.last() != Some(&b' ');
    if safe {
        let _ = writeln!(out, "{name}: {}", String::from_utf8_lossy(value));
    } else {
        let _ = writeln!(
            out,
            "{name}:: {}",
            base64::engine::general_purpose::STANDARD.encode(value)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Checking the result
// ---------------------------------------------------------------------------------------------

/// How far Identity Center is from the directory.
#[derive(Debug, Default)]
pub struct Convergence {
    /// Users or groups that exist more than once (same externalId or userName).
    pub duplicates: usize,
    /// Enabled directory users, groups or memberships missing from Identity Center.
    pub lost: usize,
    /// Every difference, spelled out.
    pub problems: Vec<String>,
}

impl Convergence {
    pub fn assert_ok(&self, context: &str) {
        assert!(
            self.problems.is_empty(),
            "{context}: Identity Center does not match the directory ({} duplicates, {} lost):\n  {}",
            self.duplicates,
            self.lost,
            self.problems.join("\n  ")
        );
    }
}

/// Compares the emulator's state with what a converged pass leaves for `dir`: one user per
/// sendable directory user (disabled ones inactive or absent), one group per directory group, the same
/// memberships, nothing twice.
pub fn convergence(dump: &StateDump, dir: &DirectorySnapshot) -> Convergence {
    let mut c = Convergence::default();
    let mut by_ext: BTreeMap<&str, Vec<&idc_emulator::DumpUser>> = BTreeMap::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for u in &dump.user_records {
        if let Some(x) = &u.external_id {
            by_ext.entry(x.as_str()).or_default().push(u);
        }
        *by_name.entry(u.user_name.to_lowercase()).or_default() += 1;
    }
    for (x, users) in &by_ext {
        if users.len() > 1 {
            c.duplicates += users.len() - 1;
            c.problems
                .push(format!("externalId {x} is held by {} users", users.len()));
        }
    }
    for (name, n) in &by_name {
        if *n > 1 {
            c.duplicates += n - 1;
            c.problems.push(format!("userName {name} exists {n} times"));
        }
    }
    let mut id_to_ext: BTreeMap<&str, &str> = BTreeMap::new();
    for u in &dump.user_records {
        if let Some(x) = &u.external_id {
            id_to_ext.insert(u.id.as_str(), x.as_str());
        }
    }
    for du in &dir.users {
        // A user the planner cannot send (reported in the summary as skipped) is not expected.
        if scim_sync::plan::desired_user(du, &Policy::default()).is_err() {
            continue;
        }
        match by_ext.get(du.object_sid.as_ref()).and_then(|v| v.first()) {
            None if du.enabled => {
                c.lost += 1;
                c.problems
                    .push(format!("directory user {} is missing", du.sam_account_name));
            }
            None => {}
            Some(u) => {
                if u.active != du.enabled {
                    c.problems.push(format!(
                        "user {} is active={} but enabled={} in the directory",
                        u.user_name, u.active, du.enabled
                    ));
                }
                if let Some(upn) = &du.user_principal_name {
                    if &u.user_name != upn {
                        c.problems.push(format!(
                            "user {} has userName {} (directory: {upn})",
                            du.sam_account_name, u.user_name
                        ));
                    }
                }
            }
        }
    }
    for dg in &dir.groups {
        let matching: Vec<_> = dump
            .groups
            .iter()
            .filter(|g| g.external_id.as_deref() == Some(dg.object_guid.as_str()))
            .collect();
        match matching.as_slice() {
            [] => {
                c.lost += 1;
                c.problems.push(format!("group {} is missing", dg.name));
            }
            [g] => {
                let have: BTreeSet<&str> = g
                    .member_ids
                    .iter()
                    .filter_map(|id| id_to_ext.get(id.as_str()).copied())
                    .collect();
                let want: BTreeSet<&str> = dg
                    .member_sids
                    .iter()
                    .map(|s| &**s)
                    .filter(|s| by_ext.contains_key(s))
                    .collect();
                for missing in want.difference(&have) {
                    c.lost += 1;
                    c.problems
                        .push(format!("group {} lacks member {missing}", dg.name));
                }
                for extra in have.difference(&want) {
                    c.problems
                        .push(format!("group {} has extra member {extra}", dg.name));
                }
                if g.member_ids.len() != have.len() {
                    c.problems
                        .push(format!("group {} has members without externalId", dg.name));
                }
            }
            many => {
                c.duplicates += many.len() - 1;
                c.problems
                    .push(format!("group {} exists {} times", dg.name, many.len()));
            }
        }
    }
    c
}

/// The state with ids left out (memberships by externalId or userName), for comparing runs.
pub fn normalised(dump: &StateDump) -> String {
    let id_to_user: BTreeMap<&str, String> = dump
        .user_records
        .iter()
        .map(|u| {
            let key = u.external_id.clone().unwrap_or_else(|| u.user_name.clone());
            (u.id.as_str(), key)
        })
        .collect();
    let mut users: Vec<String> = dump
        .user_records
        .iter()
        .map(|u| {
            format!(
                "user ext={:?} userName={} active={} display={:?} given={:?} family={:?} email={:?}",
                u.external_id,
                u.user_name,
                u.active,
                u.display_name,
                u.given_name,
                u.family_name,
                u.email
            )
        })
        .collect();
    users.sort();
    let mut groups: Vec<String> = dump
        .groups
        .iter()
        .map(|g| {
            let members: BTreeSet<&str> = g
                .member_ids
                .iter()
                .map(|id| id_to_user.get(id.as_str()).map_or("?", String::as_str))
                .collect();
            format!(
                "group ext={:?} name={} members={:?}",
                g.external_id, g.display_name, members
            )
        })
        .collect();
    groups.sort();
    users.extend(groups);
    users.join("\n")
}

/// Faults the emulator injected, from its counters.
pub fn faults_injected(c: &Counters) -> u64 {
    c.throttled + c.injected_errors + c.dropped + c.lost_responses + c.malformed
}

// ---------------------------------------------------------------------------------------------
// A recording proxy
// ---------------------------------------------------------------------------------------------

/// A plain TCP proxy on loopback in front of the emulator that records every HTTP request
/// line it forwards (method, path and query, percent-encoded as sent), and can drop the
/// connection of chosen requests: a fault aimed at one kind of read, which the emulator's
/// random faults cannot aim.
pub struct RecordingProxy {
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    drop_matching: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    /// Listens on 127.0.0.1 and forwards each connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let drop_matching = Arc::new(Mutex::new(None));
        let rec = lines.clone();
        let dropper = drop_matching.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rec = rec.clone();
                let dropper = dropper.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        forward(client, server, rec, dropper).await;
                    }
                });
            }
        });
        Self {
            addr,
            lines,
            drop_matching,
            task,
        }
    }

    /// From now on, a request whose line contains `needle` is not forwarded: its connection
    /// is closed instead (`None` stops this).
    pub fn drop_requests_containing(&self, needle: Option<&str>) {
        *self.drop_matching.lock().unwrap() = needle.map(str::to_string);
    }

    /// The SCIM base URL through the proxy.
    pub fn base_url(&self) -> String {
        format!("http://{}/scim/v2/", self.addr)
    }

    /// Every request line seen so far, e.g. `GET /scim/v2/Users?filter=… HTTP/1.1`.
    pub fn request_lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The decoded `filter` query parameters of every request so far.
    pub fn filters(&self) -> Vec<String> {
        self.request_lines()
            .iter()
            .filter_map(|l| l.split(' ').nth(1))
            .filter_map(|target| url::Url::parse(&format!("http://x{target}")).ok())
            .flat_map(|u| {
                u.query_pairs()
                    .filter(|(k, _)| k == "filter")
                    .map(|(_, v)| v.into_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    client: TcpStream,
    server: TcpStream,
    rec: Arc<Mutex<Vec<String>>>,
    dropper: Arc<Mutex<Option<String>>>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        let _ = cw.shutdown().await;
    });
    // Request bodies carry no CRLF, so a request line may follow a body directly; each line
    // ending in " HTTP/1.1" is cut back to the method that starts it.
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut doomed = false;
    loop {
        let n = match cr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(pos) = pending.windows(2).position(|w| w == b"\r\n") {
            let l = String::from_utf8_lossy(&pending[..pos]).into_owned();
            pending.drain(..pos + 2);
            if !l.ends_with(" HTTP/1.1") {
                continue;
            }
            let start = ["GET /", "POST /", "PUT /", "PATCH /", "DELETE /"]
                .iter()
                .filter_map(|m| l.find(m))
                .min();
            if let Some(start) = start {
                rec.lock().unwrap().push(l[start..].to_string());
                let needle = dropper.lock().unwrap().clone();
                if needle.is_some_and(|needle| l.contains(&needle)) {
                    doomed = true;
                }
            }
        }
        if doomed {
            back.abort();
            return;
        }
        if sw.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = sw.shutdown().await;
    let _ = back.await;
}

/// A temporary directory holding the LDIF export, kept alive by the returned handle.
pub fn temp_ldif(dir: &Directory) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("directory.ldif");
    dir.write(&path);
    (tmp, path)
}
