//! Campaigns' configuration: one immutable struct, read once at cold start. The campaign rules
//! and amounts are not configured here but in [`crate::rules::Rules`].

use herald::env::{self, MissingVariable, required_from};
use herald::idempotency::Backend;

/// Where campaigns keeps its state and publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `CAMPAIGN_ORDERS_TABLE`: every customer's placed orders (key `customer_id`, sort key `order_id`).
    pub orders_table: String,
    /// `VOUCHERS_TABLE`: the voucher each qualifying order earned (key `qualifying_order_id`).
    pub vouchers_table: String,
    /// `IDEMPOTENCY_TABLE`: the guard's records.
    pub idempotency_table: String,
    /// `EVENT_BUS_NAME`: the shop's bus.
    pub bus_name: String,
    /// `HERALD_STORES`: `memory` (set by `herald dev`) keeps every table inside the warm process;
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
            orders_table: required_from(lookup, "CAMPAIGN_ORDERS_TABLE", "placed orders per customer")?,
            vouchers_table: required_from(lookup, "VOUCHERS_TABLE", "vouchers per qualifying order")?,
            idempotency_table: required_from(lookup, "IDEMPOTENCY_TABLE", "idempotency records")?,
            bus_name: required_from(lookup, "EVENT_BUS_NAME", "the bus events are published to")?,
            backend: Backend::from_lookup(lookup),
        })
    }
}
