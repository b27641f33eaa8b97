//! The shipments, in DynamoDB or in memory, with the same behaviour in both: one record per
//! order, keyed `order_id`, and every write conditional, so a repeated change is a no-op and a
//! retry finds what the first attempt did.
//!
//! A record holds `shipment_id` (derived from the order, so every attempt names the same one),
//! `customer_id`, `status` (REQUESTED, DISPATCHED, CANCELLED or CANCELLED_EARLY), `lines` (what
//! to ship), `requested_by` (the `event_id` of the StockReserved that requested it) and
//! `cancelled_by` (the `event_id` of the OrderCancelled that cancelled it). The two cause ids
//! tell a retry of the same event, which re-emits, from another event about the same order,
//! which does not.
//!
//! [`ShipmentStore::new`] keeps them in a DynamoDB table (`dynamodb`); [`ShipmentStore::memory`]
//! keeps them inside the process (`memory`) for `herald dev`. The two conditions, on either:
//! a request or an early cancellation is written only if the order has no record, and a status
//! change only if the shipment is REQUESTED; a refused write returns the record as it stands.

mod dynamodb;
mod memory;

use aws_sdk_dynamodb::Client;
use herald::store::Stored;
use shop_events::StockLine;

use crate::error::FulfillmentError;
use dynamodb::Tables;
use memory::Memory;

/// Attribute names, in one place.
pub mod attr {
    /// Shipment key.
    pub const ORDER_ID: &str = "order_id";
    /// The shipment's id, e.g. `shp-1001`.
    pub const SHIPMENT_ID: &str = "shipment_id";
    /// The order's customer.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Shipment status.
    pub const STATUS: &str = "status";
    /// What to ship: a list of `{sku, quantity}` maps.
    pub const LINES: &str = "lines";
    /// Line field: the SKU.
    pub const SKU: &str = "sku";
    /// Line field: the units.
    pub const QUANTITY: &str = "quantity";
    /// `event_id` of the StockReserved that requested the shipment.
    pub const REQUESTED_BY: &str = "requested_by";
    /// `event_id` of the OrderCancelled that cancelled the shipment (or left the tombstone).
    pub const CANCELLED_BY: &str = "cancelled_by";
}

/// Where an order's shipment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentStatus {
    /// The warehouse was asked to ship it.
    Requested,
    /// It left the warehouse; it can no longer be cancelled.
    Dispatched,
    /// It was cancelled before dispatch.
    Cancelled,
    /// The order was cancelled before its stock was reserved; a later StockReserved requests
    /// nothing.
    CancelledEarly,
}

impl ShipmentStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Dispatched => "DISPATCHED",
            Self::Cancelled => "CANCELLED",
            Self::CancelledEarly => "CANCELLED_EARLY",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Requested, Self::Dispatched, Self::Cancelled, Self::CancelledEarly]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// An order's shipment, or the tombstone of an early cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// The order.
    pub order_id: String,
    /// The shipment, derived from the order by [`shipment_id`].
    pub shipment_id: String,
    /// The order's customer.
    pub customer_id: String,
    /// Where it stands.
    pub status: ShipmentStatus,
    /// What to ship; empty for a tombstone.
    pub lines: Vec<StockLine>,
    /// `event_id` of the StockReserved that requested it; `None` for a tombstone.
    pub requested_by: Option<String>,
    /// `event_id` of the OrderCancelled that cancelled it, once cancelled.
    pub cancelled_by: Option<String>,
}

/// The shipment id of an order: `shp-` and the order's number (`ord-1001` → `shp-1001`), the
/// same on every attempt so a retry finds the shipment the first attempt wrote.
pub fn shipment_id(order_id: &str) -> String {
    format!("shp-{}", order_id.strip_prefix("ord-").unwrap_or(order_id))
}

/// What a conditional status change found.
enum Change {
    /// The shipment was REQUESTED and moved.
    Done,
    /// The shipment was in another status; here as it stands.
    Refused(Shipment),
    /// The order has no record.
    NoRecord,
}

/// The shipments, in either backend. Clones share the same state.
#[derive(Debug, Clone)]
pub struct ShipmentStore {
    storage: Stored<Tables, Memory>,
}

impl ShipmentStore {
    /// A store over the shipments table in DynamoDB.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            storage: Stored::Dynamo(Tables::new(client, table)),
        }
    }

    /// An empty store in this process's memory.
    pub fn memory() -> Self {
        Self {
            storage: Stored::Memory(Memory::default()),
        }
    }

    /// Records a REQUESTED shipment unless the order has a record already; returns the existing
    /// record if so (a retry, another event for the order, or an early cancellation).
    ///
    /// # Errors
    /// [`FulfillmentError::Store`] when DynamoDB fails; `CorruptShipment` for an unreadable record.
    pub async fn request(
        &self,
        order_id: &str,
        customer_id: &str,
        lines: &[StockLine],
        cause: &str,
    ) -> Result<Option<Shipment>, FulfillmentError> {
        self.put_if_absent(Shipment {
            order_id: order_id.to_owned(),
            shipment_id: shipment_id(order_id),
            customer_id: customer_id.to_owned(),
            status: ShipmentStatus::Requested,
            lines: lines.to_vec(),
            requested_by: Some(cause.to_owned()),
            cancelled_by: None,
        })
        .await
    }

    /// Records that the order was cancelled before any shipment was requested, so a late
    /// StockReserved requests nothing. Returns the record that exists instead, if any.
    ///
    /// # Errors
    /// [`FulfillmentError::Store`] when DynamoDB fails; `CorruptShipment` for an unreadable record.
    pub async fn record_early_cancel(
        &self,
        order_id: &str,
        customer_id: &str,
        cause: &str,
    ) -> Result<Option<Shipment>, FulfillmentError> {
        self.put_if_absent(Shipment {
            order_id: order_id.to_owned(),
            shipment_id: shipment_id(order_id),
            customer_id: customer_id.to_owned(),
            status: ShipmentStatus::CancelledEarly,
            lines: Vec::new(),
            requested_by: None,
            cancelled_by: Some(cause.to_owned()),
        })
        .await
    }

    /// Moves a REQUESTED shipment to CANCELLED, naming the cancelling event. Returns `None` when
    /// it did, or the record as it stands when it was no longer REQUESTED.
    ///
    /// # Errors
    /// [`FulfillmentError::Store`] when DynamoDB fails; `CorruptShipment` for an unreadable record.
    pub async fn cancel(&self, order_id: &str, cause: &str) -> Result<Option<Shipment>, FulfillmentError> {
        match self
            .transition(order_id, ShipmentStatus::Cancelled, Some(cause))
            .await?
        {
            Change::Done => Ok(None),
            Change::Refused(current) => Ok(Some(current)),
            // Records are never deleted: a REQUESTED shipment that vanished is the store's fault.
            Change::NoRecord => Err(missing(order_id)),
        }
    }

    /// The warehouse scanner's action: moves a REQUESTED shipment to DISPATCHED. Returns false
    /// when it was not REQUESTED (no record, already dispatched, or cancelled). Used by tests
    /// and the local bus.
    ///
    /// # Errors
    /// [`FulfillmentError::Store`] when DynamoDB fails; `CorruptShipment` for an unreadable record.
    pub async fn mark_dispatched(&self, order_id: &str) -> Result<bool, FulfillmentError> {
        Ok(matches!(
            self.transition(order_id, ShipmentStatus::Dispatched, None).await?,
            Change::Done
        ))
    }

    /// The order's shipment record, if it has one.
    ///
    /// # Errors
    /// [`FulfillmentError::Store`] when DynamoDB fails; `CorruptShipment` for an unreadable record.
    pub async fn shipment(&self, order_id: &str) -> Result<Option<Shipment>, FulfillmentError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.shipment(order_id).await,
            Stored::Memory(memory) => Ok(memory.shipment(order_id)),
        }
    }

    /// Moves a REQUESTED shipment to `to`, recording `cause` as `cancelled_by` when given.
    async fn transition(
        &self,
        order_id: &str,
        to: ShipmentStatus,
        cause: Option<&str>,
    ) -> Result<Change, FulfillmentError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.transition(order_id, to, cause).await,
            Stored::Memory(memory) => Ok(memory.transition(order_id, to, cause)),
        }
    }

    /// Writes the record unless the order has one; returns the existing one if so.
    async fn put_if_absent(&self, shipment: Shipment) -> Result<Option<Shipment>, FulfillmentError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.put_if_absent(&shipment).await,
            Stored::Memory(memory) => Ok(memory.put_if_absent(shipment)),
        }
    }
}

/// A conditional write failed, yet the record it collided with cannot be read.
fn missing(order_id: &str) -> FulfillmentError {
    FulfillmentError::Inconsistent {
        operation: "GetItem",
        order_id: order_id.to_owned(),
        reason: "a conditional write failed but the shipment record cannot be read",
    }
}
