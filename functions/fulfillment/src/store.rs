//! The shipments, in DynamoDB or in memory, with the same behaviour in both: one record per
//! order, keyed `order_id`, and every write conditional, so a repeated change is a no-op and a
//! retry finds what the first attempt did.
//!
//! A record holds `shipment_id` (derived from the order, so every attempt names the same one),
//! `customer_id`, `status` (REQUESTED, DISPATCHED, CANCELLED or CANCELLED_EARLY), `lines` (what
//! to ship), `requested_by` (the `event_id` of the StockReserved that requested it) and
//! `cancelled_by` (the `event_id` of the OrderCancelled that cancelled it). The two cause ids
//! tell a retry of the same event, which re-emits, from another event about the same order,
//! which does not; `announced` holds the ids of the events the bus accepted, which nothing
//! re-emits.
//!
//! The table is a [`Table`]: in DynamoDB, or inside the process for `herald dev`. The two
//! conditions, on either:
//! a request or an early cancellation is written only if the order has no record, and a status
//! change only if the shipment is REQUESTED; a refused write returns the record as it stands.

use herald::Outgoing;
use herald::store::{Announced, Change, Key, Table, TableError, s};
use serde::{Deserialize, Serialize};
use shop_events::StockLine;

use crate::error::FulfillmentError;

/// The table's key: the order.
pub const KEY: Key = Key::partition("order_id");

/// Where an order's shipment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
}

/// An order's shipment, or the tombstone of an early cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default)]
    pub lines: Vec<StockLine>,
    /// `event_id` of the StockReserved that requested it; `None` for a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// `event_id` of the OrderCancelled that cancelled it, once cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    /// The events about it that were published.
    #[serde(default, skip_serializing_if = "Announced::is_empty")]
    pub announced: Announced,
}

/// The shipment id of an order: `shp-` and the order's number (`ord-1001` → `shp-1001`), the
/// same on every attempt so a retry finds the shipment the first attempt wrote.
pub fn shipment_id(order_id: &str) -> String {
    format!("shp-{}", order_id.strip_prefix("ord-").unwrap_or(order_id))
}

/// The shipments, in either backend. Clones share the same state.
#[derive(Debug, Clone)]
pub struct ShipmentStore {
    table: Table,
}

impl ShipmentStore {
    /// The shipments in `table` (`SHIPMENTS_TABLE`), keyed by [`KEY`].
    pub fn new(table: Table) -> Self {
        Self { table }
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
            announced: Announced::default(),
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
            announced: Announced::default(),
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
            Change::Missing => Err(missing(order_id)),
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
        self.table.get(order_id).await.map_err(failed(order_id))
    }

    /// Records the shipment's `events` as published.
    ///
    /// # Errors
    /// [`FulfillmentError::Store`] when DynamoDB fails or the record is gone.
    pub async fn announce(&self, order_id: &str, events: &[Outgoing]) -> Result<(), FulfillmentError> {
        self.table
            .announce(order_id, None, events)
            .await
            .map_err(failed(order_id))
    }

    /// Moves a REQUESTED shipment to `to`, recording `cause` as `cancelled_by` when given.
    async fn transition(
        &self,
        order_id: &str,
        to: ShipmentStatus,
        cause: Option<&str>,
    ) -> Result<Change<Shipment>, FulfillmentError> {
        let mut set = vec![("status", s(to.as_str()))];
        set.extend(cause.map(|cause| ("cancelled_by", s(cause))));
        let requested = ("status", ShipmentStatus::Requested.as_str());
        self.table
            .update_if(order_id, requested, &set)
            .await
            .map_err(failed(order_id))
    }

    /// Writes the record unless the order has one; returns the existing one if so.
    async fn put_if_absent(&self, shipment: Shipment) -> Result<Option<Shipment>, FulfillmentError> {
        self.table
            .insert_or_get(&shipment)
            .await
            .map_err(failed(&shipment.order_id))
    }
}

/// The table's error, for the order it was about.
fn failed(order_id: &str) -> impl FnOnce(TableError) -> FulfillmentError {
    let order_id = order_id.to_owned();
    move |source| FulfillmentError::Store { order_id, source }
}

/// A conditional write failed, yet the record it collided with cannot be read.
fn missing(order_id: &str) -> FulfillmentError {
    FulfillmentError::Inconsistent {
        operation: "GetItem",
        order_id: order_id.to_owned(),
        reason: "a conditional write failed but the shipment record cannot be read",
    }
}
