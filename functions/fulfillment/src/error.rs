//! Everything that can go wrong in fulfillment, each variant retryable or not.

use herald::store::SdkFailure;
use herald::{Classify, PublishError};

/// Fulfillment's errors.
#[derive(Debug, thiserror::Error)]
pub enum FulfillmentError {
    /// A stored shipment cannot be read. Not retryable: reading it again reads the same item.
    #[error("shipment of order {order_id} is corrupt: {reason}")]
    CorruptShipment {
        /// The order.
        order_id: String,
        /// What is wrong.
        reason: String,
    },
    /// DynamoDB failed after the SDK's retries. Retryable.
    #[error("DynamoDB {operation} failed for order {order_id}: {source}")]
    Store {
        /// The operation.
        operation: &'static str,
        /// The order.
        order_id: String,
        /// The SDK's error, whole.
        #[source]
        source: SdkFailure,
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
            Self::CorruptShipment { .. } => false,
            Self::Store { .. } | Self::Inconsistent { .. } => true,
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::CorruptShipment { .. } => "Fulfillment.CorruptShipment",
            Self::Store { .. } | Self::Inconsistent { .. } => "Fulfillment.Store",
            Self::Publish(error) => error.error_type(),
        }
    }
}
