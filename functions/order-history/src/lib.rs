//! Order history: one entry per order event in the customer's history — placed, cancelled,
//! returned — read back in the order the facts happened, whatever order they arrived in.
//!
//! - [`handler`]: the decisions, per event, and the [`Deps`](handler::Deps) they use, built
//!   once from the environment (`HISTORY_TABLE`).
//! - [`store`]: the history (a DynamoDB table, or memory under `herald dev`), one item per
//!   entry, written once.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes every `shop.orders` event: OrderPlaced v1 and v2 (a v1 is read as the v2 summary it
//! contains: the history needs only the total, currency and item count), OrderCancelled v1 and
//! OrderReturned v1. Emits no events.
//!
//! Entries are keyed by the event (`<occurred_at>#<event_id>`), so a redelivered event writes
//! nothing more, while the same fact re-published by its producer under a new `event_id` is a
//! second entry: the history records events as they were published, and a producer must keep
//! `event_id` stable across its own retries.

pub mod error;
pub mod handler;
pub mod store;
