//! The audit trail: one structured record for every write a pass attempts, and for every
//! change it deliberately did not make (withheld by a guard or a partial read, not started
//! at the deadline).
//!
//! The executor produces records through an [`AuditBook`] (which names objects from both
//! snapshots) into an [`AuditSink`]; the front ends choose the sink: JSON lines in CloudWatch
//! for the Lambda, stderr or `--audit-log FILE` for the CLI. See docs/operations.md for the
//! record's fields and the saved queries.

mod book;
mod record;
mod sink;

pub use book::{action, AuditBook};
pub use record::{AuditObject, AuditResult, ChangeRecord, Changes, FromTo};
pub use sink::{AuditSink, Collect, JsonLines, NoAudit, Tee, TextLines};

use std::time::{SystemTime, UNIX_EPOCH};

/// A new pass id: the start time (UTC, to the second) and a random suffix, so ids sort by
/// time and two passes started in one second still differ. Example: `20261203T085700Z-3f9a1c2e`.
pub fn new_pass_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z-{:08x}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        rand::random::<u32>()
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_and_ids_differ() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_790), (2026, 12, 3));
        let (a, b) = (new_pass_id(), new_pass_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), "20261203T085700Z-3f9a1c2e".len());
    }
}
