//! Inventory: reserves stock for every placed order and releases it, exactly once, when the
//! order is cancelled or returned.
//!
//! - [`handler`]: the decisions, per event.
//! - [`store`]: stock and reservations, in DynamoDB or (under `herald dev`) in memory, each
//!   change all or nothing.
//! - [`config`]: what `main.rs` reads from the environment (tests: from a map).
//! - [`wiring`]: the consumer `main.rs` runs, built from the configuration; tests build the same.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 (v2 is refused: it carries no lines; the lines would be
//! fetched from the order service's `GET /orders/{order_id}`, which this function is not given),
//! OrderCancelled v1 and OrderReturned v1. Emits `shop.inventory` StockReserved v1 or
//! StockShortage v1 for each placed order.

pub mod config;
pub mod error;
pub mod handler;
pub mod store;
pub mod wiring;

/// The function's name: the prefix of its idempotency keys and the producer of its events.
pub const FUNCTION: &str = "inventory";
