//! The contracts table: partition `order_id`, sort key `contract_id`. Every write is
//! conditional, so a repeated change is a no-op and a retry finds what the first attempt did.
//! The table lives in DynamoDB, or (under `herald dev`) in memory inside the warm process,
//! with the same conditions.
//!
//! - A contract (`contract_id` derived from the order and line, e.g. `ctr-1001-1`): `status`
//!   (ACTIVE or CANCELLED), what was sold (`kind`, `plan`, `sku`, `quantity`, `term_months`,
//!   `price_minor`, `currency`), who holds it (`customer_id`, `customer_email`), `created_by` (the
//!   `event_id` of the OrderPlaced that created it) and `cancelled_by` (the `event_id` of the
//!   OrderCancelled or OrderReturned that cancelled it).
//! - The order's tombstone (`contract_id` [`TOMBSTONE`]): written by the first cancellation or
//!   return, with `customer_id` and `cancelled_by`. Creating contracts is one transaction
//!   conditional on its absence, so no contract can be created after it, whatever the order in
//!   which the events arrive.
//!
//! The cause ids tell a retry of the same event, which re-emits, from another event about the
//! same order, which does not.

mod memory;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use shop_events::AddOnKind;

use crate::error::ContractsError;
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

/// Most contracts written in one transaction, next to the tombstone check (DynamoDB's limit is
/// 100 items).
const CONTRACTS_PER_TRANSACTION: usize = 99;

type Item = HashMap<String, AttributeValue>;

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
    /// Where contract documents and notices go.
    pub customer_email: String,
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
}

/// Everything stored for one order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderContracts {
    /// The order's contracts, in `contract_id` order.
    pub contracts: Vec<Contract>,
    /// The `event_id` that wrote the order's tombstone, if the order was cancelled or returned.
    pub cancelled_by: Option<String>,
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
    storage: Storage,
}

/// Where the table is kept.
#[derive(Debug, Clone)]
enum Storage {
    /// In DynamoDB.
    Dynamo(Table),
    /// Inside the warm process; clones share it.
    Memory(Memory),
}

impl ContractStore {
    /// A store over the contracts table in DynamoDB.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            storage: Storage::Dynamo(Table {
                client,
                table: table.into(),
            }),
        }
    }

    /// An empty store in memory, for `herald dev`: nothing external is needed, nothing outlives
    /// the process. Clones share the same contracts.
    pub fn memory() -> Self {
        Self {
            storage: Storage::Memory(Memory::default()),
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
            Storage::Dynamo(table) => table.create(order_id, contracts).await,
            Storage::Memory(memory) => Ok(memory.create(order_id, contracts)),
        }
    }

    /// Writes the order's tombstone unless it has one, so no contract is created for it later.
    ///
    /// # Errors
    /// [`ContractsError::Store`] when DynamoDB fails.
    pub async fn record_cancel(&self, order_id: &str, customer_id: &str, cause: &str) -> Result<(), ContractsError> {
        match &self.storage {
            Storage::Dynamo(table) => table.record_cancel(order_id, customer_id, cause).await,
            Storage::Memory(memory) => {
                memory.record_cancel(order_id, cause);
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
            Storage::Dynamo(table) => table.cancel(contract, cause).await,
            Storage::Memory(memory) => Ok(memory.cancel(contract, cause)),
        }
    }

    /// Everything stored for the order: its contracts (in `contract_id` order) and its
    /// tombstone, read consistently.
    ///
    /// # Errors
    /// [`ContractsError::Store`] when DynamoDB fails; `CorruptContract` for an unreadable item.
    pub async fn order(&self, order_id: &str) -> Result<OrderContracts, ContractsError> {
        match &self.storage {
            Storage::Dynamo(table) => table.order(order_id).await,
            Storage::Memory(memory) => Ok(memory.order(order_id)),
        }
    }
}

/// The contracts table in DynamoDB.
#[derive(Debug, Clone)]
struct Table {
    client: Client,
    table: String,
}

impl Table {
    /// [`ContractStore::create`]: one `TransactWriteItems` per chunk, the tombstone checked in each.
    async fn create(&self, order_id: &str, contracts: &[Contract]) -> Result<Create, ContractsError> {
        for chunk in contracts.chunks(CONTRACTS_PER_TRANSACTION) {
            let no_tombstone = ConditionCheck::builder()
                .table_name(&self.table)
                .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
                .key(attr::CONTRACT_ID, AttributeValue::S(TOMBSTONE.to_owned()))
                .condition_expression("attribute_not_exists(#order_id)")
                .expression_attribute_names("#order_id", attr::ORDER_ID)
                .build()
                .map_err(|e| store_error("TransactWriteItems", order_id, context(e)))?;
            let mut items = vec![TransactWriteItem::builder().condition_check(no_tombstone).build()];
            for contract in chunk {
                items.push(TransactWriteItem::builder().put(self.put_new(contract)?).build());
            }
            let outcome = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let error = match outcome {
                Ok(_) => continue,
                Err(error) => error.into_service_error(),
            };
            let condition_failed = matches!(
                &error,
                TransactWriteItemsError::TransactionCanceledException(cancelled)
                    if cancelled
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed"))
            );
            if !condition_failed {
                // Cancelled for another reason (a conflicting transaction): DynamoDB says try again.
                return Err(store_error("TransactWriteItems", order_id, context(error)));
            }
            let stored = self.order(order_id).await?;
            if stored.contracts.is_empty() && stored.cancelled_by.is_none() {
                return Err(store_error(
                    "TransactWriteItems",
                    order_id,
                    "a condition failed but the order has neither contracts nor a tombstone".to_owned(),
                ));
            }
            return Ok(Create::Refused(stored));
        }
        Ok(Create::Created)
    }

    /// [`ContractStore::record_cancel`]: a `PutItem` conditional on the tombstone's absence.
    async fn record_cancel(&self, order_id: &str, customer_id: &str, cause: &str) -> Result<(), ContractsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .item(attr::CONTRACT_ID, AttributeValue::S(TOMBSTONE.to_owned()))
            .item(attr::CUSTOMER_ID, AttributeValue::S(customer_id.to_owned()))
            .item(attr::CANCELLED_BY, AttributeValue::S(cause.to_owned()))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.into_service_error() {
                // Cancelled or returned before: the first tombstone stands.
                PutItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(store_error("PutItem", order_id, context(other))),
            },
        }
    }

    /// [`ContractStore::cancel`]: an `UpdateItem` conditional on `status` ACTIVE.
    async fn cancel(&self, contract: &Contract, cause: &str) -> Result<bool, ContractsError> {
        let order_id = contract.order_id.as_str();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .key(attr::CONTRACT_ID, AttributeValue::S(contract.contract_id.clone()))
            .update_expression("SET #status = :cancelled, #cancelled_by = :cause")
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#cancelled_by", attr::CANCELLED_BY)
            .expression_attribute_values(
                ":cancelled",
                AttributeValue::S(ContractStatus::Cancelled.as_str().to_owned()),
            )
            .expression_attribute_values(":active", AttributeValue::S(ContractStatus::Active.as_str().to_owned()))
            .expression_attribute_values(":cause", AttributeValue::S(cause.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(store_error("UpdateItem", order_id, context(other))),
            },
        }
    }

    /// [`ContractStore::order`]: a consistent `Query` of the partition, page by page.
    async fn order(&self, order_id: &str) -> Result<OrderContracts, ContractsError> {
        let mut stored = OrderContracts::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#order_id = :order_id")
                .expression_attribute_names("#order_id", attr::ORDER_ID)
                .expression_attribute_values(":order_id", AttributeValue::S(order_id.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", order_id, context(e)))?;
            for item in page.items() {
                if text(item, attr::CONTRACT_ID).as_deref() == Some(TOMBSTONE) {
                    stored.cancelled_by = text(item, attr::CANCELLED_BY);
                } else {
                    stored.contracts.push(contract_from(order_id, item)?);
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(stored);
            }
        }
    }

    fn put_new(&self, contract: &Contract) -> Result<Put, ContractsError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u64| AttributeValue::N(v.to_string());
        Put::builder()
            .table_name(&self.table)
            .item(attr::ORDER_ID, s(&contract.order_id))
            .item(attr::CONTRACT_ID, s(&contract.contract_id))
            .item(attr::STATUS, s(contract.status.as_str()))
            .item(attr::KIND, s(kind_str(contract.kind)))
            .item(attr::PLAN, s(&contract.plan))
            .item(attr::SKU, s(&contract.sku))
            .item(attr::QUANTITY, n(contract.quantity.into()))
            .item(attr::TERM_MONTHS, n(contract.term_months.into()))
            .item(attr::PRICE_MINOR, n(contract.price_minor))
            .item(attr::CURRENCY, s(&contract.currency))
            .item(attr::CUSTOMER_ID, s(&contract.customer_id))
            .item(attr::CUSTOMER_EMAIL, s(&contract.customer_email))
            .item(attr::CREATED_BY, s(&contract.created_by))
            .condition_expression("attribute_not_exists(#contract_id)")
            .expression_attribute_names("#contract_id", attr::CONTRACT_ID)
            .build()
            .map_err(|e| store_error("TransactWriteItems", &contract.order_id, context(e)))
    }
}

fn kind_str(kind: AddOnKind) -> &'static str {
    match kind {
        AddOnKind::Warranty => "warranty",
        AddOnKind::Insurance => "insurance",
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn contract_from(order_id: &str, item: &Item) -> Result<Contract, ContractsError> {
    let contract_id = text(item, attr::CONTRACT_ID).unwrap_or_default();
    let corrupt = |what: &str| ContractsError::CorruptContract {
        order_id: order_id.to_owned(),
        contract_id: contract_id.clone(),
        reason: format!("{what} is missing or invalid"),
    };
    let required = |name: &'static str| text(item, name).ok_or_else(|| corrupt(name));
    let number = |name: &'static str| -> Result<u64, ContractsError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| corrupt(name))
    };
    let small = |name: &'static str| number(name).and_then(|n| u32::try_from(n).map_err(|_| corrupt(name)));
    let kind = match required(attr::KIND)?.as_str() {
        "warranty" => AddOnKind::Warranty,
        "insurance" => AddOnKind::Insurance,
        _ => return Err(corrupt(attr::KIND)),
    };
    Ok(Contract {
        order_id: order_id.to_owned(),
        customer_id: required(attr::CUSTOMER_ID)?,
        customer_email: required(attr::CUSTOMER_EMAIL)?,
        kind,
        plan: required(attr::PLAN)?,
        sku: required(attr::SKU)?,
        quantity: small(attr::QUANTITY)?,
        term_months: small(attr::TERM_MONTHS)?,
        price_minor: number(attr::PRICE_MINOR)?,
        currency: required(attr::CURRENCY)?,
        status: required(attr::STATUS)
            .ok()
            .as_deref()
            .and_then(ContractStatus::parse)
            .ok_or_else(|| corrupt(attr::STATUS))?,
        created_by: required(attr::CREATED_BY)?,
        cancelled_by: text(item, attr::CANCELLED_BY),
        contract_id: contract_id.clone(),
    })
}

fn store_error(operation: &'static str, order_id: &str, message: String) -> ContractsError {
    ContractsError::Store {
        operation,
        order_id: order_id.to_owned(),
        message,
    }
}

/// The SDK's error with its whole context, for messages.
fn context(error: impl std::error::Error) -> String {
    DisplayErrorContext(error).to_string()
}
