//! moto (Secrets Manager, SSM Parameter Store, DynamoDB) for integration tests.
//!
//! `Moto::start()` runs a private `moto_server` on a free loopback port (installed on first
//! use by `scripts/moto.sh ensure`) and stops it on drop. With `MOTO_ENDPOINT` set
//! (e.g. `http://127.0.0.1:5000`, started by `scripts/moto.sh start`), that server is shared
//! instead: tests must then use names of their own, and must not call [`Moto::reset`].
//!
//! Include with `#[path = "support/moto.rs"] mod moto;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ssm::config::{Credentials, Region};

/// The region every test uses (moto accepts any; the account is always 123456789012).
pub const REGION: &str = "eu-west-1";

/// A moto server and an SDK configuration pointing at it.
pub struct Moto {
    endpoint: String,
    child: Option<Child>,
    log: Option<PathBuf>,
    sdk: SdkConfig,
}

impl Moto {
    /// Starts a private server, or attaches to `MOTO_ENDPOINT`.
    pub async fn start() -> Moto {
        let (endpoint, child, log) = match std::env::var("MOTO_ENDPOINT") {
            Ok(ep) if !ep.trim().is_empty() => {
                let ep = ep.trim().trim_end_matches('/').to_string();
                assert!(
                    wait_ready(&ep, None).await,
                    "MOTO_ENDPOINT {ep} does not answer"
                );
                (ep, None, None)
            }
            _ => spawn_private().await,
        };
        let sdk = sdk_config(&endpoint).await;
        Moto {
            endpoint,
            child,
            log,
            sdk,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// True when attached to a server other tests also use.
    pub fn is_shared(&self) -> bool {
        self.child.is_none()
    }

    /// An SDK configuration for this server: explicit endpoint, region and dummy credentials,
    /// so nothing depends on (or probes for) the machine's AWS setup.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The environment a child process needs to reach this server through the standard
    /// variables (what the Lambda and the CLI read).
    pub fn standard_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Creates or overwrites a `String` parameter.
    pub async fn put_parameter(&self, name: &str, value: &str) {
        self.put(name, value, aws_sdk_ssm::types::ParameterType::String)
            .await;
    }

    /// Creates or overwrites a `SecureString` parameter (moto stores a fake ciphertext that
    /// only a read with decryption turns back into the value).
    pub async fn put_secure_parameter(&self, name: &str, value: &str) {
        self.put(name, value, aws_sdk_ssm::types::ParameterType::SecureString)
            .await;
    }

    async fn put(&self, name: &str, value: &str, kind: aws_sdk_ssm::types::ParameterType) {
        aws_sdk_ssm::Client::new(&self.sdk)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(kind)
            .overwrite(true)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PutParameter {name}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(e)
                )
            });
    }

    /// Deletes a parameter.
    pub async fn delete_parameter(&self, name: &str) {
        aws_sdk_ssm::Client::new(&self.sdk)
            .delete_parameter()
            .name(name)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "DeleteParameter {name}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(e)
                )
            });
    }

    /// Creates a secret with a string value.
    pub async fn create_secret(&self, id: &str, value: &str) {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateSecret {id}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                )
            });
    }

    /// Stores a new version of a secret (it becomes AWSCURRENT), as a rotation does.
    pub async fn put_secret_value(&self, id: &str, value: &str) {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PutSecretValue {id}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                )
            });
    }

    /// Creates a DynamoDB table with a String partition key `key` (on-demand billing), as the
    /// template creates the lease table.
    pub async fn create_table(&self, name: &str, key: &str) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreateTable {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            });
    }

    /// Every item of a table (a scan), attribute values as their strings.
    pub async fn table_items(&self, name: &str) -> Vec<std::collections::HashMap<String, String>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = aws_sdk_dynamodb::Client::new(&self.sdk)
            .scan()
            .table_name(name)
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "Scan {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            });
        out.items()
            .iter()
            .map(|item| {
                item.iter()
                    .map(|(k, v)| {
                        let text = match v {
                            AttributeValue::S(s) | AttributeValue::N(s) => s.clone(),
                            other => format!("{other:?}"),
                        };
                        (k.clone(), text)
                    })
                    .collect()
            })
            .collect()
    }

    /// Wipes every parameter and secret. Only on a private server: on a shared one it would
    /// pull the data from under other tests.
    pub async fn reset(&self) {
        assert!(
            !self.is_shared(),
            "reset() on the shared MOTO_ENDPOINT server would disturb other tests"
        );
        let resp = http_client()
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await
            .expect("moto reset");
        assert!(resp.status().is_success(), "moto reset: {}", resp.status());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(log) = self.log.take() {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// Builds the explicit SDK configuration the tests use.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto-test"))
        .load()
        .await
}

/// The `moto_server` executable, installed once per test binary through the repo script.
fn moto_server() -> &'static PathBuf {
    static SERVER: OnceLock<PathBuf> = OnceLock::new();
    SERVER.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/moto.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("ensure")
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/moto.sh ensure");
        assert!(out.status.success(), "scripts/moto.sh ensure failed");
        PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim())
    })
}

async fn spawn_private() -> (String, Option<Child>, Option<PathBuf>) {
    let server = moto_server();
    for _attempt in 0..3 {
        // The port is free now; another process could take it before moto binds, hence the retry.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log =
            std::env::temp_dir().join(format!("scim-sync-moto-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", server.display()));
        let endpoint = format!("http://127.0.0.1:{port}");
        if wait_ready(&endpoint, Some(&mut child)).await {
            return (endpoint, Some(child), Some(log));
        }
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "moto on port {port} did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let _ = std::fs::remove_file(&log);
    }
    panic!("moto_server did not start after 3 attempts");
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Polls `/moto-api/` until it answers (up to 30 s); false if the process died first.
async fn wait_ready(endpoint: &str, mut child: Option<&mut Child>) -> bool {
    let client = http_client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(resp) = client.get(format!("{endpoint}/moto-api/")).send().await {
            if resp.status().is_success() {
                return true;
            }
        }
        if let Some(c) = child.as_deref_mut() {
            if c.try_wait().ok().flatten().is_some() {
                return false;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
