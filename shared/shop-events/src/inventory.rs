//! Facts from the inventory service, source `shop.inventory`.
//!
//! Inventory answers every placed order with exactly one of [`StockReservedV1`] or
//! [`StockShortageV1`].

use herald::EventDetail;
use serde::{Deserialize, Serialize};

/// The inventory service's EventBridge source.
pub const SOURCE: &str = "shop.inventory";

/// Stock for every line of an order was reserved and is held for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReservedV1 {
    /// The order, e.g. `ord-1001`.
    pub order_id: String,
    /// Its customer, e.g. `cus-42`.
    pub customer_id: String,
    /// What is held, one line per SKU; never empty.
    pub lines: Vec<StockLine>,
}

impl EventDetail for StockReservedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "StockReserved";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// A number of units of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    /// Stock keeping unit, e.g. `SKU-LAPTOP-14`.
    pub sku: String,
    /// Units; at least 1.
    pub quantity: u32,
}

/// An order could not be reserved: some SKUs have too few units, so nothing is held for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockShortageV1 {
    /// The order, e.g. `ord-1002`.
    pub order_id: String,
    /// Its customer, e.g. `cus-77`.
    pub customer_id: String,
    /// Only the SKUs that are short; never empty.
    pub short: Vec<ShortLine>,
}

impl EventDetail for StockShortageV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "StockShortage";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// One SKU with fewer units on hand than the order needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortLine {
    /// Stock keeping unit, e.g. `SKU-PHONE-X`.
    pub sku: String,
    /// Units the order needs; at least 1.
    pub requested: u32,
    /// Units on hand when the reservation was tried; less than `requested`.
    pub available: u32,
}
