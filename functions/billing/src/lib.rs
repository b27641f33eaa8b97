//! Billing: keeps a snapshot of every placed order and, when its payment is captured, issues
//! exactly one invoice whose lines add up to what was paid.
//!
//! - [`handler`]: the decisions, per event, and how an order becomes invoice lines; and the
//!   [`Deps`](handler::Deps) they use, built once from the environment (`BILLING_ORDERS_TABLE`,
//!   `INVOICES_TABLE`, `EVENT_BUS_NAME`).
//! - [`store`]: the order-snapshot and invoice tables (DynamoDB, or memory under `herald dev`),
//!   every write conditional.
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

pub mod error;
pub mod handler;
pub mod store;
