//! Inventory's configuration: one immutable struct, read once at cold start.

use herald::env::{MissingVariable, required};

/// Where inventory keeps its state and publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `STOCK_TABLE`: units available and reserved per SKU (key `sku`).
    pub stock_table: String,
    /// `RESERVATIONS_TABLE`: what each order holds (key `order_id`).
    pub reservations_table: String,
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
            stock_table: required("STOCK_TABLE", "stock per SKU")?,
            reservations_table: required("RESERVATIONS_TABLE", "reservations per order")?,
            idempotency_table: required("IDEMPOTENCY_TABLE", "idempotency records")?,
            bus_name: required("EVENT_BUS_NAME", "the bus events are published to")?,
        })
    }
}
