//! Fulfillment's configuration: one immutable struct, read once at cold start.

use herald::env::{MissingVariable, required};

/// Where fulfillment keeps its state and publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SHIPMENTS_TABLE`: one shipment (or early-cancel tombstone) per order (key `order_id`).
    pub shipments_table: String,
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
            shipments_table: required("SHIPMENTS_TABLE", "shipments per order")?,
            idempotency_table: required("IDEMPOTENCY_TABLE", "idempotency records")?,
            bus_name: required("EVENT_BUS_NAME", "the bus events are published to")?,
        })
    }
}
