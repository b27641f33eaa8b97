//! The customer-orders and voucher tables. Every write is a put conditional on the item's
//! absence, so a repeated write is a no-op that hands back what is stored. The tables live in
//! DynamoDB, or (under `herald dev`) in memory inside the warm process, with the same
//! conditions.
//!
//! - Customer orders (`customer_id`, sort key `order_id`): `total_minor`, `currency`,
//!   `placed_at` (RFC 3339, UTC).
//! - Vouchers (`qualifying_order_id`): the VoucherIssued data (`voucher_id`, `customer_id`,
//!   `rule`, `value_minor`, `currency`, `valid_until`) and `issued_by`, the `event_id` of the
//!   OrderPlaced delivery that issued it — a retry of that delivery re-emits the same event —
//!   and `announced`, the id of the VoucherIssued once the bus accepted it: a later run
//!   publishes nothing.
//!
//! - Voucher claims (`claim` = `<customer_id>#<rule>`): `customer_id`, `rule` and `order_id`,
//!   the order that earned the customer that rule's voucher — at most one per customer and rule,
//!   whatever order the customer's orders arrive in.
//!
//! All three are [`Table`]s: in DynamoDB, or inside the process for `herald dev`.

use herald::Outgoing;
use herald::store::{Announced, Key, Table, TableError};
use serde::{Deserialize, Serialize};
use shop_events::{VoucherIssuedV1, VoucherRule};
use uuid::Uuid;

use crate::error::CampaignsError;
use crate::rules::PlacedOrder;

/// The customer-orders table's key: the customer, then the order.
pub const ORDERS_KEY: Key = Key::partition("customer_id").sorted_by("order_id");

/// The vouchers table's key: the order that earned the voucher.
pub const VOUCHERS_KEY: Key = Key::partition("qualifying_order_id");

/// The voucher-claims table's key: `<customer_id>#<rule>`.
pub const CLAIMS_KEY: Key = Key::partition("claim");

/// A voucher claim: the order that holds a customer's voucher of one rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claim {
    claim: String,
    customer_id: String,
    rule: VoucherRule,
    order_id: String,
}

/// The claim key of a customer's rule, e.g. `cus-42#third_order`.
fn claim_key(customer_id: &str, rule: VoucherRule) -> String {
    let rule = match rule {
        VoucherRule::ThirdOrder => "third_order",
        VoucherRule::BigSpender => "big_spender",
    };
    format!("{customer_id}#{rule}")
}

/// A customer-orders item: the customer and the order as the rules see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CustomerOrder {
    customer_id: String,
    #[serde(flatten)]
    order: PlacedOrder,
}

/// A voucher as stored: the event's data and the delivery that issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVoucher {
    /// What VoucherIssued carries, its fields the item's attributes.
    #[serde(flatten)]
    pub voucher: VoucherIssuedV1,
    /// `event_id` of the OrderPlaced delivery that issued it.
    pub issued_by: Uuid,
    /// The VoucherIssued, once published.
    #[serde(default, skip_serializing_if = "Announced::is_empty")]
    pub announced: Announced,
}

/// What an attempt to issue a voucher found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The voucher is written now.
    Issued,
    /// The order already has this voucher.
    AlreadyIssued(StoredVoucher),
}

/// The two tables. Clones share them.
#[derive(Debug, Clone)]
pub struct CampaignStore {
    /// Placed orders per customer (`CAMPAIGN_ORDERS_TABLE`, [`ORDERS_KEY`]).
    pub orders: Table,
    /// Vouchers per qualifying order (`VOUCHERS_TABLE`, [`VOUCHERS_KEY`]).
    pub vouchers: Table,
    /// The order holding each customer's voucher of each rule (`VOUCHER_CLAIMS_TABLE`,
    /// [`CLAIMS_KEY`]).
    pub claims: Table,
}

impl CampaignStore {
    /// Records the customer's order unless it is recorded already; returns the order as stored
    /// (the first recording wins, so every delivery judges the order by the same `placed_at`).
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails or the stored order is unreadable.
    pub async fn record_order(&self, customer_id: &str, order: &PlacedOrder) -> Result<PlacedOrder, CampaignsError> {
        let row = CustomerOrder {
            customer_id: customer_id.to_owned(),
            order: order.clone(),
        };
        let standing = self.orders.insert_or_get(&row).await.map_err(failed(&order.order_id))?;
        Ok(standing.map_or_else(|| order.clone(), |row| row.order))
    }

    /// Every recorded order of the customer, in `order_id` order, read consistently (so the
    /// order just recorded is among them). The rules pick the window out of them.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails or an order is unreadable.
    pub async fn orders(&self, customer_id: &str) -> Result<Vec<PlacedOrder>, CampaignsError> {
        let rows: Vec<CustomerOrder> = self.orders.query(customer_id).await.map_err(failed(customer_id))?;
        Ok(rows.into_iter().map(|row| row.order).collect())
    }

    /// Claims the customer's voucher of `rule` for `order_id` unless an order holds it; returns
    /// the order that holds it now (`order_id` itself when this claim, or an earlier one of the
    /// same order, won).
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails or the standing claim is unreadable.
    pub async fn claim(&self, customer_id: &str, rule: VoucherRule, order_id: &str) -> Result<String, CampaignsError> {
        let claim = Claim {
            claim: claim_key(customer_id, rule),
            customer_id: customer_id.to_owned(),
            rule,
            order_id: order_id.to_owned(),
        };
        let standing = self.claims.insert_or_get(&claim).await.map_err(failed(order_id))?;
        Ok(standing.map_or(claim.order_id, |holder| holder.order_id))
    }

    /// The order holding the customer's voucher of `rule`, if any.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails or the claim is unreadable.
    pub async fn claim_holder(&self, customer_id: &str, rule: VoucherRule) -> Result<Option<String>, CampaignsError> {
        let key = claim_key(customer_id, rule);
        let claim: Option<Claim> = self.claims.get(&key).await.map_err(failed(customer_id))?;
        Ok(claim.map(|claim| claim.order_id))
    }

    /// The voucher the order earned, if any.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails or the voucher is unreadable.
    pub async fn voucher(&self, order_id: &str) -> Result<Option<StoredVoucher>, CampaignsError> {
        self.vouchers.get(order_id).await.map_err(failed(order_id))
    }

    /// Writes the voucher unless its order has one: one voucher per qualifying order, whatever
    /// the number of deliveries or their event ids.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails or a standing voucher is unreadable.
    pub async fn issue(&self, stored: &StoredVoucher) -> Result<Issue, CampaignsError> {
        let standing = self.vouchers.insert_or_get(stored).await;
        Ok(match standing.map_err(failed(&stored.voucher.qualifying_order_id))? {
            None => Issue::Issued,
            Some(voucher) => Issue::AlreadyIssued(voucher),
        })
    }

    /// Records the voucher's `events` as published.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails or the voucher is gone.
    pub async fn announce(&self, order_id: &str, events: &[Outgoing]) -> Result<(), CampaignsError> {
        self.vouchers
            .announce(order_id, None, events)
            .await
            .map_err(failed(order_id))
    }
}

/// A table's error, for the order or customer it was about.
fn failed(key: &str) -> impl FnOnce(TableError) -> CampaignsError {
    let key = key.to_owned();
    move |source| CampaignsError::Store { key, source }
}
