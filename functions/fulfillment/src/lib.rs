//! Fulfillment: the warehouse. Asks for a shipment once an order's stock is reserved, and cancels
//! that shipment, exactly once, when the order is cancelled before the parcel leaves.
//!
//! - [`handler`]: the decisions, per event.
//! - [`store`]: the shipments, in DynamoDB or (under `herald dev`) in memory, every change
//!   conditional.
//! - [`config`]: what `main.rs` reads from the environment (tests: from a map).
//! - [`wiring`]: the consumer `main.rs` runs, built from the configuration; tests build the same.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.inventory` StockReserved v1 and `shop.orders` OrderCancelled v1. Emits
//! `shop.fulfillment` ShipmentRequested v1 for each reserved order and ShipmentCancelled v1 for
//! each requested shipment whose order is cancelled before dispatch.

pub mod config;
pub mod error;
pub mod handler;
pub mod store;
pub mod wiring;

/// The function's name: the prefix of its idempotency keys and the producer of its events.
pub const FUNCTION: &str = "fulfillment";
