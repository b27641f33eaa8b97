//! Facts from the order system, source `shop.orders`.
//!
//! Money is always an integer amount in minor units (cents) of the order's `currency`.

use herald::{EventDetail, Sensitive};
use serde::{Deserialize, Serialize};

/// The order system's EventBridge source.
pub const SOURCE: &str = "shop.orders";

/// An order was placed. Version 1 is "fat": it carries the customer, every line and the totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlacedV1 {
    /// The order, e.g. `ord-1001`.
    pub order_id: String,
    /// Who ordered.
    pub customer: Customer,
    /// What was ordered; never empty.
    pub items: Vec<LineItem>,
    /// The order's totals.
    pub totals: Totals,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Where the order is shipped; absent for orders collected in a store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
}

impl EventDetail for OrderPlacedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// An order was placed. Version 2 is "thin": ids and a summary; consumers that need the lines or
/// the customer's email must fetch them from the order system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlacedV2 {
    /// The order, e.g. `ord-1003`.
    pub order_id: String,
    /// The customer, e.g. `cus-42`.
    pub customer_id: String,
    /// The order's total, tax and shipping included.
    pub total_minor: u64,
    /// ISO 4217 code of the total.
    pub currency: String,
    /// Units ordered across all lines.
    pub item_count: u32,
}

impl EventDetail for OrderPlacedV2 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 2;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// A v1 event carries everything v2 does: consumers that only need the summary read both
/// versions as v2 with `(OrderPlacedV1, OrderPlacedV2)`. The item count saturates at `u32::MAX`
/// rather than overflow (no real order comes near it; a forged one must not panic a consumer).
impl From<OrderPlacedV1> for OrderPlacedV2 {
    fn from(v1: OrderPlacedV1) -> Self {
        Self {
            item_count: v1
                .items
                .iter()
                .fold(0, |count: u32, item| count.saturating_add(item.quantity)),
            order_id: v1.order_id,
            customer_id: v1.customer.customer_id,
            total_minor: v1.totals.total_minor,
            currency: v1.currency,
        }
    }
}

/// The customer of a fat order event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// e.g. `cus-42`.
    pub customer_id: String,
    /// Where receipts go. Redacted in logs.
    pub email: Sensitive<String>,
    /// Display name.
    pub name: String,
}

/// A postal address. The customer's personal data: every field but the country is redacted in
/// logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street and number, e.g. `12 Marylebone Road`.
    pub street: Sensitive<String>,
    /// Postal code.
    pub postal_code: Sensitive<String>,
    /// City.
    pub city: Sensitive<String>,
    /// ISO 3166-1 alpha-2 country code, e.g. `GB`.
    pub country: String,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// Stock keeping unit, e.g. `SKU-LAPTOP-14`.
    pub sku: String,
    /// Product name at the time of ordering.
    pub name: String,
    /// Units ordered; at least 1.
    pub quantity: u32,
    /// Price of one unit.
    pub unit_price_minor: u64,
    /// A warranty or insurance sold with the line, one per unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_on: Option<AddOn>,
}

/// A warranty or insurance contract sold with a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddOn {
    /// Warranty or insurance.
    pub kind: AddOnKind,
    /// The plan's name, e.g. `extended-3y`.
    pub plan: String,
    /// How long the contract runs.
    pub term_months: u32,
    /// Price of the add-on for one unit.
    pub price_minor: u64,
}

/// The kinds of add-on contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddOnKind {
    /// An extended warranty.
    Warranty,
    /// An insurance (theft, damage).
    Insurance,
}

/// Totals of an order; `total = subtotal + tax + shipping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Lines and add-ons.
    pub subtotal_minor: u64,
    /// Tax.
    pub tax_minor: u64,
    /// Shipping.
    pub shipping_minor: u64,
    /// What the customer pays.
    pub total_minor: u64,
}

/// An order was cancelled before it was fulfilled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelledV1 {
    /// The order.
    pub order_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Why it was cancelled.
    pub reason: CancelReason,
}

impl EventDetail for OrderCancelledV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "OrderCancelled";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The customer asked.
    CustomerRequest,
    /// The payment did not go through.
    PaymentFailed,
    /// Not enough stock.
    OutOfStock,
    /// Fraud checks stopped it.
    FraudSuspected,
}

/// Items of a delivered order came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderReturnedV1 {
    /// The order.
    pub order_id: String,
    /// Its customer.
    pub customer_id: String,
    /// What came back; never empty.
    pub items: Vec<ReturnedItem>,
    /// Why.
    pub reason: ReturnReason,
}

impl EventDetail for OrderReturnedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "OrderReturned";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// One returned line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedItem {
    /// The returned SKU.
    pub sku: String,
    /// Units returned; at least 1.
    pub quantity: u32,
}

/// Why items were returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    /// Arrived damaged.
    Damaged,
    /// Not what the listing said.
    NotAsDescribed,
    /// The customer changed their mind.
    ChangedMind,
    /// Anything else.
    Other,
}

/// OrderPlaced at either version, for consumers that need the fat v1 and must refuse the thin v2
/// clearly instead of guessing. Serializes as the data it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OrderPlaced {
    /// Version 1: customer, lines and totals.
    Full(OrderPlacedV1),
    /// Version 2: ids and a summary only.
    Thin(OrderPlacedV2),
}

impl From<OrderPlacedV1> for OrderPlaced {
    fn from(v1: OrderPlacedV1) -> Self {
        Self::Full(v1)
    }
}

impl From<OrderPlacedV2> for OrderPlaced {
    fn from(v2: OrderPlacedV2) -> Self {
        Self::Thin(v2)
    }
}

impl OrderPlaced {
    /// The order's id, at either version.
    pub fn order_id(&self) -> &str {
        match self {
            Self::Full(v1) => &v1.order_id,
            Self::Thin(v2) => &v2.order_id,
        }
    }

    /// The customer's id, at either version.
    pub fn customer_id(&self) -> &str {
        match self {
            Self::Full(v1) => &v1.customer.customer_id,
            Self::Thin(v2) => &v2.customer_id,
        }
    }

    /// The fat event, or `None` for a thin one.
    pub fn full(&self) -> Option<&OrderPlacedV1> {
        match self {
            Self::Full(v1) => Some(v1),
            Self::Thin(_) => None,
        }
    }
}
