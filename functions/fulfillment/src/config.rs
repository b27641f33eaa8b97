//! Fulfillment's configuration: one immutable struct, read once at cold start.

use herald::env::{self, MissingVariable, required_from};
use herald::idempotency::Backend;

/// Where fulfillment keeps its state and publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SHIPMENTS_TABLE`: one shipment (or early-cancel tombstone) per order (key `order_id`).
    pub shipments_table: String,
    /// `IDEMPOTENCY_TABLE`: the guard's records.
    pub idempotency_table: String,
    /// `EVENT_BUS_NAME`: the shop's bus.
    pub bus_name: String,
    /// `HERALD_STORES`: `memory` (set by `herald dev`) keeps the shipments and the guard's
    /// records inside the warm process and never calls DynamoDB, so the two tables are then
    /// only names; unset or anything else (the default, and always on AWS): DynamoDB.
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
            shipments_table: required_from(lookup, "SHIPMENTS_TABLE", "shipments per order")?,
            idempotency_table: required_from(lookup, "IDEMPOTENCY_TABLE", "idempotency records")?,
            bus_name: required_from(lookup, "EVENT_BUS_NAME", "the bus events are published to")?,
            backend: Backend::from_lookup(lookup),
        })
    }
}
