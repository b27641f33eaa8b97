//! Facts from the payment service, source `shop.payments`.

use herald::EventDetail;
use serde::{Deserialize, Serialize};

/// The payment service's EventBridge source.
pub const SOURCE: &str = "shop.payments";

/// The money for an order was captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCapturedV1 {
    /// The payment, e.g. `pay-9001`.
    pub payment_id: String,
    /// The order paid for.
    pub order_id: String,
    /// Who paid.
    pub customer_id: String,
    /// Amount captured, in minor units.
    pub amount_minor: u64,
    /// ISO 4217 code of the amount.
    pub currency: String,
    /// How it was paid.
    pub method: PaymentMethod,
}

impl EventDetail for PaymentCapturedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "PaymentCaptured";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// Payment methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Credit or debit card.
    Card,
    /// PayPal.
    Paypal,
    /// Bank transfer.
    BankTransfer,
}
