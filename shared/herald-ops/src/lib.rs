//! Operating Herald consumers once something went wrong, or a new consumer arrived:
//!
//! - [`redrive`]: read an EventBridge target dead-letter queue (or a Lambda on-failure
//!   destination queue), summarise it by rule and error, and put the original events back on
//!   their bus, deleting a message only once its event was accepted;
//! - [`replay`]: replay an archive's events of a time window to chosen rules only, following the
//!   replay to its end and cancelling it on request.
//!
//! Both keep every event's `metadata.event_id`, so consumers that completed an event answer it
//! from their idempotency record; see [`herald::consumer`] for how replays and redrives re-run
//! FAILED events, and how a reprocess re-runs completed ones.
//!
//! The `herald` command (`herald replay`, `herald redrive`) and the `redrive` function are thin
//! shells over this crate.

pub mod error;
pub mod redrive;
pub mod replay;

pub use error::OpsError;
