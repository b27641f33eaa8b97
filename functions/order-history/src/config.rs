//! Order history's configuration: one immutable struct, read once at cold start.

use herald::env::{MissingVariable, required};

/// Where order history keeps its state. It publishes nothing, so it reads no bus name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `HISTORY_TABLE`: the entries (key `customer_id`, sort key `entry`).
    pub history_table: String,
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
            history_table: required("HISTORY_TABLE", "order history per customer")?,
            idempotency_table: required("IDEMPOTENCY_TABLE", "idempotency records")?,
        })
    }
}
