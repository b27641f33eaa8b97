//! Notifications' configuration: one immutable struct, read once at cold start.

use herald::env::{MissingVariable, required};

/// Where notifications keeps its state. It publishes nothing, so it reads no bus name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `OUTBOX_TABLE`: every message sent (key `message_id`).
    pub outbox_table: String,
    /// `IDEMPOTENCY_TABLE`: the guard's records.
    pub idempotency_table: String,
}

impl Config {
    /// Reads every variable.
    ///
    /// # Errors
    /// The first missing variable.
    pub fn from_env() -> Result<Self, MissingVariable> {
        Ok(Self {
            outbox_table: required("OUTBOX_TABLE", "messages sent, one row each")?,
            idempotency_table: required("IDEMPOTENCY_TABLE", "idempotency records")?,
        })
    }
}
