//! The history inside the warm process, for `herald dev` (`HERALD_STORES=memory`): typed entries
//! per customer, ordered by the table's sort key, under the table's condition — the first write
//! of a key wins, later ones change nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use herald::store::lock;

use super::Entry;

/// Every customer's history, customer → sort key → entry, so a customer's entries read in the
/// table's query order and a second write of a key finds the first; clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    customers: Arc<Mutex<BTreeMap<String, BTreeMap<String, Entry>>>>,
}

impl Memory {
    /// [`super::HistoryStore::record`]: `attribute_not_exists(entry)` on the item
    /// `(customer_id, entry)`.
    pub(super) fn record(&self, entry: &Entry) -> bool {
        let mut customers = lock(&self.customers);
        let entries = customers.entry(entry.customer_id.clone()).or_default();
        if entries.contains_key(&entry.entry) {
            return false;
        }
        entries.insert(entry.entry.clone(), entry.clone());
        true
    }

    /// [`super::HistoryStore::history`]: ascending by sort key, as the query reads.
    pub(super) fn history(&self, customer_id: &str) -> Vec<Entry> {
        lock(&self.customers)
            .get(customer_id)
            .map(|entries| entries.values().cloned().collect())
            .unwrap_or_default()
    }
}
