//! Everything that can go wrong in contracts, each variant retryable or not.

use herald::store::{SdkFailure, TableError};
use herald::{Classify, PublishError};

/// Contracts' errors.
#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    /// OrderPlaced v2 does not say which lines carry add-ons. Not retryable: the same event never
    /// will.
    #[error(
        "order {order_id}: OrderPlaced v2 does not say which lines carry add-ons; contracts needs v1 (or the order service's GET /orders/{order_id}, which it is not given)"
    )]
    ThinOrder {
        /// The order.
        order_id: String,
    },
    /// A stored contract cannot be read. Not retryable: reading it again reads the same item.
    #[error("contract {contract_id} of order {order_id} is corrupt: {reason}")]
    CorruptContract {
        /// The order.
        order_id: String,
        /// The contract's sort key.
        contract_id: String,
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
    /// Recording a published event on its contract failed: DynamoDB failed, or the contract is
    /// gone. Retryable as the table says: the retry publishes the event again (same id), which
    /// consumers deduplicate.
    #[error("order {order_id}: recording the events of contract {contract_id} as published failed: {source}")]
    Announce {
        /// The order.
        order_id: String,
        /// The contract.
        contract_id: String,
        /// The table's error.
        #[source]
        source: TableError,
    },
    /// Publishing the resulting events failed. Retryable as the publisher says.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Classify for ContractsError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::ThinOrder { .. } | Self::CorruptContract { .. } => false,
            Self::Store { .. } => true,
            Self::Announce { source, .. } => source.is_retryable(),
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::ThinOrder { .. } => "Contracts.ThinOrder",
            Self::CorruptContract { .. } => "Contracts.CorruptContract",
            Self::Store { .. } | Self::Announce { .. } => "Contracts.Store",
            Self::Publish(error) => error.error_type(),
        }
    }
}
