/// Why a watermark could not be read or saved. Reading failures make an incremental pass run
/// as a full one; a save that fails leaves the old watermark, so the next incremental pass
/// repeats this one's work (passes are idempotent).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} in DynamoDB table {table}: {reason}")]
    Table {
        table: String,
        action: String,
        reason: String,
    },
    #[error("cannot read the watermark from {place}: {reason}")]
    Read { place: String, reason: String },
    #[error("cannot save the watermark to {place}: {reason}")]
    Write { place: String, reason: String },
    #[error(
        "the watermark in {place} is damaged ({reason}); delete it and the next pass runs in full"
    )]
    Damaged { place: String, reason: String },
}
