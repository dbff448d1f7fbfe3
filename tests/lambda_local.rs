//! The Lambda binary under cargo-lambda's local runtime (`cargo lambda watch`), invoked with the
//! files in `events/`, against the Samba AD DC, moto and the Identity Center emulator.
//!
//! Needs `cargo lambda` on PATH or in the cached virtual environment `scripts/setup.sh`
//! creates. DC address 127.0.0.26 (see tests/support/samba.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/moto.rs"]
mod moto;
#[path = "support/samba.rs"]
mod samba;

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use idc_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};

const TOKEN: &str = "lambda-local-token-4d2e8b";
const FUNCTION: &str = "scim-sync-lambda";

/// `cargo lambda watch` in its own process group, stopped with everything it started.
struct Watch {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watch {
    fn start(env: &[(&str, String)]) -> Watch {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("scim-sync-lambda-watch-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("cargo");
        cmd.args([
            "lambda",
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .arg("--ignore-changes")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PATH", path_with_cargo_lambda())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0);
        for (name, value) in env {
            cmd.arg("--env-var").arg(format!("{name}={value}"));
        }
        let child = cmd
            .spawn()
            .expect("start cargo lambda watch (is cargo-lambda installed? run scripts/setup.sh)");
        let watch = Watch { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen:\n{}",
                watch.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        watch
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `cargo lambda invoke --data-file events/<file>`: true and the response when the
    /// function returned one, false and whatever was printed when it returned an error.
    async fn invoke(&self, event_file: &str) -> (bool, Value) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(event_file);
        self.invoke_path(&path).await
    }

    /// The example event `events/<file>` with its names replaced by `names` (the examples
    /// name a placeholder user; the fixture's users are p001…).
    async fn invoke_example(&self, event_file: &str, edit: impl Fn(&mut Value)) -> (bool, Value) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(event_file);
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut event);
        let dir = tempfile::tempdir().unwrap();
        let edited = dir.path().join(event_file);
        std::fs::write(&edited, event.to_string()).unwrap();
        self.invoke_path(&edited).await
    }

    async fn invoke_path(&self, path: &Path) -> (bool, Value) {
        let out = tokio::process::Command::new("cargo")
            .args([
                "lambda",
                "invoke",
                FUNCTION,
                "--invoke-address",
                "127.0.0.1",
            ])
            .arg("--invoke-port")
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(path)
            .args(["--output-format", "json"])
            .env("PATH", path_with_cargo_lambda())
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("cargo lambda invoke did not run: {e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() && serde_json::from_str::<Value>(&text).is_err() {
            // The function returned an error: cargo lambda prints it, not a JSON document.
            let printed = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
            return (false, Value::String(printed));
        }
        let value = serde_json::from_str(&text).unwrap_or_else(|_| {
            panic!(
                "not JSON: {text}\n{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.log()
            )
        });
        (out.status.success(), value)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PATH with the cached cargo-lambda environment in front, as scripts/setup.sh installs it.
fn path_with_cargo_lambda() -> String {
    let cache = std::env::var("SCIM_SYNC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let base = std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|_| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
                });
            base.join("scim-sync")
        });
    let venv = cache.join("venv-lambda/bin");
    format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_runs_dry_runs_and_scheduled_passes_locally() {
    let dc = samba::SambaDc::start("127.0.0.26");
    let moto = moto::Moto::start().await;
    let emulator = Emulator::start(EmulatorConfig::new(TOKEN)).await.unwrap();
    moto.put_parameter("/IAM-IDC/AD-Group-Name", samba::SYNC_GROUP)
        .await;
    moto.put_parameter("/IAM-IDC/AD-Group-Prefix", samba::GROUP_PREFIX)
        .await;
    moto.put_parameter("/IAM-IDC/AD-Search-Base", samba::GROUP_BASE)
        .await;
    moto.put_parameter("/IAM-IDC/SCIM-URI", &emulator.base_url())
        .await;
    moto.put_parameter("/IAM-IDC/Domain-Controller", &dc.ldaps_url())
        .await;
    moto.put_secure_parameter("/IAM-IDC/AD-CA-Bundle", &dc.ca_pem())
        .await;
    moto.create_secret(
        "IAM-IDC/SCIM-API-Token",
        &json!({"SCIM-API-Token": TOKEN}).to_string(),
    )
    .await;
    let creds = json!({"userName": samba::BIND_DN, "userPassword": samba::BIND_PASSWORD});
    moto.create_secret("IAM-IDC/AD-RO-UserCreds", &creds.to_string())
        .await;

    moto.create_table("lease-lambda-local", scim_sync::lease::KEY_ATTRIBUTE)
        .await;
    let mut env = moto.standard_env();
    env.push(("RUST_LOG", "info".to_string()));
    env.push(("SCIM_SYNC_LEASE_TABLE", "lease-lambda-local".to_string()));
    let watch = Watch::start(&env);

    // A dry run returns the plan and writes nothing.
    let (ok, dry) = watch.invoke("dry-run.json").await;
    assert!(ok, "{dry}\n{}", watch.log());
    assert_eq!(dry["summary"]["dryRun"], json!(true));
    let planned = dry["plan"]["operations"].as_array().unwrap().len();
    assert!(planned > 40, "{dry}");
    assert_eq!(emulator.counters().writes, 0);

    // The scheduled event runs a full pass.
    let (ok, first) = watch.invoke("scheduled.json").await;
    assert!(ok, "{first}\n{}", watch.log());
    let summary = &first["summary"];
    assert_eq!(summary["failures"], json!([]), "{first}");
    assert!(
        summary["usersCreated"].as_u64().unwrap() > 30,
        "{first}\n{}",
        watch.log()
    );
    assert_eq!(summary["groupsCreated"], json!(12), "{first}");
    assert_eq!(emulator.dump().groups.len(), 12);

    // A second scheduled pass over the unchanged directory writes nothing.
    let (ok, second) = watch.invoke("scheduled.json").await;
    assert!(ok, "{second}");
    assert_eq!(second["summary"]["scimWrites"], json!(0), "{second}");

    // The full passes left a watermark in the lease table: an incremental pass over the
    // unchanged directory makes no SCIM request at all.
    let items = moto.table_items("lease-lambda-local").await;
    assert!(
        items
            .iter()
            .any(|i| i.get("lease").is_some_and(|k| k.starts_with("watermark|"))),
        "{items:?}"
    );
    let requests_before = emulator.counters().total;
    let (ok, idle) = watch.invoke("incremental.json").await;
    assert!(ok, "{idle}\n{}", watch.log());
    assert_eq!(
        idle["summary"]["incremental"]["mode"],
        json!("idle"),
        "{idle}"
    );
    assert_eq!(emulator.counters().total, requests_before, "{idle}");

    // A user disabled in AD is inactive after one incremental pass.
    dc.ldapmodify_as_admin(&format!(
        "dn: CN=p013,OU=People,{}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 546\n",
        samba::BASE_DN
    ));
    let (ok, disabled) = watch.invoke("incremental.json").await;
    assert!(ok, "{disabled}\n{}", watch.log());
    assert_eq!(
        disabled["summary"]["incremental"]["mode"],
        json!("incremental"),
        "{disabled}"
    );
    assert_eq!(disabled["summary"]["usersDisabled"], json!(1), "{disabled}");
    assert_eq!(disabled["summary"]["scimWrites"], json!(1), "{disabled}");
    assert!(!emulator.dump().user("p013@example.test").unwrap().active);

    // explain: one user, its chain of groups; nothing written.
    let writes_before = emulator.counters().writes;
    let (ok, explained) = watch
        .invoke_example("explain.json", |e| e["explain"] = json!("p040"))
        .await;
    assert!(ok, "{explained}\n{}", watch.log());
    assert_eq!(
        explained["scope"]["chain"]["text"],
        "aws-sync-users → sync-nested-1 → sync-nested-2 → sync-nested-3 → p040"
    );
    assert_eq!(emulator.counters().writes, writes_before);

    // only: of two pending changes, the named user's is written.
    for (sam, display) in [("p040", "Forty On Demand"), ("p044", "Forty-Four Waits")] {
        dc.ldapmodify_as_admin(&format!(
            "dn: CN={sam},OU=People,{}\nchangetype: modify\nreplace: displayName\ndisplayName: {display}\n",
            samba::BASE_DN
        ));
    }
    let (ok, only) = watch
        .invoke_example("only.json", |e| e["only"] = json!(["p040"]))
        .await;
    assert!(ok, "{only}\n{}", watch.log());
    assert_eq!(only["summary"]["usersUpdated"], json!(1), "{only}");
    let dump = emulator.dump();
    let display = |upn: &str| dump.user(upn).and_then(|u| u.display_name.clone());
    assert_eq!(
        display("p040@example.test").as_deref(),
        Some("Forty On Demand")
    );
    assert_ne!(
        display("p044@example.test").as_deref(),
        Some("Forty-Four Waits")
    );
    let pass_id = only["summary"]["passId"].as_str().unwrap().to_string();

    // Conflicting fields are refused with a reason.
    let (ok, refused) = watch
        .invoke_example("explain.json", |e| e["only"] = json!(["p040"]))
        .await;
    assert!(!ok, "{refused}");
    assert!(
        refused.to_string().contains("cannot be combined"),
        "{refused}"
    );

    // The function logged JSON lines and EMF metrics, and never the token or the password.
    let log = watch.log();
    let events: Vec<Value> = log
        .lines()
        .filter_map(|l| l.find("{\"event\"").map(|i| &l[i..]))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "change" && e["passId"] == json!(pass_id))
        .collect();
    assert_eq!(
        changes.len(),
        1,
        "one record for the on-demand write:\n{log}"
    );
    assert_eq!(changes[0]["action"], "updateUser");
    assert_eq!(changes[0]["object"]["userName"], "p040@example.test");
    assert_eq!(changes[0]["reason"]["code"], "attributeChanged");
    assert_eq!(
        changes[0]["changes"]["attributes"]["displayName"]["to"],
        "Forty On Demand"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "summary" && e["summary"]["passId"] == json!(pass_id)),
        "one JSON summary line per pass:\n{log}"
    );
    assert!(
        !log.contains("Summary {"),
        "the summary is JSON, not a Rust Debug string"
    );
    assert!(log.contains("\"_aws\""), "no EMF record in the log:\n{log}");
    assert!(
        !log.contains(TOKEN) && !log.contains(samba::BIND_PASSWORD),
        "a secret reached the log"
    );
}
