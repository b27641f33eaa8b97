//! Inventory's configuration: one immutable struct, read once at cold start.

use herald::env::{self, MissingVariable, required_from};
use herald::idempotency::Backend;

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
    /// `HERALD_STORES`: `memory` (set by `herald dev`) keeps the stock, the reservations and the
    /// guard's records inside the warm process and never calls DynamoDB, so the three tables
    /// are then only names; unset or anything else (the default, and always on AWS): DynamoDB.
    pub backend: Backend,
    /// `STOCK_SEED` (optional, memory backend only): the units each SKU starts with, as
    /// `SKU=units` pairs separated by commas, e.g. `SKU-LAPTOP-14=5,SKU-MOUSE-01=10`, so a
    /// local run has stock to reserve. Default: none. DynamoDB stock comes from intake instead.
    pub stock_seed: Vec<(String, u32)>,
}

/// Why inventory's configuration cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is missing.
    #[error(transparent)]
    Missing(#[from] MissingVariable),
    /// `STOCK_SEED` has an entry that is not `SKU=units`.
    #[error("STOCK_SEED: `{entry}` is not SKU=units (units a whole number)")]
    BadSeed {
        /// The entry.
        entry: String,
    },
}

impl Config {
    /// Reads every variable from the process environment, as `main.rs` does.
    ///
    /// # Errors
    /// The first missing variable, or a malformed `STOCK_SEED`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env::process)
    }

    /// Reads every variable from `lookup`, e.g. a map of the tables a test created.
    ///
    /// # Errors
    /// The first missing variable, or a malformed `STOCK_SEED`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            stock_table: required_from(lookup, "STOCK_TABLE", "stock per SKU")?,
            reservations_table: required_from(lookup, "RESERVATIONS_TABLE", "reservations per order")?,
            idempotency_table: required_from(lookup, "IDEMPOTENCY_TABLE", "idempotency records")?,
            bus_name: required_from(lookup, "EVENT_BUS_NAME", "the bus events are published to")?,
            backend: Backend::from_lookup(lookup),
            stock_seed: stock_seed(lookup("STOCK_SEED").as_deref().unwrap_or_default())?,
        })
    }
}

fn stock_seed(text: &str) -> Result<Vec<(String, u32)>, ConfigError> {
    env::pairs(text)
        .map_err(|entry| ConfigError::BadSeed { entry })?
        .into_iter()
        .map(|(sku, units)| match units.parse() {
            Ok(units) => Ok((sku, units)),
            Err(_) => Err(ConfigError::BadSeed {
                entry: format!("{sku}={units}"),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stock_seed_reads_as_units_per_sku_and_a_bad_entry_is_named() {
        assert_eq!(
            stock_seed("SKU-A=5, SKU-B=10,"),
            Ok(vec![("SKU-A".to_owned(), 5), ("SKU-B".to_owned(), 10)])
        );
        assert_eq!(stock_seed(""), Ok(Vec::new()));
        assert_eq!(
            stock_seed("SKU-A=five"),
            Err(ConfigError::BadSeed {
                entry: "SKU-A=five".to_owned()
            })
        );
    }
}
