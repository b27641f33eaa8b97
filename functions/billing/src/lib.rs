//! Billing: keeps a snapshot of every placed order and, when its payment is captured, issues
//! exactly one invoice whose lines add up to what was paid.
//!
//! - [`handler`]: the decisions, per event, and how an order becomes invoice lines.
//! - [`store`]: the order-snapshot and invoice tables (DynamoDB, or memory under `herald dev`),
//!   every write conditional.
//! - [`config`]: what `main.rs` reads from the environment (tests: from a map).
//! - [`wiring`]: the consumer `main.rs` runs, built from the configuration; tests build the same.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 and v2, and `shop.payments` PaymentCaptured v1. Emits
//! `shop.billing` InvoiceIssued v1 once per paid order.
//!
//! A v1 order is invoiced line by line: each item, each add-on, tax and shipping. A v2 order is
//! thin (ids and a total): it is invoiced as one line `Order <order_id>` with its total rather
//! than guessing lines; the itemised lines would come from the order service's
//! `GET /orders/{order_id}`, which billing is not given.
//!
//! Events are unordered: a payment that arrives before its order fails with a retryable error,
//! and the retry finds the order.

pub mod config;
pub mod error;
pub mod handler;
pub mod store;
pub mod wiring;

/// The function's name: the prefix of its idempotency keys and the producer of its events.
pub const FUNCTION: &str = "billing";
