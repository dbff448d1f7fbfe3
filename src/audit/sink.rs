//! Where audit records go: JSON lines (CloudWatch, `--output json`, `--audit-log FILE`),
//! readable lines (the CLI's text mode), or memory (tests, `explain`).

use std::io::Write;
use std::sync::Mutex;

use super::record::ChangeRecord;

/// Receives each record as the change ends. Called from concurrent writes, so it is `Sync`;
/// a sink that cannot write (a full disk) says so on stderr and never fails the pass.
pub trait AuditSink: Send + Sync {
    fn record(&self, record: &ChangeRecord);
}

/// Drops every record (dry runs write nothing, so have nothing to record).
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: &ChangeRecord) {}
}

/// Keeps every record in memory.
#[derive(Default)]
pub struct Collect(Mutex<Vec<ChangeRecord>>);

impl Collect {
    /// The records so far, in the order the changes ended.
    pub fn take(&self) -> Vec<ChangeRecord> {
        match self.0.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

impl AuditSink for Collect {
    fn record(&self, record: &ChangeRecord) {
        if let Ok(mut v) = self.0.lock() {
            v.push(record.clone());
        }
    }
}

/// One JSON document per line, flushed per record so a pass cut short keeps what it did.
pub struct JsonLines<W: Write + Send>(Mutex<W>);

impl<W: Write + Send> JsonLines<W> {
    pub fn new(out: W) -> Self {
        Self(Mutex::new(out))
    }
}

impl<W: Write + Send> AuditSink for JsonLines<W> {
    fn record(&self, record: &ChangeRecord) {
        let Ok(line) = serde_json::to_string(record) else {
            return;
        };
        if let Ok(mut out) = self.0.lock() {
            if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
                eprintln!("could not write an audit record: {e}");
            }
        }
    }
}

/// One readable line per record (see [`ChangeRecord::text_line`]).
pub struct TextLines<W: Write + Send>(Mutex<W>);

impl<W: Write + Send> TextLines<W> {
    pub fn new(out: W) -> Self {
        Self(Mutex::new(out))
    }
}

impl<W: Write + Send> AuditSink for TextLines<W> {
    fn record(&self, record: &ChangeRecord) {
        if let Ok(mut out) = self.0.lock() {
            let _ = writeln!(out, "{}", record.text_line());
        }
    }
}

/// Every record to each of several sinks.
pub struct Tee(pub Vec<Box<dyn AuditSink>>);

impl AuditSink for Tee {
    fn record(&self, record: &ChangeRecord) {
        for sink in &self.0 {
            sink.record(record);
        }
    }
}
