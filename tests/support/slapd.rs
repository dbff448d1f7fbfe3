//! A real OpenLDAP `slapd` (Debian's package) for the `openldap` profile's tests.
//!
//! `Slapd::start(addr)` builds a server of its own from nothing in a directory of its own
//! (under the target dir): a CA and a server certificate made with `openssl` (SAN: the address
//! and 127.0.0.1), a `cn=config` written with `slapadd -n0` (mdb, the ppolicy overlay with a
//! default policy that locks after three failed binds, refint (a rename or delete updates
//! `member`/`uniqueMember`, as deployments run it), a tiny 389-DS schema with
//! `nsAccountLock` and `nsUniqueId` under their 389-DS OIDs, a size limit that only paged
//! searches get past, an ACL that hides one group's members from the bind account), the
//! fixture `tests/fixtures/openldap/fixture.ldif` loaded with `slapadd`, then `slapd` in the
//! foreground on `ldap://ADDR:389` and `ldaps://ADDR:636`. Dropping the handle stops it and
//! removes the directory. 0.8-0.9 s per start on 2 cores, most of it `openssl` making two
//! RSA keys (printed as `SLAPD-START`).
//!
//! Address table (one per test binary; slapd binds its ports on that address only, so
//! binaries run concurrently without a lock):
//!
//! | address     | user                          |
//! |-------------|-------------------------------|
//! | 127.0.0.70  | tests/directory_openldap.rs   |
//! | 127.0.0.71  | tests/e2e_openldap.rs (the walk through changes) |
//! | 127.0.0.72  | tests/e2e_openldap.rs (settings from SSM) |
//! | 127.0.0.73-74 | free                        |
//!
//! Include with `#[path = "support/slapd.rs"] mod slapd;`. Needs root (ports 389/636) and
//! `slapd` (scripts/setup.sh installs it).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

static SHARED: Mutex<Option<Weak<Slapd>>> = Mutex::new(None);

pub const SUFFIX: &str = "dc=example,dc=test";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
pub const ADMIN_PASSWORD: &str = "Adm1n-Pass.slapd";
/// The read-only bind account.
pub const BIND_DN: &str = "cn=svc-scim-ro,ou=Service,dc=example,dc=test";
pub const BIND_PASSWORD: &str = "R3ad-Only.Pass!";
pub const GROUP_BASE: &str = "ou=Groups,dc=example,dc=test";
pub const PEOPLE: &str = "ou=People,dc=example,dc=test";
pub const SYNC_GROUP: &str = "aws-sync-users";
pub const GROUP_PREFIX: &str = "aws-";
/// The group whose members the bind account may not read (nested in `aws-audit`).
pub const HIDDEN_GROUP: &str = "cn=hidden-auditors,ou=Groups,dc=example,dc=test";
/// Entries a search of the bind account returns at most, unless it is paged.
pub const SIZE_LIMIT: u32 = 10;

pub struct Slapd {
    addr: String,
    dir: PathBuf,
    child: Child,
    /// How long building and starting took.
    pub started_in: Duration,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn base_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_with_input(cmd: &mut Command, input: &str, what: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// A CA and a server certificate for `addr` (0.2 s), as `openssl` makes them.
fn make_tls(dir: &Path, addr: &str) {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let ossl = |args: &[&str]| {
        run(
            Command::new("openssl").args(args).current_dir(&tls),
            "openssl",
        )
    };
    for (name, cn) in [
        ("ca", "scim-sync slapd test CA"),
        ("other-ca", "unrelated CA"),
    ] {
        ossl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "30",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }
    ossl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
        "-subj",
        "/CN=ldap.example.test",
    ]);
    std::fs::write(
        tls.join("server.ext"),
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:ldap.example.test,DNS:localhost,IP:127.0.0.1,IP:{addr}\n"
        ),
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-sha256",
        "-days",
        "30",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "server.ext",
        "-out",
        "cert.pem",
    ]);
}

/// The `cn=config` of the test server.
fn config_ldif(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {d}/run/slapd.pid
olcTLSCACertificateFile: {d}/tls/ca.pem
olcTLSCertificateFile: {d}/tls/cert.pem
olcTLSCertificateKeyFile: {d}/tls/key.pem

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy
olcModuleLoad: refint

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: cn=ds389,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: ds389
olcAttributeTypes: ( 2.16.840.1.113730.3.1.610 NAME 'nsAccountLock' DESC 'Operational attribute for Account Inactivation' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE X-ORIGIN '389 Directory Server' )
olcAttributeTypes: ( 2.16.840.1.113730.3.1.542 NAME 'nsUniqueId' DESC 'the 389 Directory Server entry identity' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE X-ORIGIN '389 Directory Server' )
olcObjectClasses: ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'ds389Entry' DESC 'test only: lets an entry carry the two 389-DS attributes, which 389-DS has as operational ones' AUXILIARY MAY ( nsAccountLock $ nsUniqueId ) )

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {SUFFIX}
olcRootDN: {ADMIN_DN}
olcRootPW: {ADMIN_PASSWORD}
olcDbDirectory: {d}/db
olcDbIndex: objectClass eq
olcDbIndex: member,uniqueMember eq
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to dn.exact="{HIDDEN_GROUP}" attrs=member,uniqueMember by dn.exact="{BIND_DN}" none by * read
olcAccess: {{2}}to * by * read

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: cn=default,ou=Policies,{SUFFIX}

dn: olcOverlay={{1}}refint,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {{1}}refint
olcRefintAttribute: member uniqueMember
"#
    )
}

impl Slapd {
    /// Builds and starts a fresh server on `addr` (this test binary's own; see the table).
    pub fn start(addr: &str) -> Slapd {
        Self::start_with(addr, &std::fs::read_to_string(fixture_path()).unwrap())
    }

    /// One server for the tests of this binary that only read: started by the first caller,
    /// stopped when the last holder drops it.
    pub fn shared(addr: &str) -> Arc<Slapd> {
        let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slot.as_ref().and_then(Weak::upgrade) {
            assert_eq!(s.addr, addr, "one shared slapd per test binary");
            return s;
        }
        let s = Arc::new(Slapd::start(addr));
        *slot = Some(Arc::downgrade(&s));
        s
    }

    /// [`Slapd::start`] with another directory content (an LDIF of entries under SUFFIX).
    pub fn start_with(addr: &str, data: &str) -> Slapd {
        let begun = Instant::now();
        let dir = base_dir().join(format!("slapd-{addr}"));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["config", "db", "run"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        make_tls(&dir, addr);
        let config = dir.join("config.ldif");
        std::fs::write(&config, config_ldif(&dir)).unwrap();
        let cfg = dir.join("config");
        run(
            Command::new("slapadd")
                .args(["-n0", "-F"])
                .arg(&cfg)
                .arg("-l")
                .arg(&config),
            "slapadd -n0 (cn=config)",
        );
        let data_path = dir.join("data.ldif");
        std::fs::write(&data_path, data).unwrap();
        run(
            Command::new("slapadd")
                .args(["-q", "-b", SUFFIX, "-F"])
                .arg(&cfg)
                .arg("-l")
                .arg(&data_path),
            "slapadd (fixture)",
        );
        let mut slapd = Slapd {
            addr: addr.to_string(),
            child: spawn_slapd(&dir, addr),
            dir,
            started_in: Duration::ZERO,
        };
        // One retry: a port of the address a previous server just left can still be taken
        // for a moment (seen once in many runs).
        if !slapd.wait_ready() {
            std::thread::sleep(Duration::from_millis(500));
            slapd.child = spawn_slapd(&slapd.dir, addr);
            assert!(
                slapd.wait_ready(),
                "slapd exited twice:\n{}",
                std::fs::read_to_string(slapd.dir.join("slapd.log")).unwrap_or_default()
            );
        }
        slapd.started_in = begun.elapsed();
        eprintln!(
            "SLAPD-START addr={addr} ms={}",
            slapd.started_in.as_millis()
        );
        slapd
    }

    /// True once the server answers over LDAPS; false if it exited first.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                eprintln!(
                    "slapd exited ({status}):\n{}",
                    std::fs::read_to_string(self.dir.join("slapd.log")).unwrap_or_default()
                );
                return false;
            }
            let ok = Command::new("ldapsearch")
                .args(["-x", "-LLL", "-o", "nettimeout=1", "-H"])
                .arg(self.ldaps_url())
                .args(["-s", "base", "-b", "", "namingContexts"])
                .env("LDAPTLS_CACERT", self.ca_pem_path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return true;
            }
            assert!(Instant::now() < deadline, "slapd did not answer in 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ldap_url(&self) -> String {
        format!("ldap://{}:389", self.addr)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://{}:636", self.addr)
    }

    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_pem_path()).unwrap()
    }

    /// A CA that signed nothing of this server's.
    pub fn other_ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.join("tls/other-ca.pem")).unwrap()
    }

    pub fn ca_bundle(&self) -> scim_sync::model::settings::CaBundle {
        scim_sync::model::settings::CaBundle::from_pem(&self.ca_pem()).unwrap()
    }

    /// Applies an LDIF change as the root DN (ACLs do not apply to it). Panics on failure.
    pub fn modify(&self, ldif: &str) {
        let out = run_with_input(
            Command::new("ldapmodify")
                .args(["-x", "-H"])
                .arg(self.ldap_url())
                .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD]),
            ldif,
            "ldapmodify",
        );
        assert!(
            out.status.success(),
            "ldapmodify failed:\n{}\n{}\nLDIF:\n{ldif}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A simple bind as `dn` with `password`: true when it succeeds. Failed binds count
    /// towards the ppolicy lockout (three lock the account).
    pub fn try_bind(&self, dn: &str, password: &str) -> bool {
        Command::new("ldapwhoami")
            .args(["-x", "-H"])
            .arg(self.ldap_url())
            .args(["-D", dn, "-w", password])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `ldapsearch -LLL` of the whole suffix as the root DN, with the operational attributes
    /// (`+`, which holds entryUUID), paged: an operator's export.
    pub fn ldapsearch_export(&self) -> String {
        run(
            Command::new("ldapsearch")
                .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H"])
                .arg(self.ldap_url())
                .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
                .args([
                    "-E",
                    "pr=5/noprompt",
                    "-b",
                    SUFFIX,
                    "(objectClass=*)",
                    "*",
                    "+",
                ]),
            "ldapsearch export",
        )
    }

    /// `slapcat` of the database (read while slapd runs, as mdb allows): the other usual
    /// OpenLDAP export.
    pub fn slapcat_export(&self) -> String {
        run(
            Command::new("slapcat")
                .args(["-b", SUFFIX, "-F"])
                .arg(self.dir.join("config")),
            "slapcat",
        )
    }

    /// `ldapsearch -LLL '*' '+'` of the whole suffix as `dn` (paged): the export an operator
    /// makes with the read-only account, which sees what a live read sees.
    pub fn ldapsearch_export_as(&self, dn: &str, password: &str) -> String {
        run(
            Command::new("ldapsearch")
                .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H"])
                .arg(self.ldap_url())
                .args(["-D", dn, "-w", password])
                .args([
                    "-E",
                    "pr=5/noprompt",
                    "-b",
                    SUFFIX,
                    "(objectClass=*)",
                    "*",
                    "+",
                ]),
            "ldapsearch export",
        )
    }

    /// An attribute of one entry as the root DN reads it (first value), e.g. entryUUID.
    pub fn read_attr(&self, dn: &str, attr: &str) -> Option<String> {
        let out = run(
            Command::new("ldapsearch")
                .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H"])
                .arg(self.ldap_url())
                .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-s", "base", "-b", dn])
                .args(["(objectClass=*)", attr]),
            "ldapsearch",
        );
        let prefix = format!("{attr}: ");
        out.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `slapd` in the foreground on `addr`'s LDAP and LDAPS ports, logging to `dir/slapd.log`.
fn spawn_slapd(dir: &Path, addr: &str) -> Child {
    let urls = format!("ldap://{addr}:389/ ldaps://{addr}:636/");
    let log = std::fs::File::create(dir.join("slapd.log")).unwrap();
    Command::new("slapd")
        .args(["-d", "0", "-F"])
        .arg(dir.join("config"))
        .args(["-h", &urls])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("run slapd (apt-get install slapd; scripts/setup.sh does)")
}

pub fn fixture_path() -> PathBuf {
    repo().join("tests/fixtures/openldap/fixture.ldif")
}
