//! An in-memory [`Store`] with the same conditional semantics as DynamoDB, for unit tests and
//! for functions running on the local bus. Clones share the same records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::record::{ClaimCondition, Record, Status};
use super::store::{Claim, Store, StoreError, Update};

/// Records in a shared map.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    records: Arc<Mutex<HashMap<String, Record>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records are held (expired ones included, as in DynamoDB before TTL runs).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        // A panic while holding the lock cannot leave a half-written record: every write is a
        // single insert or remove, so the map is usable even if poisoned.
        self.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn held_by(current: Option<&Record>, token: &str) -> bool {
        current.is_some_and(|r| r.status == Status::InProgress && r.claim_token == token)
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn put(&self, record: &Record, condition: &ClaimCondition) -> Result<Claim, StoreError> {
        let mut records = self.lock();
        match records.get(&record.key) {
            Some(existing) if !existing.is_claimable(condition) => Ok(Claim::Conflict(existing.clone())),
            _ => Ok(Claim::Claimed {
                replaced: records.insert(record.key.clone(), record.clone()),
            }),
        }
    }

    async fn update(&self, record: &Record) -> Result<Update, StoreError> {
        let mut records = self.lock();
        if Self::held_by(records.get(&record.key), &record.claim_token) {
            records.insert(record.key.clone(), record.clone());
            Ok(Update::Done)
        } else {
            Ok(Update::Lost(records.get(&record.key).cloned()))
        }
    }

    async fn delete(&self, key: &str, claim_token: &str) -> Result<Update, StoreError> {
        let mut records = self.lock();
        if Self::held_by(records.get(key), claim_token) {
            records.remove(key);
            Ok(Update::Done)
        } else {
            Ok(Update::Lost(records.get(key).cloned()))
        }
    }
}
