/// Why the lease could not be taken or given back. A pass that cannot take a configured
/// lease does not run: running unprotected could overlap another pass.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("cannot {action} in DynamoDB table {table}: {reason}")]
    Table {
        table: String,
        action: String,
        reason: String,
    },
}
