//! The outbox inside the warm process, for `herald dev` (`HERALD_STORES=memory`): typed rows by
//! `message_id`, under the table's condition — the first write of an id wins.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::{Arc, Mutex};

use herald::store::lock;

use super::Row;
use crate::sender::Message;

/// The outbox's rows, by message id: the key the table's condition is on. Clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    rows: Arc<Mutex<BTreeMap<String, Row>>>,
}

impl Memory {
    /// [`super::Outbox::record`]: `attribute_not_exists(message_id)`, so later writes of an id
    /// change nothing.
    pub(super) fn record(&self, row: Row) -> bool {
        match lock(&self.rows).entry(row.message.message_id.clone()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(vacant) => {
                vacant.insert(row);
                true
            }
        }
    }

    /// [`super::Outbox::sent`].
    pub(super) fn sent(&self, message_id: &str) -> Option<Message> {
        lock(&self.rows).get(message_id).map(|row| row.message.clone())
    }

    /// [`super::Outbox::sent_to`], in no particular order (as a scan's).
    pub(super) fn sent_to(&self, email: &str) -> Vec<Row> {
        lock(&self.rows)
            .values()
            .filter(|row| row.message.to == email)
            .cloned()
            .collect()
    }
}
