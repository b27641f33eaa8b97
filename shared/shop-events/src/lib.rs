//! The shop's catalogued events, one Rust type per detail-type and schema version.
//!
//! Each type mirrors `events/<source>/<DetailType>/v<N>.schema.json` field for field; the
//! catalog tests decode every sample in `events/` into these types, re-encode it unchanged and
//! validate it against its schema, so the two cannot drift apart.
//!
//! - [`orders`]: facts from the order system (`shop.orders`).
//! - [`payments`]: facts from the payment service (`shop.payments`).
//! - [`ShopEvent`]: every catalogued event at every version, for tools that read any of them.

pub mod orders;
pub mod payments;

pub use orders::{
    AddOn, AddOnKind, CancelReason, Customer, LineItem, OrderCancelledV1, OrderPlacedV1, OrderPlacedV2,
    OrderReturnedV1, ReturnReason, ReturnedItem, Totals,
};
pub use payments::{PaymentCapturedV1, PaymentMethod};

herald::event_set! {
    /// Every catalogued event, each version its own variant (nothing is upcast). It serializes
    /// back to exactly the EventBridge JSON it was decoded from.
    #[derive(Debug, Clone, PartialEq, serde::Serialize)]
    #[serde(untagged)]
    pub enum ShopEvent {
        /// `shop.orders` OrderPlaced v1 (fat).
        OrderPlacedV1(OrderPlacedV1) from (OrderPlacedV1,),
        /// `shop.orders` OrderPlaced v2 (thin).
        OrderPlacedV2(OrderPlacedV2) from (OrderPlacedV2,),
        /// `shop.orders` OrderCancelled v1.
        OrderCancelledV1(OrderCancelledV1) from (OrderCancelledV1,),
        /// `shop.orders` OrderReturned v1.
        OrderReturnedV1(OrderReturnedV1) from (OrderReturnedV1,),
        /// `shop.payments` PaymentCaptured v1.
        PaymentCapturedV1(PaymentCapturedV1) from (PaymentCapturedV1,),
    }
}

impl ShopEvent {
    /// The metadata every variant carries.
    pub fn metadata(&self) -> &herald::Metadata {
        match self {
            Self::OrderPlacedV1(e) => e.metadata(),
            Self::OrderPlacedV2(e) => e.metadata(),
            Self::OrderCancelledV1(e) => e.metadata(),
            Self::OrderReturnedV1(e) => e.metadata(),
            Self::PaymentCapturedV1(e) => e.metadata(),
        }
    }
}
