//! Fulfillment: the warehouse. Asks for a shipment once an order's stock is reserved, and cancels
//! that shipment, exactly once, when the order is cancelled before the parcel leaves.
//!
//! - [`handler`]: the decisions, per event, and the [`Deps`](handler::Deps) they use, built
//!   once from the environment (`SHIPMENTS_TABLE`, `EVENT_BUS_NAME`).
//! - [`store`]: the shipments, in DynamoDB or (under `herald dev`) in memory, every change
//!   conditional.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.inventory` StockReserved v1 and `shop.orders` OrderCancelled v1. Emits
//! `shop.fulfillment` ShipmentRequested v1 for each reserved order and ShipmentCancelled v1 for
//! each requested shipment whose order is cancelled before dispatch.

pub mod error;
pub mod handler;
pub mod store;
