//! Everything that can go wrong in campaigns, each variant retryable or not.

use herald::store::SdkFailure;
use herald::{Classify, PublishError};

/// Campaigns' errors.
#[derive(Debug, thiserror::Error)]
pub enum CampaignsError {
    /// A stored order or voucher cannot be read. Not retryable: the same item reads the same way.
    #[error("{what} {key} is corrupt: {reason}")]
    CorruptRecord {
        /// `order` or `voucher`.
        what: &'static str,
        /// Its key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// DynamoDB failed after the SDK's retries. Retryable.
    #[error("DynamoDB {operation} failed for {key}: {source}")]
    Store {
        /// The operation.
        operation: &'static str,
        /// The order or customer concerned.
        key: String,
        /// The SDK's error.
        #[source]
        source: SdkFailure,
    },
    /// A conditional write was refused, yet the item it collided with cannot be read back.
    /// Retryable, and reported as `Campaigns.Store`: the next attempt reads the table again.
    #[error("DynamoDB {operation} failed for {key}: {what} exists but cannot be read")]
    Vanished {
        /// The operation.
        operation: &'static str,
        /// The order concerned.
        key: String,
        /// `order` or `voucher`.
        what: &'static str,
    },
    /// Publishing the voucher event failed. Retryable as the publisher says.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Classify for CampaignsError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::CorruptRecord { .. } => false,
            Self::Store { .. } | Self::Vanished { .. } => true,
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::CorruptRecord { .. } => "Campaigns.CorruptRecord",
            Self::Store { .. } | Self::Vanished { .. } => "Campaigns.Store",
            Self::Publish(error) => error.error_type(),
        }
    }
}
