//! Contracts: creates a warranty or insurance contract for every order line sold with an add-on,
//! and cancels every active contract of an order, exactly once, when the order is cancelled or
//! returned (contracts used to stay active after both).
//!
//! - [`handler`]: the decisions, per event, and the [`Deps`](handler::Deps) they use, built
//!   once from the environment (`CONTRACTS_TABLE`, `EVENT_BUS_NAME`).
//! - [`store`]: the contracts table (DynamoDB, or memory under `herald dev`), every change
//!   conditional.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 (v2 is refused: it does not say which lines carry
//! add-ons; the lines would be fetched from the order service's `GET /orders/{order_id}`, which
//! this function is not given), OrderCancelled v1 and OrderReturned v1. Emits `shop.contracts`
//! ContractCreated v1 per contract created and ContractCancelled v1 per contract cancelled.

pub mod error;
pub mod handler;
pub mod store;
