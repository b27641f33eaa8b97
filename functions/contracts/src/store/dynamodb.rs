//! The contracts table in DynamoDB: contracts written in `TransactWriteItems` that each check
//! the order's tombstone, the tombstone a conditional `PutItem`, a cancellation an `UpdateItem`
//! conditional on ACTIVE, an order read back by a consistent `Query` of its partition.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use herald::Outgoing;
use herald::store::{Announced, Item, Key, SdkFailure, Table, TableError, n, number, s, text};
use shop_events::AddOnKind;

use std::collections::BTreeSet;

use super::{
    CONTRACTS_PER_TRANSACTION, Contract, ContractStatus, Create, OrderContracts, RETURNED_PREFIX, TOMBSTONE, attr,
    returned_key,
};
use crate::error::ContractsError;

/// The contracts table in DynamoDB.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    client: Client,
    /// The contracts table's name (`CONTRACTS_TABLE`).
    table: String,
    /// The same table as a [`Table`], for what it offers ([`Table::announce`]).
    records: Table,
}

impl Tables {
    pub(super) fn new(client: Client, table: String) -> Self {
        let key = Key::partition(attr::ORDER_ID).sorted_by(attr::CONTRACT_ID);
        let records = Table::dynamo(client.clone(), &table, key);
        Self { client, table, records }
    }

    /// [`super::ContractStore::announce`]: [`Table::announce`] on the contract's item.
    pub(super) async fn announce(&self, contract: &Contract, events: &[Outgoing]) -> Result<(), TableError> {
        self.records
            .announce(&contract.order_id, Some(&contract.contract_id), events)
            .await
    }

    /// [`super::ContractStore::create`]: one `TransactWriteItems` per chunk, the tombstone checked
    /// in each.
    pub(super) async fn create(&self, order_id: &str, contracts: &[Contract]) -> Result<Create, ContractsError> {
        for chunk in contracts.chunks(CONTRACTS_PER_TRANSACTION) {
            let skus: BTreeSet<String> = chunk.iter().map(|c| returned_key(&c.sku)).collect();
            let mut items = Vec::new();
            for tombstone in std::iter::once(TOMBSTONE.to_owned()).chain(skus) {
                let absent = ConditionCheck::builder()
                    .table_name(&self.table)
                    .key(attr::ORDER_ID, s(order_id))
                    .key(attr::CONTRACT_ID, s(tombstone))
                    .condition_expression("attribute_not_exists(#order_id)")
                    .expression_attribute_names("#order_id", attr::ORDER_ID)
                    .build()
                    .map_err(|e| store_error("TransactWriteItems", order_id, SdkFailure::new(e)))?;
                items.push(TransactWriteItem::builder().condition_check(absent).build());
            }
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
                return Err(store_error("TransactWriteItems", order_id, SdkFailure::new(error)));
            }
            let stored = self.order(order_id).await?;
            if stored.contracts.is_empty() && stored.cancelled_by.is_none() && stored.returned.is_empty() {
                // Nothing stored explains the failed condition: fail with the cancellation itself
                // (its reasons name the condition), retryable, rather than refuse the order.
                tracing::warn!(
                    order_id,
                    "a condition failed but the order has neither contracts nor a tombstone"
                );
                return Err(store_error("TransactWriteItems", order_id, SdkFailure::new(error)));
            }
            return Ok(Create::Refused(stored));
        }
        Ok(Create::Created)
    }

    /// [`super::ContractStore::record_cancel`]: the order's tombstone.
    pub(super) async fn record_cancel(
        &self,
        order_id: &str,
        customer_id: &str,
        cause: &str,
    ) -> Result<(), ContractsError> {
        self.put_tombstone(order_id, TOMBSTONE, customer_id, cause).await
    }

    /// A tombstone (the order's, or a returned SKU's) under the sort key `key`: a `PutItem`
    /// conditional on its absence, so the first stands.
    pub(super) async fn put_tombstone(
        &self,
        order_id: &str,
        key: &str,
        customer_id: &str,
        cause: &str,
    ) -> Result<(), ContractsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::ORDER_ID, s(order_id))
            .item(attr::CONTRACT_ID, s(key))
            .item(attr::CUSTOMER_ID, s(customer_id))
            .item(attr::CANCELLED_BY, s(cause))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.into_service_error() {
                // Cancelled or returned before: the first tombstone stands.
                PutItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(store_error("PutItem", order_id, SdkFailure::new(other))),
            },
        }
    }

    /// [`super::ContractStore::cancel`]: an `UpdateItem` conditional on `status` ACTIVE.
    pub(super) async fn cancel(&self, contract: &Contract, cause: &str) -> Result<bool, ContractsError> {
        let order_id = contract.order_id.as_str();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ORDER_ID, s(order_id))
            .key(attr::CONTRACT_ID, s(&contract.contract_id))
            .update_expression("SET #status = :cancelled, #cancelled_by = :cause")
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#cancelled_by", attr::CANCELLED_BY)
            .expression_attribute_values(":cancelled", s(ContractStatus::Cancelled.as_str()))
            .expression_attribute_values(":active", s(ContractStatus::Active.as_str()))
            .expression_attribute_values(":cause", s(cause))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(store_error("UpdateItem", order_id, SdkFailure::new(other))),
            },
        }
    }

    /// [`super::ContractStore::order`]: a consistent `Query` of the partition, page by page.
    pub(super) async fn order(&self, order_id: &str) -> Result<OrderContracts, ContractsError> {
        let mut stored = OrderContracts::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#order_id = :order_id")
                .expression_attribute_names("#order_id", attr::ORDER_ID)
                .expression_attribute_values(":order_id", s(order_id))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", order_id, SdkFailure::new(e)))?;
            for item in page.items() {
                let key = text(item, attr::CONTRACT_ID).unwrap_or_default();
                if key == TOMBSTONE {
                    stored.cancelled_by = text(item, attr::CANCELLED_BY);
                } else if let Some(sku) = key.strip_prefix(RETURNED_PREFIX) {
                    let cause = text(item, attr::CANCELLED_BY).unwrap_or_default();
                    stored.returned.insert(sku.to_owned(), cause);
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

    /// A new contract's item, written only if the contract is absent.
    fn put_new(&self, contract: &Contract) -> Result<Put, ContractsError> {
        Put::builder()
            .table_name(&self.table)
            .item(attr::ORDER_ID, s(&contract.order_id))
            .item(attr::CONTRACT_ID, s(&contract.contract_id))
            .item(attr::STATUS, s(contract.status.as_str()))
            .item(attr::KIND, s(kind_str(contract.kind)))
            .item(attr::PLAN, s(&contract.plan))
            .item(attr::SKU, s(&contract.sku))
            .item(attr::QUANTITY, n(contract.quantity))
            .item(attr::TERM_MONTHS, n(contract.term_months))
            .item(attr::PRICE_MINOR, n(contract.price_minor))
            .item(attr::CURRENCY, s(&contract.currency))
            .item(attr::CUSTOMER_ID, s(&contract.customer_id))
            .item(attr::CUSTOMER_EMAIL, s(contract.customer_email.expose()))
            .item(attr::CREATED_BY, s(&contract.created_by))
            .condition_expression("attribute_not_exists(#contract_id)")
            .expression_attribute_names("#contract_id", attr::CONTRACT_ID)
            .build()
            .map_err(|e| store_error("TransactWriteItems", &contract.order_id, SdkFailure::new(e)))
    }
}

/// The stored label of an add-on's kind.
fn kind_str(kind: AddOnKind) -> &'static str {
    match kind {
        AddOnKind::Warranty => "warranty",
        AddOnKind::Insurance => "insurance",
    }
}

/// The add-on kind a stored label names.
fn parse_kind(label: &str) -> Option<AddOnKind> {
    [AddOnKind::Warranty, AddOnKind::Insurance]
        .into_iter()
        .find(|&kind| kind_str(kind) == label)
}

/// A stored contract of the order, or `CorruptContract` naming the first attribute that is
/// missing or invalid.
fn contract_from(order_id: &str, item: &Item) -> Result<Contract, ContractsError> {
    let contract_id = text(item, attr::CONTRACT_ID).unwrap_or_default();
    let corrupt = |what: &str| ContractsError::CorruptContract {
        order_id: order_id.to_owned(),
        contract_id: contract_id.clone(),
        reason: format!("{what} is missing or invalid"),
    };
    let required = |name: &'static str| text(item, name).ok_or_else(|| corrupt(name));
    let small = |name: &'static str| number::<u32>(item, name).ok_or_else(|| corrupt(name));
    Ok(Contract {
        order_id: order_id.to_owned(),
        customer_id: required(attr::CUSTOMER_ID)?,
        customer_email: required(attr::CUSTOMER_EMAIL)?.into(),
        kind: parse_kind(&required(attr::KIND)?).ok_or_else(|| corrupt(attr::KIND))?,
        plan: required(attr::PLAN)?,
        sku: required(attr::SKU)?,
        quantity: small(attr::QUANTITY)?,
        term_months: small(attr::TERM_MONTHS)?,
        price_minor: number(item, attr::PRICE_MINOR).ok_or_else(|| corrupt(attr::PRICE_MINOR))?,
        currency: required(attr::CURRENCY)?,
        status: required(attr::STATUS)
            .ok()
            .as_deref()
            .and_then(ContractStatus::parse)
            .ok_or_else(|| corrupt(attr::STATUS))?,
        created_by: required(attr::CREATED_BY)?,
        cancelled_by: text(item, attr::CANCELLED_BY),
        announced: Announced::from_item(item).map_err(|reason| ContractsError::CorruptContract {
            order_id: order_id.to_owned(),
            contract_id: contract_id.clone(),
            reason,
        })?,
        contract_id: contract_id.clone(),
    })
}

fn store_error(operation: &'static str, order_id: &str, source: SdkFailure) -> ContractsError {
    ContractsError::Store {
        operation,
        order_id: order_id.to_owned(),
        source,
    }
}
