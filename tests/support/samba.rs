//! A real Samba Active Directory DC (domain EXAMPLE.TEST) for integration tests.
//!
//! `SambaDc::start(addr)` restores the prepared fixture (`scripts/samba-dc.sh`, which
//! provisions and seeds it once and caches a snapshot) into a directory of its own and serves
//! it on one loopback address; dropping the handle stops it (process group) and removes the
//! address. Starting takes about a second once the fixture is prepared (the first start on a
//! fresh machine prepares it: ~20-60 s). Needs root.
//!
//! Samba's ports are fixed, so every DC needs its own address. Convention (one address per
//! test binary, so test binaries can run concurrently):
//!
//! | address     | user                                        |
//! |-------------|---------------------------------------------|
//! | 127.0.0.10  | `samba-dc.sh prepare` (seeding)             |
//! | 127.0.0.11  | tests/directory_ldap.rs                     |
//! | 127.0.0.12  | tests/directory_ldif.rs                     |
//! | 127.0.0.13  | tests/directory_changes.rs                  |
//! | 127.0.0.20-29 | end-to-end tests (one per test binary; 28: tests/e2e_operations.rs) |
//! | 127.0.0.29  | tests/e2e_attributes.rs (changes its DC)     |
//! | 127.0.0.44  | tests/safety_ad_accounts.rs (changes its DC) |
//! | 127.0.0.50  | tests/e2e_scope.rs (changes its DC)          |
//! | 127.0.0.60  | tests/e2e_incremental.rs (changes its DC)   |
//! | 127.0.0.61-64 | reserved for incremental-pass tests (61: benches via scripts/bench.sh incremental) |
//! | 127.0.0.80  | tests/e2e_incremental_managers.rs (changes its DC) |
//! | 127.0.0.81-84 | reserved for attribute and scope tests (issue 14) |
//! | 127.0.0.90  | tests/e2e_incremental_faults.rs (changes its DC) |
//! | 127.0.0.91-99 | reserved for incremental-pass work (issue 19) |
//! | 127.0.0.30+ | free                                        |
//!
//! Tests within one binary share a DC through [`SambaDc::shared`]; a test that changes the
//! directory should use a binary (and address) of its own, or restore with a fresh start.
//!
//! Fixture contents: tests/fixtures/ldap/README.md. Include with
//! `#[path = "support/samba.rs"] mod samba;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Weak};

/// Base DN of the fixture domain.
pub const BASE_DN: &str = "DC=example,DC=test";
/// The read-only bind account (as a UPN; [`BIND_DN_FULL`] is its DN).
pub const BIND_DN: &str = "svc-scim-ro@example.test";
pub const BIND_DN_FULL: &str = "CN=svc-scim-ro,OU=Service,DC=example,DC=test";
pub const BIND_PASSWORD: &str = "R3ad-Only.Pass!";
/// A disabled account that has a password (bind fails with AD's `data 533`).
pub const DISABLED_BIND_DN: &str = "svc-disabled@example.test";
pub const DISABLED_BIND_PASSWORD: &str = "Disabled-Acc0unt!";
pub const ADMIN_DN: &str = "Administrator@EXAMPLE.TEST";
pub const ADMIN_PASSWORD: &str = "Passw0rd!Admin";
/// The group search base of the fixture's scope (groups `aws-…` live here).
pub const GROUP_BASE: &str = "OU=AWS,DC=example,DC=test";
/// The small sync group (45 users through three levels of nesting).
pub const SYNC_GROUP: &str = "aws-sync-users";
/// The large sync group (aws-sync-users + aws-big: 3045 users).
pub const SYNC_GROUP_ALL: &str = "aws-sync-all";
pub const GROUP_PREFIX: &str = "aws-";

/// A running DC; stopped on drop.
pub struct SambaDc {
    addr: String,
    dir: PathBuf,
    pid: u32,
}

static START_STOP: Mutex<()> = Mutex::new(());
static SHARED: Mutex<Option<Weak<SambaDc>>> = Mutex::new(None);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_dir() -> PathBuf {
    if let Ok(d) = std::env::var("SAMBA_FIXTURE_DIR") {
        if !d.trim().is_empty() {
            return PathBuf::from(d);
        }
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    target.join("samba-fixture")
}

fn script(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(repo().join("scripts/samba-dc.sh"))
        .args(args)
        .env("SAMBA_FIXTURE_DIR", fixture_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/samba-dc.sh")
}

impl SambaDc {
    /// Restores the fixture and serves it on `addr` (a 127.x.y.z address of this test
    /// binary's own; see the table above). Panics with the script's output on failure.
    pub fn start(addr: &str) -> SambaDc {
        let _guard = START_STOP.lock().unwrap_or_else(|p| p.into_inner());
        let dir = fixture_dir().join(format!("dc-{addr}"));
        let out = script(&["start", addr, dir.to_str().expect("UTF-8 path")]);
        assert!(
            out.status.success(),
            "samba-dc.sh start {addr} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .expect("samba-dc.sh start prints the pid last");
        SambaDc {
            addr: addr.to_string(),
            dir,
            pid,
        }
    }

    /// One DC for all tests of this binary that only read: started by the first caller,
    /// stopped when the last holder drops it (a later caller starts a fresh one).
    pub fn shared(addr: &str) -> Arc<SambaDc> {
        let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dc) = slot.as_ref().and_then(Weak::upgrade) {
            assert_eq!(dc.addr, addr, "one shared DC per test binary");
            return dc;
        }
        let dc = Arc::new(SambaDc::start(addr));
        *slot = Some(Arc::downgrade(&dc));
        dc
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `ldaps://ADDR:636`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://{}:636", self.addr)
    }

    /// `ldap://ADDR:389` (for StartTLS, or plain LDAP: strong auth is off in the fixture).
    pub fn ldap_url(&self) -> String {
        format!("ldap://{}:389", self.addr)
    }

    /// The CA that signed the DC's certificate (its SAN lists ADDR and 127.0.0.1).
    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_pem_path()).expect("read ca.pem")
    }

    /// The fixture CA as the settings hold it.
    pub fn ca_bundle(&self) -> scim_sync::model::settings::CaBundle {
        scim_sync::model::settings::CaBundle::from_pem(&self.ca_pem()).expect("fixture CA")
    }

    /// The DC's LDAPS URL as the settings hold it.
    pub fn ldaps_setting(&self) -> scim_sync::model::settings::LdapUrl {
        scim_sync::model::settings::LdapUrl::parse(&self.ldaps_url(), false, false)
            .expect("fixture URL")
    }

    /// [`SambaDc::other_ca_pem`] as the settings hold it.
    pub fn other_ca_bundle(&self) -> scim_sync::model::settings::CaBundle {
        scim_sync::model::settings::CaBundle::from_pem(&self.other_ca_pem()).expect("other CA")
    }

    /// A CA that signed nothing: trusting only it must make certificate checks fail.
    pub fn other_ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("tls/other-ca.pem")).expect("read other-ca.pem")
    }

    pub fn bind_dn(&self) -> &'static str {
        BIND_DN
    }

    pub fn bind_password(&self) -> &'static str {
        BIND_PASSWORD
    }

    pub fn admin_dn(&self) -> &'static str {
        ADMIN_DN
    }

    pub fn admin_password(&self) -> &'static str {
        ADMIN_PASSWORD
    }

    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Grants the read-only bind account List Contents and Read Property on the domain's
    /// Deleted Objects container (AD's default lets only SYSTEM and administrators list it),
    /// so it sees tombstones, as docs/deployment.md tells operators to do. Samba's LDAP
    /// server does not take a descriptor as SDDL text, so the DC's database is written
    /// directly (Samba sees the change at once).
    pub fn grant_deleted_objects_listing(&self) {
        let script = format!(
            r#"set -euo pipefail
db='{db}'
sid=$(ldbsearch -H "$db" -b '{bind}' -s base objectSid | sed -n 's/^objectSid: //p')
sd=$(ldbsearch -H "$db" --show-deleted --controls=sd_flags:1:4 -b 'CN=Deleted Objects,{base}' \
  -s base nTSecurityDescriptor | sed -n 's/^nTSecurityDescriptor: //p')
printf 'dn: CN=Deleted Objects,{base}\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: %s(A;;RPLC;;;%s)\n' "$sd" "$sid" |
  ldbmodify -H "$db" --controls=show_deleted:1 --controls=sd_flags:1:4 >/dev/null"#,
            db = self.dir.join("private/sam.ldb").display(),
            bind = BIND_DN_FULL,
            base = BASE_DN,
        );
        let out = Command::new("bash")
            .args(["-c", &script])
            .output()
            .expect("run ldbmodify");
        assert!(
            out.status.success(),
            "granting the listing of Deleted Objects failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Applies an LDIF change (`changetype: modify/add/delete/modrdn`) as Administrator,
    /// e.g. to disable a user, rename a group or remove a member. Panics on failure.
    pub fn ldapmodify_as_admin(&self, ldif: &str) {
        use std::io::Write;
        let mut child = Command::new("ldapmodify")
            .args([
                "-x",
                "-H",
                &self.ldap_url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ldapmodify");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("write LDIF");
        let out = child.wait_with_output().expect("ldapmodify output");
        assert!(
            out.status.success(),
            "ldapmodify failed:\n{}\n{}\nLDIF:\n{ldif}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `ldapsearch -LLL` (paged) as Administrator and returns its LDIF output, as an
    /// operator's export would look. `extra` adds options such as `-o ldif-wrap=no`.
    pub fn ldapsearch_as_admin(
        &self,
        base: &str,
        filter: &str,
        attrs: &[&str],
        extra: &[&str],
    ) -> String {
        let out = Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-H",
                &self.ldap_url(),
                "-D",
                ADMIN_DN,
                "-w",
                ADMIN_PASSWORD,
            ])
            .args(["-E", "pr=1000/noprompt", "-b", base])
            .args(extra)
            .arg(filter)
            .args(attrs)
            .stdin(Stdio::null())
            .output()
            .expect("run ldapsearch");
        assert!(
            out.status.success(),
            "ldapsearch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("ldapsearch output is UTF-8")
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        let _guard = START_STOP.lock().unwrap_or_else(|p| p.into_inner());
        let out = script(&["stop", self.dir.to_str().unwrap_or_default()]);
        if !out.status.success() {
            eprintln!(
                "samba-dc.sh stop {} failed: {}",
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
