//! Notifications: sends the customer a receipt for every placed order and a notice for every
//! cancelled warranty or insurance contract, each exactly once.
//!
//! - [`handler`]: the decisions, per event, what each message says, and the
//!   [`Deps`](handler::Deps) they use, built once from the environment (`OUTBOX_TABLE`).
//! - [`sender`]: the [`Sender`](sender::Sender) seam every message goes through, and the
//!   [`OutboxSender`](sender::OutboxSender) that "sends" by writing the outbox.
//! - [`store`]: the outbox (a DynamoDB table, or memory under `herald dev`): one row per
//!   message, written once.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `shop.orders` OrderPlaced v1 and `shop.contracts` ContractCancelled v1 (which carries
//! the customer's email). OrderPlaced v2 is accepted and refused with a typed, non-retryable
//! error: it carries no email address (that would come from the customer service's
//! `GET /customers/{customer_id}`) and no lines for the receipt (the order service's
//! `GET /orders/{order_id}`), neither of which this function is given. Emits no events.
//!
//! Duplicates are stopped twice: the idempotency guard answers a redelivered event from its
//! record, and each message's id is derived from the cause's `event_id` and the message kind, so
//! a redelivery that outlives the guard's record finds the outbox row and sends nothing. Both
//! deduplicate per *event*: the same fact re-published by its producer under a new `event_id`
//! is a new message. That is deliberate — deduplicating on the fact (say, one receipt per
//! order id) would hide a producer's bug and silently drop a legitimate second message of the
//! same kind; the producer must keep `event_id` stable across its own retries.

pub mod error;
pub mod handler;
pub mod sender;
pub mod store;
