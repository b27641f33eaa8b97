//! Everything that can go wrong in order history, each variant retryable or not.

use herald::Classify;
use herald::store::SdkFailure;

/// Order history's errors.
#[derive(Debug, thiserror::Error)]
pub enum OrderHistoryError {
    /// A stored entry cannot be read. Not retryable: reading it again finds the same bytes.
    #[error("history entry {entry} of customer {customer_id} is corrupt: {reason}")]
    CorruptEntry {
        /// The customer.
        customer_id: String,
        /// The entry's sort key.
        entry: String,
        /// What is wrong.
        reason: String,
    },
    /// DynamoDB failed after the SDK's retries. Retryable.
    #[error("DynamoDB {operation} failed for customer {customer_id}: {source}")]
    Store {
        /// The operation.
        operation: &'static str,
        /// The customer whose history was written or read.
        customer_id: String,
        /// The SDK's error, whole.
        #[source]
        source: SdkFailure,
    },
}

impl Classify for OrderHistoryError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::CorruptEntry { .. } => false,
            Self::Store { .. } => true,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::CorruptEntry { .. } => "OrderHistory.CorruptEntry",
            Self::Store { .. } => "OrderHistory.Store",
        }
    }
}
