//! The order-snapshot and invoice tables inside the warm process, for `herald dev`
//! (`HERALD_STORES=memory`): typed, by `order_id`, under the tables' condition — a snapshot or
//! an invoice is written only if its order has none, and a refused invoice hands back the stored
//! one.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::{Arc, Mutex};

use herald::store::lock;

use super::{Issue, OrderSnapshot, StoredInvoice};

/// Both tables.
#[derive(Debug, Default)]
struct Tables {
    /// The order-snapshot table, by `order_id`.
    orders: BTreeMap<String, OrderSnapshot>,
    /// The invoice table, by `order_id`.
    invoices: BTreeMap<String, StoredInvoice>,
}

/// Both tables; clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    tables: Arc<Mutex<Tables>>,
}

impl Memory {
    /// [`super::BillingStore::record_order`]: the first snapshot stands.
    pub(super) fn record_order(&self, order: &OrderSnapshot) -> bool {
        match lock(&self.tables).orders.entry(order.order_id.clone()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(vacant) => {
                vacant.insert(order.clone());
                true
            }
        }
    }

    /// [`super::BillingStore::order`].
    pub(super) fn order(&self, order_id: &str) -> Option<OrderSnapshot> {
        lock(&self.tables).orders.get(order_id).cloned()
    }

    /// [`super::BillingStore::invoice`].
    pub(super) fn invoice(&self, order_id: &str) -> Option<StoredInvoice> {
        lock(&self.tables).invoices.get(order_id).cloned()
    }

    /// [`super::BillingStore::issue`]: the first invoice of the order stands and is handed back.
    pub(super) fn issue(&self, stored: &StoredInvoice) -> Issue {
        match lock(&self.tables).invoices.entry(stored.invoice.order_id.clone()) {
            Entry::Occupied(existing) => Issue::AlreadyIssued(existing.get().clone()),
            Entry::Vacant(vacant) => {
                vacant.insert(stored.clone());
                Issue::Issued
            }
        }
    }
}
