//! Campaigns: records every placed order per customer and issues exactly one voucher for each
//! order that meets a campaign rule — the customer's third order within the window, or the order
//! whose window total crosses the big-spender threshold.
//!
//! - [`handler`]: the decisions, per event.
//! - [`rules`]: the campaign rules and amounts ([`rules::Rules`], immutable, with documented
//!   defaults) and their pure evaluation over a customer's orders.
//! - [`store`]: the customer-orders and voucher tables (DynamoDB, or memory under
//!   `herald dev`), every write conditional.
//! - [`config`]: what `main.rs` reads from the environment (tests: from a map).
//! - [`wiring`]: the consumer `main.rs` runs, built from the configuration; tests build the same.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 and v2: both carry all it needs (customer, order id,
//! total, currency, and the event's `occurred_at` as the moment the order was placed), so v1 is
//! upcast to v2. Emits `shop.campaigns` VoucherIssued v1 for each qualifying order, once.

pub mod config;
pub mod error;
pub mod handler;
pub mod rules;
pub mod store;
pub mod wiring;

/// The function's name: the prefix of its idempotency keys and the producer of its events.
pub const FUNCTION: &str = "campaigns";
