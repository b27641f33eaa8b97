//! The shop's catalogued events, one Rust type per detail-type and schema version.
//!
//! Each type mirrors `events/<source>/<DetailType>/v<N>.schema.json` field for field; the
//! catalog tests decode every sample in `events/` into these types, re-encode it unchanged and
//! validate it against its schema, so the two cannot drift apart.
//!
//! - [`orders`]: facts from the order system (`shop.orders`).
//! - [`payments`]: facts from the payment service (`shop.payments`).
//! - [`inventory`]: stock reservations and shortages (`shop.inventory`).
//! - [`fulfillment`]: shipments (`shop.fulfillment`).
//! - [`campaigns`]: vouchers earned by orders (`shop.campaigns`).
//! - [`contracts`]: warranty and insurance contracts behind add-ons (`shop.contracts`).
//! - [`billing`]: invoices (`shop.billing`).
//! - [`ShopEvent`]: every catalogued event at every version, for tools that read any of them.

pub mod billing;
pub mod campaigns;
pub mod contracts;
pub mod fulfillment;
pub mod inventory;
pub mod orders;
pub mod payments;

pub use billing::{InvoiceIssuedV1, InvoiceLine};
pub use campaigns::{VoucherIssuedV1, VoucherRule};
pub use contracts::{ContractCancelReason, ContractCancelledV1, ContractCreatedV1};
pub use fulfillment::{ShipmentCancelReason, ShipmentCancelledV1, ShipmentRequestedV1};
pub use inventory::{ShortLine, StockLine, StockReservedV1, StockShortageV1};
pub use orders::{
    AddOn, AddOnKind, Address, CancelReason, Customer, LineItem, OrderCancelledV1, OrderPlaced, OrderPlacedV1,
    OrderPlacedV2, OrderReturnedV1, ReturnReason, ReturnedItem, Totals,
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
        /// `shop.inventory` StockReserved v1.
        StockReservedV1(StockReservedV1) from (StockReservedV1,),
        /// `shop.inventory` StockShortage v1.
        StockShortageV1(StockShortageV1) from (StockShortageV1,),
        /// `shop.fulfillment` ShipmentRequested v1.
        ShipmentRequestedV1(ShipmentRequestedV1) from (ShipmentRequestedV1,),
        /// `shop.fulfillment` ShipmentCancelled v1.
        ShipmentCancelledV1(ShipmentCancelledV1) from (ShipmentCancelledV1,),
        /// `shop.campaigns` VoucherIssued v1.
        VoucherIssuedV1(VoucherIssuedV1) from (VoucherIssuedV1,),
        /// `shop.contracts` ContractCreated v1.
        ContractCreatedV1(ContractCreatedV1) from (ContractCreatedV1,),
        /// `shop.contracts` ContractCancelled v1.
        ContractCancelledV1(ContractCancelledV1) from (ContractCancelledV1,),
        /// `shop.billing` InvoiceIssued v1.
        InvoiceIssuedV1(InvoiceIssuedV1) from (InvoiceIssuedV1,),
    }
}
