//! The contracts table: partition `order_id`, sort key `contract_id`. Every write is
//! conditional, so a repeated change is a no-op and a retry finds what the first attempt did.
//! The table lives in DynamoDB (`dynamodb`), or (under `herald dev`) in memory inside the warm
//! process (`memory`), with the same conditions.
//!
//! - A contract (`contract_id` derived from the order and line, e.g. `ctr-1001-1`): `status`
//!   (ACTIVE or CANCELLED), what was sold (`kind`, `plan`, `sku`, `quantity`, `term_months`,
//!   `price_minor`, `currency`), who holds it (`customer_id`, `customer_email`), `created_by` (the
//!   `event_id` of the OrderPlaced that created it), `cancelled_by` (the `event_id` of the
//!   OrderCancelled or OrderReturned that cancelled it) and `announced` (the ids of its
//!   ContractCreated and ContractCancelled once the bus accepted them: never published again).
//! - The order's tombstone (`contract_id` [`TOMBSTONE`]): written by the first cancellation,
//!   with `customer_id` and `cancelled_by`; and one per returned SKU (`contract_id`
//!   `#returned#<sku>`, see [`returned_key`]), written by the first return that names the SKU.
//!   Creating contracts is one transaction conditional on the order's tombstone and on the
//!   tombstone of each contract's SKU being absent, so no contract is created after the
//!   cancellation, nor for a SKU after its return, whatever the order in which the events arrive
//!   — and a kept SKU still gets its contract when a partial return came first.
//!
//! The cause ids tell a retry of the same event, which re-emits, from another event about the
//! same order, which does not.

mod dynamodb;
mod memory;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::Client;
use herald::Outgoing;
use herald::store::{Announced, Stored};
use shop_events::AddOnKind;

use crate::error::ContractsError;
use dynamodb::Tables;
use memory::Memory;

/// Attribute names, in one place.
pub mod attr {
    /// Partition key: the order.
    pub const ORDER_ID: &str = "order_id";
    /// Sort key: the contract, or [`TOMBSTONE`](super::TOMBSTONE).
    pub const CONTRACT_ID: &str = "contract_id";
    /// Contract status.
    pub const STATUS: &str = "status";
    /// Warranty or insurance.
    pub const KIND: &str = "kind";
    /// The plan's name.
    pub const PLAN: &str = "plan";
    /// The covered product.
    pub const SKU: &str = "sku";
    /// Covered units.
    pub const QUANTITY: &str = "quantity";
    /// How long the contract runs.
    pub const TERM_MONTHS: &str = "term_months";
    /// Price of the add-on for one unit, in minor units.
    pub const PRICE_MINOR: &str = "price_minor";
    /// ISO 4217 code of the price.
    pub const CURRENCY: &str = "currency";
    /// Who holds the contract.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Where contract documents and notices go.
    pub const CUSTOMER_EMAIL: &str = "customer_email";
    /// `event_id` of the OrderPlaced that created the contract.
    pub const CREATED_BY: &str = "created_by";
    /// `event_id` of the event that cancelled the contract (or wrote the tombstone).
    pub const CANCELLED_BY: &str = "cancelled_by";
}

/// The sort key of an order's tombstone: the order was cancelled or returned.
pub const TOMBSTONE: &str = "#cancelled";

/// The sort-key prefix of a returned SKU's tombstone.
pub const RETURNED_PREFIX: &str = "#returned#";

/// The sort key of the tombstone of `sku`, returned: `#returned#<sku>`.
pub fn returned_key(sku: &str) -> String {
    format!("{RETURNED_PREFIX}{sku}")
}

/// Most contracts written in one transaction, next to the order's tombstone check and one check
/// per SKU (DynamoDB's limit is 100 items: 1 + 49 + 49).
const CONTRACTS_PER_TRANSACTION: usize = 49;

/// Where a contract stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractStatus {
    /// The coverage runs.
    Active,
    /// The coverage ended because the order was cancelled or returned.
    Cancelled,
}

impl ContractStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Cancelled => "CANCELLED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Active, Self::Cancelled].into_iter().find(|s| s.as_str() == text)
    }
}

/// One contract, for the add-on of one order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// The contract, e.g. `ctr-1001-1`.
    pub contract_id: String,
    /// The order the add-on was sold with.
    pub order_id: String,
    /// Who holds the contract.
    pub customer_id: String,
    /// Where contract documents and notices go. Redacted in logs.
    pub customer_email: herald::Sensitive<String>,
    /// Warranty or insurance.
    pub kind: AddOnKind,
    /// The plan's name, e.g. `extended-3y`.
    pub plan: String,
    /// The covered product.
    pub sku: String,
    /// Covered units.
    pub quantity: u32,
    /// How long the contract runs.
    pub term_months: u32,
    /// Price of the add-on for one unit, in minor units.
    pub price_minor: u64,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// Where it stands.
    pub status: ContractStatus,
    /// `event_id` of the OrderPlaced that created it.
    pub created_by: String,
    /// `event_id` of the event that cancelled it, once cancelled.
    pub cancelled_by: Option<String>,
    /// The events about it that were published.
    pub announced: Announced,
}

/// Everything stored for one order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderContracts {
    /// The order's contracts, in `contract_id` order.
    pub contracts: Vec<Contract>,
    /// The `event_id` that wrote the order's tombstone, if the order was cancelled.
    pub cancelled_by: Option<String>,
    /// The returned SKUs, each with the `event_id` of the first return that named it.
    pub returned: BTreeMap<String, String>,
}

/// What an attempt to create an order's contracts found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Create {
    /// Every contract was written.
    Created,
    /// The order already had contracts or a tombstone; here is everything stored for it.
    Refused(OrderContracts),
}

/// The contract id of an order's `n`th add-on line, counted from 1: `ctr-`, the order's number
/// and `n` (`ord-1001`, 1 → `ctr-1001-1`), the same on every attempt so a retry finds it.
pub fn contract_id(order_id: &str, n: usize) -> String {
    format!("ctr-{}-{n}", order_id.strip_prefix("ord-").unwrap_or(order_id))
}

/// The contracts table.
#[derive(Debug, Clone)]
pub struct ContractStore {
    storage: Stored<Tables, Memory>,
}

impl ContractStore {
    /// A store over the contracts table in DynamoDB.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            storage: Stored::Dynamo(Tables::new(client, table.into())),
        }
    }

    /// An empty store in memory, for `herald dev`: nothing external is needed, nothing outlives
    /// the process. Clones share the same contracts.
    pub fn memory() -> Self {
        Self {
            storage: Stored::Memory(Memory::default()),
        }
    }

    /// Writes the order's contracts, each only if absent, in transactions that each also check
    /// the order has no tombstone. When any condition fails, nothing of that transaction is
    /// written and everything stored for the order is returned.
    ///
    /// # Errors
    /// [`ContractsError::Store`] when DynamoDB fails; `CorruptContract` for an unreadable item.
    pub async fn create(&self, order_id: &str, contracts: &[Contract]) -> Result<Create, ContractsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.create(order_id, contracts).await,
            Stored::Memory(memory) => Ok(memory.create(order_id, contracts)),
        }
    }

    /// Writes the order's tombstone unless it has one, so no contract is created for it later.
    ///
    /// # Errors
    /// [`ContractsError::Store`] when DynamoDB fails.
    pub async fn record_cancel(&self, order_id: &str, customer_id: &str, cause: &str) -> Result<(), ContractsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.record_cancel(order_id, customer_id, cause).await,
            Stored::Memory(memory) => {
                memory.record_cancel(order_id, cause);
                Ok(())
            }
        }
    }

    /// Writes the tombstone of each of `skus` unless it has one, so no contract is created for a
    /// returned SKU later (a kept SKU still gets one).
    ///
    /// # Errors
    /// [`ContractsError::Store`] when DynamoDB fails.
    pub async fn record_return(
        &self,
        order_id: &str,
        customer_id: &str,
        cause: &str,
        skus: &BTreeSet<String>,
    ) -> Result<(), ContractsError> {
        match &self.storage {
            Stored::Dynamo(tables) => {
                for sku in skus {
                    tables
                        .put_tombstone(order_id, &returned_key(sku), customer_id, cause)
                        .await?;
                }
                Ok(())
            }
            Stored::Memory(memory) => {
                memory.record_return(order_id, cause, skus);
                Ok(())
            }
        }
    }

    /// Moves an ACTIVE contract to CANCELLED, naming the cancelling event. Returns false when it
    /// was no longer ACTIVE (another event cancelled it meanwhile).
    ///
    /// # Errors
    /// [`ContractsError::Store`] when DynamoDB fails.
    pub async fn cancel(&self, contract: &Contract, cause: &str) -> Result<bool, ContractsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.cancel(contract, cause).await,
            Stored::Memory(memory) => Ok(memory.cancel(contract, cause)),
        }
    }

    /// Records `events` about the contract as published.
    ///
    /// # Errors
    /// [`ContractsError::Announce`] when DynamoDB fails or the contract is gone.
    pub async fn announce(&self, contract: &Contract, events: &[Outgoing]) -> Result<(), ContractsError> {
        let announced = match &self.storage {
            Stored::Dynamo(tables) => tables.announce(contract, events).await,
            Stored::Memory(memory) => memory.announce(contract, events),
        };
        announced.map_err(|source| ContractsError::Announce {
            order_id: contract.order_id.clone(),
            contract_id: contract.contract_id.clone(),
            source,
        })
    }

    /// Everything stored for the order: its contracts (in `contract_id` order) and its
    /// tombstone, read consistently.
    ///
    /// # Errors
    /// [`ContractsError::Store`] when DynamoDB fails; `CorruptContract` for an unreadable item.
    pub async fn order(&self, order_id: &str) -> Result<OrderContracts, ContractsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.order(order_id).await,
            Stored::Memory(memory) => Ok(memory.order(order_id)),
        }
    }
}
