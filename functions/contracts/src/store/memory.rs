//! The contracts table inside the warm process, for `herald dev` (`HERALD_STORES=memory`): typed
//! per order, under the table's conditions — a transaction of contracts is written whole, only
//! while the order has no tombstone and none of them exists; the first tombstone stands; a
//! contract is cancelled only from ACTIVE; an order's contracts read back in `contract_id` order,
//! as the table's sort key returns them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use herald::Outgoing;
use herald::store::{TableError, lock};

use super::{CONTRACTS_PER_TRANSACTION, Contract, ContractStatus, Create, OrderContracts};

/// What is stored for one order.
#[derive(Debug, Default)]
struct Order {
    /// By `contract_id`, so they read back in the table's sort-key order.
    contracts: BTreeMap<String, Contract>,
    /// The tombstone's `cancelled_by`: set once the order is cancelled, never changed.
    tombstone: Option<String>,
    /// Each returned SKU's tombstone: the first return's `event_id`.
    returned: BTreeMap<String, String>,
}

impl Order {
    fn stored(&self) -> OrderContracts {
        OrderContracts {
            contracts: self.contracts.values().cloned().collect(),
            cancelled_by: self.tombstone.clone(),
            returned: self.returned.clone(),
        }
    }
}

/// Every order's contracts, by `order_id`; clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    orders: Arc<Mutex<BTreeMap<String, Order>>>,
}

impl Memory {
    /// [`super::ContractStore::create`]: chunk by chunk, as the table's transactions go.
    pub(super) fn create(&self, order_id: &str, contracts: &[Contract]) -> Create {
        let mut orders = lock(&self.orders);
        for chunk in contracts.chunks(CONTRACTS_PER_TRANSACTION) {
            let order = orders.entry(order_id.to_owned()).or_default();
            let refused = order.tombstone.is_some()
                || chunk
                    .iter()
                    .any(|c| order.contracts.contains_key(&c.contract_id) || order.returned.contains_key(&c.sku));
            if refused {
                return Create::Refused(order.stored());
            }
            for contract in chunk {
                // The table stores no `cancelled_by` on creation.
                let created = Contract {
                    cancelled_by: None,
                    ..contract.clone()
                };
                order.contracts.insert(contract.contract_id.clone(), created);
            }
        }
        Create::Created
    }

    /// [`super::ContractStore::record_cancel`]: the first tombstone stands.
    pub(super) fn record_cancel(&self, order_id: &str, cause: &str) {
        let mut orders = lock(&self.orders);
        let order = orders.entry(order_id.to_owned()).or_default();
        order.tombstone.get_or_insert_with(|| cause.to_owned());
    }

    /// [`super::ContractStore::record_return`]: the first tombstone of each SKU stands.
    pub(super) fn record_return(&self, order_id: &str, cause: &str, skus: &BTreeSet<String>) {
        let mut orders = lock(&self.orders);
        let order = orders.entry(order_id.to_owned()).or_default();
        for sku in skus {
            order.returned.entry(sku.clone()).or_insert_with(|| cause.to_owned());
        }
    }

    /// [`super::ContractStore::cancel`]: only an existing ACTIVE contract moves to CANCELLED.
    pub(super) fn cancel(&self, contract: &Contract, cause: &str) -> bool {
        let mut orders = lock(&self.orders);
        let stored = orders
            .get_mut(&contract.order_id)
            .and_then(|order| order.contracts.get_mut(&contract.contract_id));
        match stored {
            Some(stored) if stored.status == ContractStatus::Active => {
                stored.status = ContractStatus::Cancelled;
                stored.cancelled_by = Some(cause.to_owned());
                true
            }
            _ => false,
        }
    }

    /// [`super::ContractStore::announce`].
    pub(super) fn announce(&self, contract: &Contract, events: &[Outgoing]) -> Result<(), TableError> {
        let mut orders = lock(&self.orders);
        let stored = orders
            .get_mut(&contract.order_id)
            .and_then(|order| order.contracts.get_mut(&contract.contract_id))
            .ok_or_else(|| TableError::Vanished {
                operation: "UpdateItem",
                table: "contracts".to_owned(),
            })?;
        stored.announced.add(events);
        Ok(())
    }

    /// [`super::ContractStore::order`].
    pub(super) fn order(&self, order_id: &str) -> OrderContracts {
        lock(&self.orders).get(order_id).map(Order::stored).unwrap_or_default()
    }
}
