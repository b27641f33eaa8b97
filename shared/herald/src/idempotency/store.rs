//! The storage seam: four operations the guard needs, and batch forms of two of them.
//!
//! All logic lives in the guard; a store only executes conditional writes faithfully. Two
//! implementations exist: [`DynamoStore`](super::DynamoStore) for production and
//! [`MemoryStore`](super::MemoryStore) for unit tests and the local bus.

use std::future::Future;

use super::record::{ClaimCondition, Record};

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The record was written. `replaced` holds the expired or abandoned record it replaced.
    Claimed {
        /// The record that was there before, if any.
        replaced: Option<Record>,
    },
    /// A live record holds the key; it is returned so the guard needs no extra read.
    Conflict(Record),
}

/// What a conditional update or delete found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// The claim was still ours and the write happened.
    Done,
    /// The claim is no longer ours (its lease passed and another invocation took over, or it
    /// expired): nothing was written. Holds what is there now.
    Lost(Option<Record>),
}

/// A storage failure after the store's own retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend did not answer or refused (throttled, 5xx, timed out, access denied).
    #[error("idempotency store {operation} failed for {key}: {message}")]
    Backend {
        /// The operation, e.g. `PutItem`.
        operation: &'static str,
        /// The record key (or the first of a batch).
        key: String,
        /// The backend's error, with its context.
        message: String,
    },
    /// A stored record could not be read back.
    #[error("idempotency record {key} is corrupt: {reason}")]
    Corrupt {
        /// The record key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Storage for idempotency records.
pub trait Store: Send + Sync + 'static {
    /// Reads the record under `key`.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails or the record cannot be read.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Writes `record` unless a live record holds its key (see [`Record::is_claimable`]); one
    /// conditional write that returns the live record on conflict.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    fn put(
        &self,
        record: &Record,
        condition: &ClaimCondition,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Replaces the record if it is still INPROGRESS under `record.claim_token`.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    fn update(&self, record: &Record) -> impl Future<Output = Result<Update, StoreError>> + Send;

    /// Deletes the record if it is still INPROGRESS under `claim_token`.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    fn delete(&self, key: &str, claim_token: &str) -> impl Future<Output = Result<Update, StoreError>> + Send;

    /// Claims several records (distinct keys), each under its own condition. The default puts
    /// them one by one; DynamoDB does it in one transaction, plus one more for the fresh records
    /// of a transaction that duplicates cancelled.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    fn put_batch(
        &self,
        claims: &[(Record, ClaimCondition)],
    ) -> impl Future<Output = Result<Vec<Claim>, StoreError>> + Send {
        async move {
            let mut answers = Vec::with_capacity(claims.len());
            for (record, condition) in claims {
                answers.push(self.put(record, condition).await?);
            }
            Ok(answers)
        }
    }

    /// Updates several claimed records (distinct keys). The default updates them one by one;
    /// DynamoDB does it in one transaction when every claim is still held.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    fn update_batch(&self, records: &[Record]) -> impl Future<Output = Result<Vec<Update>, StoreError>> + Send {
        async move {
            let mut updates = Vec::with_capacity(records.len());
            for record in records {
                updates.push(self.update(record).await?);
            }
            Ok(updates)
        }
    }
}
