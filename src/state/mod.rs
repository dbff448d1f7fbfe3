//! Where the incremental pass keeps its watermark: one record per Identity Center endpoint
//! and domain controller, written only after a pass that left nothing behind.
//!
//! Two stores, one record format (a [`Watermark`] as JSON):
//! - **the pass lease's DynamoDB table** (the Lambda, and the CLI with `SCIM_SYNC_LEASE_TABLE`):
//!   the function already reads and writes that table, a record is one item under its own
//!   key (`watermark|<endpoint>|<dc>`, beside the lease items, which are keyed by the bare
//!   endpoint), and a conditional write keeps an older pass from moving the watermark back.
//!   An SSM parameter would need a second IAM grant, allows 4 KB (8 KB advanced, which costs
//!   per parameter), and `PutParameter` is throttled to a few writes a second per account;
//!   the scope the watermark keeps is deflated to about 0.56 bytes per user in a pessimistic
//!   case (`model::ScopeSet`), so 100k users need ~56 kB of DynamoDB's 400 kB item.
//! - **a JSON file** (`run.stateFile`, the CLI in local mode): written to a temporary file
//!   and renamed, so a crash leaves the old record or the new one, never half of one.
//!
//! Both refuse to move a watermark backwards for the same DC and invocation (two passes that
//! overlap despite the lease: the later save of the older pass loses).

mod error;

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::AttributeValue;

pub use error::StateError;

use crate::model::Watermark;

/// The lease table's partition key (see `crate::lease`).
const KEY_ATTRIBUTE: &str = "lease";
const RECORD: &str = "watermark";
const USN: &str = "usn";
const INVOCATION: &str = "invocationId";

/// A place to keep watermarks.
#[derive(Debug, Clone)]
pub enum WatermarkStore {
    /// A JSON file holding every record by key.
    File(PathBuf),
    /// The pass lease's DynamoDB table.
    Table {
        client: aws_sdk_dynamodb::Client,
        table: String,
    },
}

/// The record key: the Identity Center endpoint and the DC (lowercase), since USNs are
/// local to one DC and a watermark says what reached one Identity Center.
pub fn record_key(endpoint: &str, dc: &str) -> String {
    format!(
        "watermark|{}|{}",
        endpoint.trim().trim_end_matches('/'),
        dc.trim().to_lowercase()
    )
}

impl WatermarkStore {
    /// The DynamoDB store on the lease table `table`.
    pub fn table(sdk: &SdkConfig, table: impl Into<String>) -> Self {
        Self::Table {
            client: aws_sdk_dynamodb::Client::new(sdk),
            table: table.into(),
        }
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => format!("state file {}", path.display()),
            Self::Table { table, .. } => format!("DynamoDB table {table}"),
        }
    }

    /// The record under `key`; `Ok(None)` when there is none.
    pub async fn load(&self, key: &str) -> Result<Option<Watermark>, StateError> {
        match self {
            Self::File(path) => {
                let records = read_file(path)?;
                Ok(records.get(key).cloned())
            }
            Self::Table { client, table } => {
                let out = client
                    .get_item()
                    .table_name(table)
                    .key(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| table_error(table, "read the watermark (GetItem)", &e))?;
                let Some(item) = out.item else {
                    return Ok(None);
                };
                let Some(AttributeValue::S(json)) = item.get(RECORD) else {
                    return Err(StateError::Damaged {
                        place: format!("DynamoDB table {table}, item {key}"),
                        reason: format!("it has no string attribute {RECORD}"),
                    });
                };
                serde_json::from_str(json)
                    .map(Some)
                    .map_err(|e| StateError::Damaged {
                        place: format!("DynamoDB table {table}, item {key}"),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Saves `w` under `key`, unless the store holds a newer watermark of the same DC and
    /// invocation (then `Ok(false)`: an overlapping pass got further).
    pub async fn save(&self, key: &str, w: &Watermark) -> Result<bool, StateError> {
        match self {
            Self::File(path) => {
                let mut records = read_file(path)?;
                if records
                    .get(key)
                    .is_some_and(|old| old.invocation_id == w.invocation_id && old.usn > w.usn)
                {
                    return Ok(false);
                }
                records.insert(key.to_string(), w.clone());
                write_file(path, &records)?;
                Ok(true)
            }
            Self::Table { client, table } => {
                let json = serde_json::to_string(w).map_err(|e| StateError::Write {
                    place: format!("DynamoDB table {table}"),
                    reason: e.to_string(),
                })?;
                let result = client
                    .put_item()
                    .table_name(table)
                    .item(KEY_ATTRIBUTE, AttributeValue::S(key.to_string()))
                    .item(RECORD, AttributeValue::S(json))
                    .item(USN, AttributeValue::N(w.usn.to_string()))
                    .item(INVOCATION, AttributeValue::S(w.invocation_id.clone()))
                    .condition_expression(
                        "attribute_not_exists(#key) OR #usn <= :usn OR #inv <> :inv",
                    )
                    .expression_attribute_names("#key", KEY_ATTRIBUTE)
                    .expression_attribute_names("#usn", USN)
                    .expression_attribute_names("#inv", INVOCATION)
                    .expression_attribute_values(":usn", AttributeValue::N(w.usn.to_string()))
                    .expression_attribute_values(":inv", AttributeValue::S(w.invocation_id.clone()))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(true),
                    Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
                    Err(e) => Err(table_error(table, "save the watermark (PutItem)", &e)),
                }
            }
        }
    }
}

fn table_error<E, R>(
    table: &str,
    action: &str,
    e: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StateError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StateError::Table {
        table: table.to_string(),
        action: action.to_string(),
        reason: DisplayErrorContext(e).to_string(),
    }
}

fn read_file(path: &PathBuf) -> Result<BTreeMap<String, Watermark>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(StateError::Read {
                place: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    serde_json::from_str(&text).map_err(|e| StateError::Damaged {
        place: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn write_file(path: &PathBuf, records: &BTreeMap<String, Watermark>) -> Result<(), StateError> {
    let err = |e: std::io::Error| StateError::Write {
        place: path.display().to_string(),
        reason: e.to_string(),
    };
    let json = serde_json::to_string_pretty(records).map_err(|e| StateError::Write {
        place: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, json).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScopeSet;

    fn mark(usn: u64, inv: &str) -> Watermark {
        Watermark {
            dns_host_name: "dc1.example.test".into(),
            invocation_id: inv.into(),
            usn,
            taken_at: 1,
            settings_fingerprint: "f".into(),
            scope: ScopeSet::from_sids(["S-1-5-21-1-2-3-1000"]),
            counts: None,
            next_expiry: None,
        }
    }

    #[tokio::test]
    async fn a_file_store_keeps_records_and_never_moves_one_back() {
        let dir = std::env::temp_dir().join(format!("scim-sync-state-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("state.json");
        let _ = std::fs::remove_file(&path);
        let store = WatermarkStore::File(path.clone());
        let key = record_key("https://scim.example/abc/scim/v2/", "DC1.example.test");
        assert_eq!(
            key,
            "watermark|https://scim.example/abc/scim/v2|dc1.example.test"
        );
        assert!(store.load(&key).await.is_ok_and(|w| w.is_none()));
        assert!(store.save(&key, &mark(10, "a")).await.is_ok_and(|s| s));
        assert!(store.save(&key, &mark(5, "a")).await.is_ok_and(|s| !s));
        assert_eq!(store.load(&key).await.ok().flatten(), Some(mark(10, "a")));
        // A restored DC (new invocation) may start lower.
        assert!(store.save(&key, &mark(5, "b")).await.is_ok_and(|s| s));
        assert_eq!(store.load(&key).await.ok().flatten(), Some(mark(5, "b")));
        let _ = std::fs::write(&path, "{not json");
        assert!(matches!(
            store.load(&key).await,
            Err(StateError::Damaged { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
