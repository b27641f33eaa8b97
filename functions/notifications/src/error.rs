//! Everything that can go wrong in notifications, each variant retryable or not.

use herald::Classify;
use herald::store::TableError;

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
    /// The outbox failed: DynamoDB after the SDK's retries (retryable), or an unreadable row
    /// (not retryable: the same item reads the same way).
    #[error("outbox message {message_id}: {source}")]
    Store {
        /// The message (or, for reads by address, the address).
        message_id: String,
        /// The table's error, whole.
        #[source]
        source: TableError,
    },
}

impl Classify for NotificationsError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::ThinOrder { .. } => false,
            Self::Store { source, .. } => source.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::ThinOrder { .. } => "Notifications.ThinOrder",
            Self::Store { .. } => "Notifications.Store",
        }
    }
}
