//! Facts from the contract service, source `shop.contracts`: the warranty and insurance
//! contracts behind the add-ons sold with order lines.
//!
//! Money is always an integer amount in minor units (cents) of the event's `currency`.

use herald::{EventDetail, Sensitive};
use serde::{Deserialize, Serialize};

use crate::orders::AddOnKind;

/// The contract service's EventBridge source.
pub const SOURCE: &str = "shop.contracts";

/// A contract was created for an add-on sold with one order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractCreatedV1 {
    /// The contract, e.g. `ctr-1001`.
    pub contract_id: String,
    /// The order the add-on was sold with.
    pub order_id: String,
    /// Who holds the contract.
    pub customer_id: String,
    /// Where contract documents go; copied from the order so no call-back is needed. Redacted
    /// in logs.
    pub customer_email: Sensitive<String>,
    /// Warranty or insurance.
    pub kind: AddOnKind,
    /// The plan's name, e.g. `extended-3y`.
    pub plan: String,
    /// The covered product, e.g. `SKU-LAPTOP-14`.
    pub sku: String,
    /// Covered units, one add-on each; at least 1.
    pub quantity: u32,
    /// How long the contract runs.
    pub term_months: u32,
    /// Price of the add-on for one unit.
    pub price_minor: u64,
    /// ISO 4217 code of the price.
    pub currency: String,
}

impl EventDetail for ContractCreatedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "ContractCreated";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// A contract was cancelled; its coverage ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractCancelledV1 {
    /// The contract, e.g. `ctr-1001`.
    pub contract_id: String,
    /// The order the add-on was sold with.
    pub order_id: String,
    /// Who held the contract.
    pub customer_id: String,
    /// Where the cancellation notice goes. Redacted in logs.
    pub customer_email: Sensitive<String>,
    /// Warranty or insurance.
    pub kind: AddOnKind,
    /// The plan's name, e.g. `extended-3y`.
    pub plan: String,
    /// Why it was cancelled.
    pub reason: ContractCancelReason,
}

impl EventDetail for ContractCancelledV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "ContractCancelled";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// Why a contract was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractCancelReason {
    /// Its order was cancelled.
    OrderCancelled,
    /// Its order was returned.
    OrderReturned,
}
