//! TLS to Identity Center: certificate verification is always on. A TLS server on loopback
//! with a self-signed certificate (made by `openssl req` at test time, served by
//! `openssl s_server`) stands in for an endpoint someone intercepts; the pass must refuse it
//! with an error that names the certificate, and send nothing (no token) over it.
//! (LDAPS is covered against the Samba DC in tests/safety_samba.rs.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable
)]

#[path = "support/pass_fixture.rs"]
mod pass_fixture;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pass_fixture::{ldif_settings, temp_ldif, Directory, TOKEN};
use scim_sync::identity_center::{ScimClient, ScimClientConfig, ScimError};
use scim_sync::pass::{PassError, PassOptions, Session};
use scim_sync::secret::Secret;

/// `openssl s_server` on 127.0.0.1 with a fresh self-signed certificate; killed on drop.
struct SelfSignedServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl SelfSignedServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // A throw-away CA that no trust store knows, and a proper leaf it signed (SAN
        // 127.0.0.1): exactly what an interception proxy presents.
        let p = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let ok = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is installed");
            assert!(ok.success(), "openssl {args:?} failed");
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Untrusted Test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ]);
        std::fs::write(
            p("leaf.ext"),
            "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n\
             subjectAltName=IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ]);
        let (cert, key) = (p("cert.pem"), p("key.pem"));
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www"])
            .arg("-accept")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }

    fn scim_url(&self) -> String {
        format!("https://127.0.0.1:{}/scim/v2/", self.port)
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_https_endpoint_with_an_untrusted_certificate_is_refused() {
    let server = SelfSignedServer::start();
    let dir = Directory::generated(3, 1);
    let (_tmp, path) = temp_ldif(&dir);
    let settings = ldif_settings(&path, &server.scim_url(), TOKEN);
    let err = Session::new(settings, None)
        .unwrap()
        .run(&PassOptions::default())
        .await
        .unwrap_err();
    let msg = err.to_string();
    println!("HTTPS with a self-signed certificate: {msg}");
    assert!(matches!(err, PassError::IdentityCenter(_)), "{msg}");
    assert!(
        msg.to_lowercase().contains("certificate"),
        "the error names the certificate: {msg}"
    );
    assert!(!msg.contains(TOKEN));
}

#[tokio::test]
async fn the_client_itself_refuses_the_untrusted_certificate() {
    let server = SelfSignedServer::start();
    let mut cfg = ScimClientConfig::new(&server.scim_url(), Secret::new(TOKEN)).unwrap();
    cfg.max_attempts = 1;
    let client = ScimClient::new(cfg).unwrap();
    let err = client.list_users().await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
    assert!(!matches!(err, ScimError::Unauthorized { .. }));
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_configuration_error_not_a_retry() {
    let server = SelfSignedServer::start();
    let client =
        ScimClient::new(ScimClientConfig::new(&server.scim_url(), Secret::new(TOKEN)).unwrap())
            .unwrap();
    let err = client.list_users().await.unwrap_err();
    assert!(
        err.is_configuration_error(),
        "a certificate will not become trusted by retrying: {err}"
    );
    assert!(!err.to_string().contains("throttling"), "{err}");
}

#[test]
fn plain_http_is_refused_for_anything_but_loopback() {
    for url in [
        "http://scim.eu-west-1.amazonaws.com/t/scim/v2/",
        "http://10.1.2.3/scim/v2/",
    ] {
        let err = ScimClientConfig::new(url, Secret::new(TOKEN)).unwrap_err();
        assert!(err.contains("https://"), "{url}: {err}");
    }
}
