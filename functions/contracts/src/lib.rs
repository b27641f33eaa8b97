//! Contracts: creates a warranty or insurance contract for every order line sold with an add-on,
//! and cancels every active contract of an order, exactly once, when the order is cancelled or
//! returned (contracts used to stay active after both).
//!
//! - [`handler`]: the decisions, per event.
//! - [`store`]: the contracts table (DynamoDB, or memory under `herald dev`), every change
//!   conditional.
//! - [`config`]: what `main.rs` reads from the environment (tests: from a map).
//! - [`wiring`]: the consumer `main.rs` runs, built from the configuration; tests build the same.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 (v2 is refused: it does not say which lines carry
//! add-ons; the lines would be fetched from the order service's `GET /orders/{order_id}`, which
//! this function is not given), OrderCancelled v1 and OrderReturned v1. Emits `shop.contracts`
//! ContractCreated v1 per contract created and ContractCancelled v1 per contract cancelled.

pub mod config;
pub mod error;
pub mod handler;
pub mod store;
pub mod wiring;

/// The function's name: the prefix of its idempotency keys and the producer of its events.
pub const FUNCTION: &str = "contracts";
