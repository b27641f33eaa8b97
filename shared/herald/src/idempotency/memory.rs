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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn record(status: Status, token: &str) -> Record {
        Record {
            key: "fn#evt".to_owned(),
            status,
            claim_token: token.to_owned(),
            payload_hash: "h".to_owned(),
            expires_at: NOW / 1000 + 3600,
            lease_until: NOW + 10_000,
            result: None,
            error: None,
        }
    }

    fn at(now_ms: i64) -> ClaimCondition {
        ClaimCondition {
            now_ms,
            replace_failed: false,
            replace_completed: false,
        }
    }

    #[tokio::test]
    async fn a_live_claim_conflicts_and_returns_the_record_that_holds_it() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        assert_eq!(
            store.put(&record(Status::InProgress, "a"), &at(NOW)).await?,
            Claim::Claimed { replaced: None }
        );

        let second = store.put(&record(Status::InProgress, "b"), &at(NOW + 1)).await?;

        assert_eq!(second, Claim::Conflict(record(Status::InProgress, "a")));
        Ok(())
    }

    #[tokio::test]
    async fn a_passed_lease_or_an_expired_record_can_be_claimed_over() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        store.put(&record(Status::InProgress, "a"), &at(NOW)).await?;
        let after_lease = store.put(&record(Status::InProgress, "b"), &at(NOW + 10_001)).await?;
        assert!(matches!(after_lease, Claim::Claimed { replaced: Some(old) } if old.claim_token == "a"));

        store.update(&record(Status::Completed, "b")).await?;
        let before_expiry = store.put(&record(Status::InProgress, "c"), &at(NOW + 20_000)).await?;
        let after_expiry = store
            .put(&record(Status::InProgress, "c"), &at(NOW + 3_601_000))
            .await?;

        assert!(matches!(before_expiry, Claim::Conflict(r) if r.status == Status::Completed));
        assert!(matches!(after_expiry, Claim::Claimed { replaced: Some(_) }));
        Ok(())
    }

    #[tokio::test]
    async fn only_the_claim_holder_can_settle_or_release_it() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        store.put(&record(Status::InProgress, "a"), &at(NOW)).await?;

        let intruder = store.update(&record(Status::Completed, "b")).await?;
        let release_by_intruder = store.delete("fn#evt", "b").await?;
        let owner = store.update(&record(Status::Completed, "a")).await?;
        let release_after_completion = store.delete("fn#evt", "a").await?;

        assert!(matches!(intruder, Update::Lost(Some(r)) if r.claim_token == "a"));
        assert!(matches!(release_by_intruder, Update::Lost(_)));
        assert_eq!(owner, Update::Done);
        assert!(matches!(release_after_completion, Update::Lost(Some(r)) if r.status == Status::Completed));
        assert_eq!(store.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn failed_and_completed_records_are_replaced_only_when_the_claim_says_so() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        store.put(&record(Status::InProgress, "a"), &at(NOW)).await?;
        store.update(&record(Status::Failed, "a")).await?;

        let plain = store.put(&record(Status::InProgress, "b"), &at(NOW + 1)).await?;
        let redrive = ClaimCondition {
            replace_failed: true,
            ..at(NOW + 1)
        };
        let replaced = store.put(&record(Status::InProgress, "b"), &redrive).await?;

        assert!(matches!(plain, Claim::Conflict(r) if r.status == Status::Failed));
        assert!(matches!(replaced, Claim::Claimed { replaced: Some(r) } if r.status == Status::Failed));
        Ok(())
    }
}
