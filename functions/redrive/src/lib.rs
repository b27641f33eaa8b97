//! Redrive: when a consumer's error alarm returns to OK — the consumer is healthy again — put
//! the events waiting in its dead-letter queue back on their bus, bounded per run.
//!
//! - [`handler`]: the decision, per CloudWatch "Alarm State Change" event.
//! - [`config`]: which alarm watches which queue, the bus, the bound.
//! - [`wiring`]: the clients, built once; tests build the same.
//! - [`error`]: every failure, retryable or not.
//!
//! The redrive itself is [`herald_ops::redrive`], the same code as `herald redrive`: a message
//! is deleted only once its event was accepted by the bus, the events keep their `event_id`
//! (consumers that completed one do not run it again; one whose record is FAILED does), and a
//! second run after a partial one is safe.
//!
//! No idempotency guard: a repeated alarm event redrives whatever is still in the queue, which
//! is exactly what a first run would do.

pub mod config;
pub mod error;
pub mod handler;
pub mod wiring;

/// The function's name, in logs.
pub const FUNCTION: &str = "redrive";
