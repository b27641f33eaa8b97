//! Everything that can go wrong in campaigns, each variant retryable or not.

use herald::store::TableError;
use herald::{Classify, PublishError};

/// Campaigns' errors.
#[derive(Debug, thiserror::Error)]
pub enum CampaignsError {
    /// A table failed: DynamoDB after the SDK's retries, or a refused write whose item no read
    /// finds (both retryable), or an unreadable order or voucher (not retryable: the same item
    /// reads the same way).
    #[error("{key}: {source}")]
    Store {
        /// The order or customer concerned.
        key: String,
        /// The table's error, whole.
        #[source]
        source: TableError,
    },
    /// Publishing the voucher event failed. Retryable as the publisher says.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Classify for CampaignsError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store { source, .. } => source.is_retryable(),
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Store { .. } => "Campaigns.Store",
            Self::Publish(error) => error.error_type(),
        }
    }
}
