//! The idempotency store a function runs with, chosen at cold start: DynamoDB in AWS, or memory
//! inside the warm process under `herald dev` (`HERALD_STORES=memory`).

use super::dynamodb::DynamoStore;
use super::memory::MemoryStore;
use super::record::{ClaimCondition, Record};
use super::store::{Claim, Store, StoreError, Update};

/// The variable `herald dev` sets to `memory` so functions keep their state in-process.
pub const STORES_VARIABLE: &str = "HERALD_STORES";

/// Where a function keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// DynamoDB (the default, and the only choice on AWS).
    #[default]
    Dynamo,
    /// Memory inside the warm process: nothing external is needed, nothing outlives the process.
    Memory,
}

impl Backend {
    /// Reads [`STORES_VARIABLE`] through `lookup`: `memory` chooses memory, anything else DynamoDB.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        match lookup(STORES_VARIABLE).as_deref() {
            Some("memory") => Self::Memory,
            _ => Self::Dynamo,
        }
    }
}

/// The idempotency store of either backend.
#[derive(Debug, Clone)]
pub enum ChosenStore {
    /// In DynamoDB.
    Dynamo(DynamoStore),
    /// In memory.
    Memory(MemoryStore),
}

impl ChosenStore {
    /// The store for `backend`: the DynamoDB table, or a fresh memory store.
    pub fn new(backend: Backend, client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        match backend {
            Backend::Dynamo => Self::Dynamo(DynamoStore::new(client, table)),
            Backend::Memory => Self::Memory(MemoryStore::new()),
        }
    }
}

// The DynamoDB arms are boxed: an SDK call's future is kilobytes (5.6 KB for a GetItem), and
// inline it would make every future that awaits the store (the guard's, the consumer's) that
// large, copied whole on each move, even on a cached duplicate that calls no store at all. One
// allocation per call is nothing beside the call.
impl Store for ChosenStore {
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.get(key)).await,
            Self::Memory(store) => store.get(key).await,
        }
    }

    async fn put(&self, record: &Record, condition: &ClaimCondition) -> Result<Claim, StoreError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.put(record, condition)).await,
            Self::Memory(store) => store.put(record, condition).await,
        }
    }

    async fn update(&self, record: &Record) -> Result<Update, StoreError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.update(record)).await,
            Self::Memory(store) => store.update(record).await,
        }
    }

    async fn delete(&self, key: &str, claim_token: &str) -> Result<Update, StoreError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.delete(key, claim_token)).await,
            Self::Memory(store) => store.delete(key, claim_token).await,
        }
    }

    async fn put_batch(&self, claims: &[(Record, ClaimCondition)]) -> Result<Vec<Claim>, StoreError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.put_batch(claims)).await,
            Self::Memory(store) => store.put_batch(claims).await,
        }
    }

    async fn update_batch(&self, records: &[Record]) -> Result<Vec<Update>, StoreError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.update_batch(records)).await,
            Self::Memory(store) => store.update_batch(records).await,
        }
    }
}
