//! Everything that can go wrong in order history, each variant retryable or not.

use herald::Classify;
use herald::store::TableError;

/// Order history's errors.
#[derive(Debug, thiserror::Error)]
pub enum OrderHistoryError {
    /// The history table failed: DynamoDB after the SDK's retries (retryable), or an unreadable
    /// entry (not retryable: reading it again finds the same bytes).
    #[error("history of customer {customer_id}: {source}")]
    Store {
        /// The customer whose history was written or read.
        customer_id: String,
        /// The table's error, whole.
        #[source]
        source: TableError,
    },
}

impl Classify for OrderHistoryError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store { source, .. } => source.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Store { .. } => "OrderHistory.Store",
        }
    }
}
