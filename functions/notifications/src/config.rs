//! Notifications' configuration: one immutable struct, read once at cold start.

use herald::env::{self, MissingVariable, required_from};
use herald::idempotency::Backend;

/// Where notifications keeps its state. It publishes nothing, so it reads no bus name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `OUTBOX_TABLE`: every message sent (key `message_id`).
    pub outbox_table: String,
    /// `IDEMPOTENCY_TABLE`: the guard's records.
    pub idempotency_table: String,
    /// `HERALD_STORES`: `memory` (set by `herald dev`) keeps the outbox and the guard's records
    /// in this process, and the tables above are never called; unset (as in AWS) or anything
    /// else: DynamoDB, the default.
    pub backend: Backend,
}

impl Config {
    /// Reads every variable from the process environment, as `main.rs` does.
    ///
    /// # Errors
    /// The first missing variable.
    pub fn from_env() -> Result<Self, MissingVariable> {
        Self::from_lookup(&env::process)
    }

    /// Reads every variable from `lookup`, e.g. a map of the tables a test created.
    ///
    /// # Errors
    /// The first missing variable.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, MissingVariable> {
        Ok(Self {
            outbox_table: required_from(lookup, "OUTBOX_TABLE", "messages sent, one row each")?,
            idempotency_table: required_from(lookup, "IDEMPOTENCY_TABLE", "idempotency records")?,
            backend: Backend::from_lookup(lookup),
        })
    }
}
