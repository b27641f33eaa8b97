//! Everything that can go wrong in inventory, each variant retryable or not.

use herald::store::SdkFailure;
use herald::{Classify, PublishError};

/// Inventory's errors.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// OrderPlaced v2 carries no lines. Not retryable: the same event never will.
    #[error(
        "order {order_id}: OrderPlaced v2 carries no lines; inventory needs v1 (or the order service's GET /orders/{order_id}, which it is not given)"
    )]
    ThinOrder {
        /// The order.
        order_id: String,
    },
    /// The order's lines for one SKU add up to more units than a count holds (`u32`). Not
    /// retryable: the same lines always overflow.
    #[error("order {order_id}: the quantities of {sku} add up to more than {max} units", max = u32::MAX)]
    QuantityOverflow {
        /// The order.
        order_id: String,
        /// The SKU whose lines overflow.
        sku: String,
    },
    /// A stored reservation cannot be read.
    #[error("reservation of order {order_id} is corrupt: {reason}")]
    CorruptReservation {
        /// The order.
        order_id: String,
        /// What is wrong.
        reason: String,
    },
    /// DynamoDB failed after the SDK's retries, or refused a transaction that changes one SKU
    /// twice (which the memory store refuses alike). Retryable.
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
    /// A conditional write was refused, yet the reservation it collided with cannot be read
    /// back. Retryable, and reported as `Inventory.Store`: the next attempt reads the table again.
    #[error("DynamoDB {operation} failed for order {order_id}: reservation exists but cannot be read")]
    Vanished {
        /// The operation.
        operation: &'static str,
        /// The order.
        order_id: String,
    },
    /// Other releases of the order kept changing its reservation while this one tried to apply
    /// (each attempt read it again). Retryable, reported as `Inventory.Store`.
    #[error("order {order_id}: its reservation kept changing under {attempts} attempts to release units")]
    Contended {
        /// The order.
        order_id: String,
        /// How many times it was read and tried.
        attempts: u32,
    },
    /// Publishing the resulting event failed. Retryable as the publisher says.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Classify for InventoryError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::ThinOrder { .. } | Self::QuantityOverflow { .. } | Self::CorruptReservation { .. } => false,
            Self::Store { .. } | Self::Vanished { .. } | Self::Contended { .. } => true,
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::ThinOrder { .. } => "Inventory.ThinOrder",
            Self::QuantityOverflow { .. } => "Inventory.QuantityOverflow",
            Self::CorruptReservation { .. } => "Inventory.CorruptReservation",
            Self::Store { .. } | Self::Vanished { .. } | Self::Contended { .. } => "Inventory.Store",
            Self::Publish(error) => error.error_type(),
        }
    }
}
