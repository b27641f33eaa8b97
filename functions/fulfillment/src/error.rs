//! Everything that can go wrong in fulfillment, each variant retryable or not.

use herald::store::TableError;
use herald::{Classify, PublishError};

/// Fulfillment's errors.
#[derive(Debug, thiserror::Error)]
pub enum FulfillmentError {
    /// The shipments table failed: DynamoDB after the SDK's retries (retryable), or an
    /// unreadable shipment (not retryable: reading it again reads the same item).
    #[error("shipment of order {order_id}: {source}")]
    Store {
        /// The order.
        order_id: String,
        /// The table's error, whole.
        #[source]
        source: TableError,
    },
    /// The store contradicted itself: a conditional write was refused, yet the record it
    /// collided with cannot be read, or still reads as if the write should have succeeded.
    /// Retryable: a retry reads it again. Its error type is the store's: to the caller it is one.
    #[error("DynamoDB {operation} failed for order {order_id}: {reason}")]
    Inconsistent {
        /// The operation whose answer did not add up.
        operation: &'static str,
        /// The order.
        order_id: String,
        /// What did not add up.
        reason: &'static str,
    },
    /// Publishing the resulting event failed. Retryable as the publisher says.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Classify for FulfillmentError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store { source, .. } => source.is_retryable(),
            Self::Inconsistent { .. } => true,
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Store { .. } | Self::Inconsistent { .. } => "Fulfillment.Store",
            Self::Publish(error) => error.error_type(),
        }
    }
}
