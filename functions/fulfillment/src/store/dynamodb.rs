//! The shipments table in DynamoDB: every write is conditional, and a refused one returns the
//! item as it stands.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use herald::store::{Item, SdkFailure, n, number, s, text};
use shop_events::StockLine;

use super::{Change, Shipment, ShipmentStatus, attr, missing};
use crate::error::FulfillmentError;

/// The shipments table.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    client: Client,
    table: String,
}

impl Tables {
    pub(super) fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A consistent read of the order's item.
    pub(super) async fn shipment(&self, order_id: &str) -> Result<Option<Shipment>, FulfillmentError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::ORDER_ID, s(order_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, SdkFailure::new(e)))?;
        output.item().map(|item| shipment_from(order_id, item)).transpose()
    }

    /// One UpdateItem conditional on REQUESTED; a refused one returns the item as it stood.
    pub(super) async fn transition(
        &self,
        order_id: &str,
        to: ShipmentStatus,
        cause: Option<&str>,
    ) -> Result<Change, FulfillmentError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::ORDER_ID, s(order_id))
            .condition_expression("#status = :requested")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":requested", s(ShipmentStatus::Requested.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        update = match cause {
            Some(cause) => update
                .update_expression("SET #status = :to, #cancelled_by = :cause")
                .expression_attribute_names("#cancelled_by", attr::CANCELLED_BY)
                .expression_attribute_values(":cause", s(cause)),
            None => update.update_expression("SET #status = :to"),
        };
        match update.send().await {
            Ok(_) => Ok(Change::Done),
            Err(error) => match error.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => match failed.item() {
                    Some(item) => Ok(Change::Refused(shipment_from(order_id, item)?)),
                    // No old item: the order has no record, or the service did not return it.
                    None => Ok(self.shipment(order_id).await?.map_or(Change::NoRecord, Change::Refused)),
                },
                other => Err(store_error("UpdateItem", order_id, SdkFailure::new(other))),
            },
        }
    }

    /// One PutItem conditional on no item for the order; a refused one returns the item.
    pub(super) async fn put_if_absent(&self, shipment: &Shipment) -> Result<Option<Shipment>, FulfillmentError> {
        let order_id = shipment.order_id.as_str();
        let lines = shipment
            .lines
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    (attr::SKU.to_owned(), s(&l.sku)),
                    (attr::QUANTITY.to_owned(), n(l.quantity)),
                ]))
            })
            .collect();
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::ORDER_ID, s(&shipment.order_id))
            .item(attr::SHIPMENT_ID, s(&shipment.shipment_id))
            .item(attr::CUSTOMER_ID, s(&shipment.customer_id))
            .item(attr::STATUS, s(shipment.status.as_str()))
            .item(attr::LINES, AttributeValue::L(lines))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(cause) = &shipment.requested_by {
            put = put.item(attr::REQUESTED_BY, s(cause));
        }
        if let Some(cause) = &shipment.cancelled_by {
            put = put.item(attr::CANCELLED_BY, s(cause));
        }
        match put.send().await {
            Ok(_) => Ok(None),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(existing) => match existing.item() {
                    Some(item) => Ok(Some(shipment_from(order_id, item)?)),
                    None => self
                        .shipment(order_id)
                        .await?
                        .map(Some)
                        .ok_or_else(|| missing(order_id)),
                },
                other => Err(store_error("PutItem", order_id, SdkFailure::new(other))),
            },
        }
    }
}

fn shipment_from(order_id: &str, item: &Item) -> Result<Shipment, FulfillmentError> {
    let corrupt = |reason: &str| FulfillmentError::CorruptShipment {
        order_id: order_id.to_owned(),
        reason: reason.to_owned(),
    };
    let status = text(item, attr::STATUS)
        .as_deref()
        .and_then(ShipmentStatus::parse)
        .ok_or_else(|| corrupt("missing or unknown status"))?;
    let lines = item
        .get(attr::LINES)
        .and_then(|v| v.as_l().ok())
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|v| {
            let line = v.as_m().ok()?;
            Some(StockLine {
                sku: text(line, attr::SKU)?,
                quantity: number(line, attr::QUANTITY)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("a line lacks sku or quantity"))?;
    Ok(Shipment {
        order_id: order_id.to_owned(),
        shipment_id: text(item, attr::SHIPMENT_ID).ok_or_else(|| corrupt("missing shipment_id"))?,
        customer_id: text(item, attr::CUSTOMER_ID).unwrap_or_default(),
        status,
        lines,
        requested_by: text(item, attr::REQUESTED_BY),
        cancelled_by: text(item, attr::CANCELLED_BY),
    })
}

/// DynamoDB failed after the SDK's retries.
fn store_error(operation: &'static str, order_id: &str, source: SdkFailure) -> FulfillmentError {
    FulfillmentError::Store {
        operation,
        order_id: order_id.to_owned(),
        source,
    }
}
