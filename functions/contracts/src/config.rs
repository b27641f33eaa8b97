//! Contracts' configuration: one immutable struct, read once at cold start.

use herald::env::{MissingVariable, required};

/// Where contracts keeps its state and publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `CONTRACTS_TABLE`: an order's contracts and its cancellation tombstone (keys `order_id`,
    /// `contract_id`).
    pub contracts_table: String,
    /// `IDEMPOTENCY_TABLE`: the guard's records.
    pub idempotency_table: String,
    /// `EVENT_BUS_NAME`: the shop's bus.
    pub bus_name: String,
}

impl Config {
    /// Reads every variable.
    ///
    /// # Errors
    /// The first missing variable.
    pub fn from_env() -> Result<Self, MissingVariable> {
        Ok(Self {
            contracts_table: required("CONTRACTS_TABLE", "contracts per order")?,
            idempotency_table: required("IDEMPOTENCY_TABLE", "idempotency records")?,
            bus_name: required("EVENT_BUS_NAME", "the bus events are published to")?,
        })
    }
}
