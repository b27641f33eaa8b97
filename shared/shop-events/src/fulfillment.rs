//! Facts from the fulfillment service, source `shop.fulfillment`.

use herald::EventDetail;
use serde::{Deserialize, Serialize};

use crate::inventory::StockLine;

/// The fulfillment service's EventBridge source.
pub const SOURCE: &str = "shop.fulfillment";

/// The warehouse was asked to ship an order's reserved stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentRequestedV1 {
    /// The shipment, e.g. `shp-1001`.
    pub shipment_id: String,
    /// The order shipped, e.g. `ord-1001`.
    pub order_id: String,
    /// Who receives it, e.g. `cus-42`.
    pub customer_id: String,
    /// What to ship; never empty.
    pub lines: Vec<StockLine>,
}

impl EventDetail for ShipmentRequestedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "ShipmentRequested";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// A requested shipment was cancelled and will not leave the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentCancelledV1 {
    /// The shipment, e.g. `shp-1001`.
    pub shipment_id: String,
    /// The order it belonged to.
    pub order_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Why it was cancelled.
    pub reason: ShipmentCancelReason,
}

impl EventDetail for ShipmentCancelledV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "ShipmentCancelled";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// Why a shipment was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentCancelReason {
    /// Its order was cancelled.
    OrderCancelled,
}
