//! Everything that can go wrong in notifications, each variant retryable or not.

use herald::Classify;
use herald::store::SdkFailure;

/// Notifications' errors.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    /// OrderPlaced v2 carries no email address and no lines. Not retryable: the same event never will.
    #[error(
        "order {order_id}: OrderPlaced v2 carries no email address (the customer service's GET /customers/{customer_id}) and no lines (the order service's GET /orders/{order_id}); notifications needs v1"
    )]
    ThinOrder {
        /// The order.
        order_id: String,
        /// Its customer, whose address the customer service would know.
        customer_id: String,
    },
    /// A stored outbox row cannot be read.
    #[error("outbox message {message_id} is corrupt: {reason}")]
    CorruptMessage {
        /// The message.
        message_id: String,
        /// What is wrong.
        reason: String,
    },
    /// DynamoDB failed after the SDK's retries. Retryable.
    #[error("DynamoDB {operation} failed for message {message_id}: {source}")]
    Store {
        /// The operation.
        operation: &'static str,
        /// The message (or, for reads by address, the address).
        message_id: String,
        /// The SDK's error, whole.
        #[source]
        source: SdkFailure,
    },
}

impl Classify for NotificationsError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::ThinOrder { .. } | Self::CorruptMessage { .. } => false,
            Self::Store { .. } => true,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::ThinOrder { .. } => "Notifications.ThinOrder",
            Self::CorruptMessage { .. } => "Notifications.CorruptMessage",
            Self::Store { .. } => "Notifications.Store",
        }
    }
}
