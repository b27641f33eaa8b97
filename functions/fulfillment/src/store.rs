//! The shipments table: one item per order, keyed `order_id`. Every write is conditional, so a
//! repeated change is a no-op and a retry finds what the first attempt did.
//!
//! An item holds `shipment_id` (derived from the order, so every attempt names the same one),
//! `customer_id`, `status` (REQUESTED, DISPATCHED, CANCELLED or CANCELLED_EARLY), `lines` (what
//! to ship), `requested_by` (the `event_id` of the StockReserved that requested it) and
//! `cancelled_by` (the `event_id` of the OrderCancelled that cancelled it). The two cause ids
//! tell a retry of the same event, which re-emits, from another event about the same order,
//! which does not.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use shop_events::StockLine;

use crate::error::FulfillmentError;

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

type Item = HashMap<String, AttributeValue>;

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

/// The shipments table.
#[derive(Debug, Clone)]
pub struct ShipmentStore {
    client: Client,
    table: String,
}

impl ShipmentStore {
    /// A store over the shipments table.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
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
        self.put_if_absent(&Shipment {
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
        self.put_if_absent(&Shipment {
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
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, context(e)))?;
        output.item().map(|item| shipment_from(order_id, item)).transpose()
    }

    /// Moves a REQUESTED shipment to `to`, recording `cause` as `cancelled_by` when given.
    async fn transition(
        &self,
        order_id: &str,
        to: ShipmentStatus,
        cause: Option<&str>,
    ) -> Result<Change, FulfillmentError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .condition_expression("#status = :requested")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().to_owned()))
            .expression_attribute_values(
                ":requested",
                AttributeValue::S(ShipmentStatus::Requested.as_str().to_owned()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        update = match cause {
            Some(cause) => update
                .update_expression("SET #status = :to, #cancelled_by = :cause")
                .expression_attribute_names("#cancelled_by", attr::CANCELLED_BY)
                .expression_attribute_values(":cause", AttributeValue::S(cause.to_owned())),
            None => update.update_expression("SET #status = :to"),
        };
        match update.send().await {
            Ok(_) => Ok(Change::Done),
            Err(error) => match error.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => match failed.item() {
                    Some(item) => Ok(Change::Refused(shipment_from(order_id, item)?)),
                    // No old item: the order has no record, or the service did not return it.
                    None => Ok(self.shipment(order_id).await?.map_or(Change::NoRecord, Change::Refused)),
                },
                other => Err(store_error("UpdateItem", order_id, context(other))),
            },
        }
    }

    /// Writes the record unless the order has one; returns the existing one if so.
    async fn put_if_absent(&self, shipment: &Shipment) -> Result<Option<Shipment>, FulfillmentError> {
        let order_id = shipment.order_id.as_str();
        let lines = shipment
            .lines
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    (attr::SKU.to_owned(), AttributeValue::S(l.sku.clone())),
                    (attr::QUANTITY.to_owned(), AttributeValue::N(l.quantity.to_string())),
                ]))
            })
            .collect();
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::ORDER_ID, AttributeValue::S(shipment.order_id.clone()))
            .item(attr::SHIPMENT_ID, AttributeValue::S(shipment.shipment_id.clone()))
            .item(attr::CUSTOMER_ID, AttributeValue::S(shipment.customer_id.clone()))
            .item(attr::STATUS, AttributeValue::S(shipment.status.as_str().to_owned()))
            .item(attr::LINES, AttributeValue::L(lines))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(cause) = &shipment.requested_by {
            put = put.item(attr::REQUESTED_BY, AttributeValue::S(cause.clone()));
        }
        if let Some(cause) = &shipment.cancelled_by {
            put = put.item(attr::CANCELLED_BY, AttributeValue::S(cause.clone()));
        }
        match put.send().await {
            Ok(_) => Ok(None),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(existing) => match existing.item() {
                    Some(item) => Ok(Some(shipment_from(order_id, item)?)),
                    None => self
                        .shipment(order_id)
                        .await?
                        .map(Some)
                        .ok_or_else(|| missing(order_id)),
                },
                other => Err(store_error("PutItem", order_id, context(other))),
            },
        }
    }
}

fn shipment_from(order_id: &str, item: &Item) -> Result<Shipment, FulfillmentError> {
    let corrupt = |reason: &str| FulfillmentError::CorruptShipment {
        order_id: order_id.to_owned(),
        reason: reason.to_owned(),
    };
    let text = |map: &Item, name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
    let status = text(item, attr::STATUS)
        .as_deref()
        .and_then(ShipmentStatus::parse)
        .ok_or_else(|| corrupt("missing or unknown status"))?;
    let lines = item
        .get(attr::LINES)
        .and_then(|v| v.as_l().ok())
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|v| {
            let line = v.as_m().ok()?;
            Some(StockLine {
                sku: text(line, attr::SKU)?,
                quantity: line.get(attr::QUANTITY)?.as_n().ok()?.parse().ok()?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("a line lacks sku or quantity"))?;
    Ok(Shipment {
        order_id: order_id.to_owned(),
        shipment_id: text(item, attr::SHIPMENT_ID).ok_or_else(|| corrupt("missing shipment_id"))?,
        customer_id: text(item, attr::CUSTOMER_ID).unwrap_or_default(),
        status,
        lines,
        requested_by: text(item, attr::REQUESTED_BY),
        cancelled_by: text(item, attr::CANCELLED_BY),
    })
}

/// A conditional write failed, yet the record it collided with cannot be read.
fn missing(order_id: &str) -> FulfillmentError {
    store_error(
        "GetItem",
        order_id,
        "a conditional write failed but the shipment record cannot be read".to_owned(),
    )
}

fn store_error(operation: &'static str, order_id: &str, message: String) -> FulfillmentError {
    FulfillmentError::Store {
        operation,
        order_id: order_id.to_owned(),
        message,
    }
}

/// The SDK's error with its whole context, for messages.
fn context(error: impl std::error::Error) -> String {
    DisplayErrorContext(error).to_string()
}
