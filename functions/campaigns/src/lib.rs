//! Campaigns: records every placed order per customer and issues exactly one voucher for each
//! order that meets a campaign rule — the customer's third order within the window, or the order
//! whose window total crosses the big-spender threshold.
//!
//! - [`handler`]: the decisions, per event, and the [`Deps`](handler::Deps) they use, built
//!   once from the environment (`CAMPAIGN_ORDERS_TABLE`, `VOUCHERS_TABLE`, `EVENT_BUS_NAME`).
//! - [`rules`]: the campaign rules and amounts ([`rules::Rules`], immutable, with documented
//!   defaults) and their pure evaluation over a customer's orders.
//! - [`store`]: the customer-orders and voucher tables (DynamoDB, or memory under
//!   `herald dev`), every write conditional.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 and v2: both carry all it needs (customer, order id,
//! total, currency, and the event's `occurred_at` as the moment the order was placed), so v1 is
//! upcast to v2. Emits `shop.campaigns` VoucherIssued v1 for each qualifying order, once.

pub mod error;
pub mod handler;
pub mod rules;
pub mod store;
