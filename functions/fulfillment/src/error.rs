//! Everything that can go wrong in fulfillment, each variant retryable or not.

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
    #[error("DynamoDB {operation} failed for order {order_id}: {message}")]
    Store {
        /// The operation.
        operation: &'static str,
        /// The order.
        order_id: String,
        /// The SDK's error with its context.
        message: String,
    },
    /// Publishing the resulting event failed. Retryable as the publisher says.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Classify for FulfillmentError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::CorruptShipment { .. } => false,
            Self::Store { .. } => true,
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::CorruptShipment { .. } => "Fulfillment.CorruptShipment",
            Self::Store { .. } => "Fulfillment.Store",
            Self::Publish(error) => error.error_type(),
        }
    }
}
