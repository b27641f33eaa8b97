//! The customer-orders and voucher tables inside the warm process, for `herald dev`
//! (`HERALD_STORES=memory`): typed, under the tables' condition — an order or a voucher is
//! written only if absent, and a refused write hands back the stored item; a customer's orders
//! read back in `order_id` order, as the table's sort key returns them.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::{Arc, Mutex};

use herald::store::lock;

use super::{Issue, StoredVoucher};
use crate::rules::PlacedOrder;

/// Both tables.
#[derive(Debug, Default)]
struct Tables {
    /// The customer-orders table: by `customer_id`, then by `order_id` (its sort key).
    orders: BTreeMap<String, BTreeMap<String, PlacedOrder>>,
    /// The voucher table, by `qualifying_order_id`.
    vouchers: BTreeMap<String, StoredVoucher>,
}

/// Both tables; clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    tables: Arc<Mutex<Tables>>,
}

impl Memory {
    /// [`super::CampaignStore::record_order`]: the first recording stands and is handed back.
    pub(super) fn record_order(&self, customer_id: &str, order: &PlacedOrder) -> PlacedOrder {
        let mut tables = lock(&self.tables);
        let customer = tables.orders.entry(customer_id.to_owned()).or_default();
        customer
            .entry(order.order_id.clone())
            .or_insert_with(|| order.clone())
            .clone()
    }

    /// [`super::CampaignStore::orders`].
    pub(super) fn orders(&self, customer_id: &str) -> Vec<PlacedOrder> {
        lock(&self.tables)
            .orders
            .get(customer_id)
            .map(|orders| orders.values().cloned().collect())
            .unwrap_or_default()
    }

    /// [`super::CampaignStore::voucher`].
    pub(super) fn voucher(&self, order_id: &str) -> Option<StoredVoucher> {
        lock(&self.tables).vouchers.get(order_id).cloned()
    }

    /// [`super::CampaignStore::issue`]: the order's first voucher stands and is handed back.
    pub(super) fn issue(&self, stored: &StoredVoucher) -> Issue {
        match lock(&self.tables)
            .vouchers
            .entry(stored.voucher.qualifying_order_id.clone())
        {
            Entry::Occupied(existing) => Issue::AlreadyIssued(existing.get().clone()),
            Entry::Vacant(vacant) => {
                vacant.insert(stored.clone());
                Issue::Issued
            }
        }
    }
}
