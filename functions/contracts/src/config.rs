//! Contracts' configuration: one immutable struct, read once at cold start.

use herald::env::{self, MissingVariable, required_from};
use herald::idempotency::Backend;

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
    /// `HERALD_STORES`: `memory` (set by `herald dev`) keeps both tables inside the warm process;
    /// anything else, or absent as on AWS, means DynamoDB. Default: DynamoDB.
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
            contracts_table: required_from(lookup, "CONTRACTS_TABLE", "contracts per order")?,
            idempotency_table: required_from(lookup, "IDEMPOTENCY_TABLE", "idempotency records")?,
            bus_name: required_from(lookup, "EVENT_BUS_NAME", "the bus events are published to")?,
            backend: Backend::from_lookup(lookup),
        })
    }
}
