//! The shipments in this process's memory, for `herald dev`. Each write holds one lock while it
//! checks its condition and writes, so it is as conditional as the DynamoDB write it stands for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use herald::store::lock;

use super::{Change, Shipment, ShipmentStatus};

/// The shipments by order. Clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    /// One record per order, never removed: a later event about the order finds it.
    shipments: Arc<Mutex<BTreeMap<String, Shipment>>>,
}

impl Memory {
    pub(super) fn shipment(&self, order_id: &str) -> Option<Shipment> {
        lock(&self.shipments).get(order_id).cloned()
    }

    /// Moves a REQUESTED shipment to `to`, recording `cause` as `cancelled_by` when given.
    pub(super) fn transition(&self, order_id: &str, to: ShipmentStatus, cause: Option<&str>) -> Change {
        let mut shipments = lock(&self.shipments);
        match shipments.get_mut(order_id) {
            None => Change::NoRecord,
            Some(current) if current.status != ShipmentStatus::Requested => Change::Refused(current.clone()),
            Some(current) => {
                current.status = to;
                if let Some(cause) = cause {
                    current.cancelled_by = Some(cause.to_owned());
                }
                Change::Done
            }
        }
    }

    /// Writes the record unless the order has one; returns the existing one if so.
    pub(super) fn put_if_absent(&self, shipment: Shipment) -> Option<Shipment> {
        let mut shipments = lock(&self.shipments);
        match shipments.get(&shipment.order_id) {
            Some(existing) => Some(existing.clone()),
            None => {
                shipments.insert(shipment.order_id.clone(), shipment);
                None
            }
        }
    }
}
