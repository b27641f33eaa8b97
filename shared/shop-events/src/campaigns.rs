//! Facts from the campaign service, source `shop.campaigns`.
//!
//! Money is always an integer amount in minor units (cents) of the event's `currency`.

use chrono::{DateTime, Utc};
use herald::EventDetail;
use serde::{Deserialize, Serialize};

/// The campaign service's EventBridge source.
pub const SOURCE: &str = "shop.campaigns";

/// A customer earned a voucher because an order met a campaign rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherIssuedV1 {
    /// The voucher, e.g. `vch-1001`.
    pub voucher_id: String,
    /// Who receives it, e.g. `cus-42`.
    pub customer_id: String,
    /// The order that met the rule.
    pub qualifying_order_id: String,
    /// The rule it met.
    pub rule: VoucherRule,
    /// What the voucher is worth.
    pub value_minor: u64,
    /// ISO 4217 code of the value.
    pub currency: String,
    /// Last moment the voucher can be redeemed.
    pub valid_until: DateTime<Utc>,
}

impl EventDetail for VoucherIssuedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "VoucherIssued";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.qualifying_order_id)
    }
}

/// Campaign rules that earn a voucher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherRule {
    /// The customer's third order.
    ThirdOrder,
    /// An order total above the big-spender threshold.
    BigSpender,
}
