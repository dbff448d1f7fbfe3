//! The `idc-emulator` binary starts, prints its base URL and answers SCIM requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_scim_with_flags() {
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_idc-emulator"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--token",
                "bin-token",
                "--retry-after",
                "--throttle-rps",
                "0.01",
                "--throttle-burst",
                "3",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary spawns"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_string()
    })
    .await
    .unwrap();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/scim/v2/"),
        "{base}"
    );
    let http = reqwest::Client::new();
    let spc = http
        .get(format!("{base}ServiceProviderConfig"))
        .bearer_auth("bin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(spc.status().as_u16(), 200);
    let unauth = http
        .get(format!("{base}Users"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status().as_u16(), 401);
    let _ = http
        .get(format!("{base}Users"))
        .bearer_auth("bin-token")
        .send()
        .await
        .unwrap();
    let throttled = http
        .get(format!("{base}Users"))
        .bearer_auth("bin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status().as_u16(), 429);
    assert!(throttled.headers().get("retry-after").is_some());
}

#[test]
fn binary_refuses_non_loopback_addresses() {
    let out = Command::new(env!("CARGO_BIN_EXE_idc-emulator"))
        .args(["--listen", "0.0.0.0:0", "--token", "t"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}
