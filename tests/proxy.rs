//! The SCIM client honours the standard proxy variables (the template's `HttpsProxy` parameter
//! sets `HTTPS_PROXY`): the CLI, run with `HTTP_PROXY` against a plain-http loopback endpoint,
//! sends its SCIM requests to the proxy in absolute form. (`HTTPS_PROXY` is the same mechanism
//! for `https` endpoints, through CONNECT.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn scim_requests_go_through_the_proxy_from_the_environment() {
    // A "proxy" that records each request line and answers 502.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let (seen_tx, seen_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in proxy.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_ok() {
                let _ = seen_tx.send(line.trim_end().to_string());
            }
            let _ = stream.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    // Nothing listens on the endpoint's port: only the proxy can answer.
    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint_port = unused.local_addr().unwrap().port();
    drop(unused);

    let dir = tempfile::tempdir().unwrap();
    let ldif = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-directory.ldif");
    let config = dir.path().join("scim-sync.toml");
    std::fs::write(
        &config,
        format!(
            "[directory]\nsource = \"ldif\"\npath = \"{}\"\n\n[scope]\nsyncGroup = \"aws-sync-users\"\ngroupPrefix = \"aws-\"\ngroupSearchBase = \"OU=AWS,DC=example,DC=test\"\n\n[scim]\nurl = \"http://127.0.0.1:{endpoint_port}/scim/v2/\"\ntokenEnv = \"PROXY_TEST_TOKEN\"\nmaxAttempts = 1\n",
            ldif.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scim-sync"))
        .arg("--config")
        .arg(&config)
        .arg("plan")
        .env("PROXY_TEST_TOKEN", "proxy-test-token")
        .env("HTTP_PROXY", format!("http://127.0.0.1:{proxy_port}"))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let first = seen_rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| {
            panic!(
                "the proxy saw no request; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        first.starts_with("GET http://127.0.0.1:")
            && first.contains(&format!(":{endpoint_port}/scim/v2/")),
        "{first}"
    );
    assert_ne!(out.status.code(), Some(0), "the proxy answered 502");
}
