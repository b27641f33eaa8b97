//! Inventory: reserves stock for every placed order and releases it, exactly once, when the
//! order is cancelled or returned.
//!
//! - [`handler`]: the decisions, per event, and the [`Deps`](handler::Deps) they use, built
//!   once from the environment (`STOCK_TABLE`, `RESERVATIONS_TABLE`, `EVENT_BUS_NAME`,
//!   `STOCK_SEED`).
//! - [`store`]: stock and reservations, in DynamoDB or (under `herald dev`) in memory, each
//!   change all or nothing.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 (v2 is refused: it carries no lines; the lines would be
//! fetched from the order service's `GET /orders/{order_id}`, which this function is not given),
//! OrderCancelled v1 and OrderReturned v1. Emits `shop.inventory` StockReserved v1 or
//! StockShortage v1 for each placed order.

pub mod error;
pub mod handler;
pub mod store;
