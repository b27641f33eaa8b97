//! The customer-orders and voucher tables. Every write is a put conditional on the item's
//! absence, so a repeated write is a no-op that hands back what is stored. The tables live in
//! DynamoDB, or (under `herald dev`) in memory inside the warm process, with the same
//! conditions.
//!
//! - Customer orders (`customer_id`, sort key `order_id`): `total_minor`, `currency`,
//!   `placed_at` (RFC 3339, UTC).
//! - Vouchers (`qualifying_order_id`): the VoucherIssued data (`voucher_id`, `customer_id`,
//!   `rule`, `value_minor`, `currency`, `valid_until`) and `issued_by`, the `event_id` of the
//!   OrderPlaced delivery that issued it — a retry of that delivery re-emits the same event.
//!
//! [`CampaignStore::new`] keeps them in DynamoDB (`dynamodb`); [`CampaignStore::memory`] keeps
//! them inside the process (`memory`) for `herald dev`.

mod dynamodb;
mod memory;

use aws_sdk_dynamodb::Client;
use herald::store::Stored;
use shop_events::VoucherIssuedV1;
use uuid::Uuid;

use crate::error::CampaignsError;
use crate::rules::PlacedOrder;
use dynamodb::Tables;
use memory::Memory;

/// Attribute names, in one place.
pub mod attr {
    /// Customer-orders partition key.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Customer-orders sort key.
    pub const ORDER_ID: &str = "order_id";
    /// The order's total, minor units.
    pub const TOTAL_MINOR: &str = "total_minor";
    /// ISO 4217 code of the order's total or the voucher's value.
    pub const CURRENCY: &str = "currency";
    /// When the order was placed.
    pub const PLACED_AT: &str = "placed_at";
    /// Vouchers key.
    pub const QUALIFYING_ORDER_ID: &str = "qualifying_order_id";
    /// The voucher's id.
    pub const VOUCHER_ID: &str = "voucher_id";
    /// The rule met: `third_order` or `big_spender`.
    pub const RULE: &str = "rule";
    /// What the voucher is worth, minor units.
    pub const VALUE_MINOR: &str = "value_minor";
    /// Last moment the voucher can be redeemed.
    pub const VALID_UNTIL: &str = "valid_until";
    /// `event_id` of the OrderPlaced delivery that issued the voucher.
    pub const ISSUED_BY: &str = "issued_by";
}

/// A voucher as stored: the event's data and the delivery that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVoucher {
    /// What VoucherIssued carries.
    pub voucher: VoucherIssuedV1,
    /// `event_id` of the OrderPlaced delivery that issued it.
    pub issued_by: Uuid,
}

/// What an attempt to issue a voucher found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The voucher is written now.
    Issued,
    /// The order already has this voucher.
    AlreadyIssued(StoredVoucher),
}

/// The two tables.
#[derive(Debug, Clone)]
pub struct CampaignStore {
    /// In DynamoDB, or inside the warm process (clones share them).
    storage: Stored<Tables, Memory>,
}

impl CampaignStore {
    /// A store over the two tables in DynamoDB.
    pub fn new(client: Client, orders_table: impl Into<String>, vouchers_table: impl Into<String>) -> Self {
        Self {
            storage: Stored::Dynamo(Tables {
                client,
                orders_table: orders_table.into(),
                vouchers_table: vouchers_table.into(),
            }),
        }
    }

    /// An empty store in memory, for `herald dev`: nothing external is needed, nothing outlives
    /// the process. Clones share the same orders and vouchers.
    pub fn memory() -> Self {
        Self {
            storage: Stored::Memory(Memory::default()),
        }
    }

    /// Records the customer's order unless it is recorded already; returns the order as stored
    /// (the first recording wins, so every delivery judges the order by the same `placed_at`).
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable order.
    pub async fn record_order(&self, customer_id: &str, order: &PlacedOrder) -> Result<PlacedOrder, CampaignsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.record_order(customer_id, order).await,
            Stored::Memory(memory) => Ok(memory.record_order(customer_id, order)),
        }
    }

    /// Every recorded order of the customer, in `order_id` order, read consistently (so the
    /// order just recorded is among them). The rules pick the window out of them.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable order.
    pub async fn orders(&self, customer_id: &str) -> Result<Vec<PlacedOrder>, CampaignsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.orders(customer_id).await,
            Stored::Memory(memory) => Ok(memory.orders(customer_id)),
        }
    }

    /// The voucher the order earned, if any.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable voucher.
    pub async fn voucher(&self, order_id: &str) -> Result<Option<StoredVoucher>, CampaignsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.voucher(order_id).await,
            Stored::Memory(memory) => Ok(memory.voucher(order_id)),
        }
    }

    /// Writes the voucher unless its order has one: one voucher per qualifying order, whatever
    /// the number of deliveries or their event ids.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable voucher.
    pub async fn issue(&self, stored: &StoredVoucher) -> Result<Issue, CampaignsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.issue(stored).await,
            Stored::Memory(memory) => Ok(memory.issue(stored)),
        }
    }
}
