//! The stock and reservation tables in DynamoDB. Every change is one transaction, so stock and
//! reservations can never disagree, and every condition makes a repeated change a no-op.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use herald::Outgoing;
use herald::store::{Announced, Item, Key, SdkFailure, Table, TableError, n, number, s, text};
use shop_events::{ShortLine, StockLine};

use super::{Release, Reservation, ReservationStatus, Reserve, attr};
use crate::error::InventoryError;

/// The two tables.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    client: Client,
    stock_table: String,
    reservations_table: String,
    /// The reservations table as a [`Table`], for what it offers ([`Table::announce`]).
    reservations: Table,
}

impl Tables {
    pub(super) fn new(client: Client, stock_table: impl Into<String>, reservations_table: impl Into<String>) -> Self {
        let reservations_table = reservations_table.into();
        let reservations = Table::dynamo(client.clone(), &reservations_table, Key::partition(attr::ORDER_ID));
        Self {
            client,
            stock_table: stock_table.into(),
            reservations_table,
            reservations,
        }
    }

    /// One transaction that writes the reservation (only if the order has none) and takes each
    /// SKU's units (only if enough are available); when it is cancelled, the reasons say which.
    pub(super) async fn reserve(
        &self,
        order_id: &str,
        customer_id: &str,
        lines: &[StockLine],
    ) -> Result<Reserve, InventoryError> {
        let reservation = Reservation {
            order_id: order_id.to_owned(),
            customer_id: customer_id.to_owned(),
            status: ReservationStatus::Reserved,
            lines: lines.to_vec(),
            short: Vec::new(),
            released_by: Vec::new(),
            version: 0,
            announced: Announced::default(),
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put_new(&reservation, order_id)?)
                .build(),
        ];
        for line in lines {
            let take = Update::builder()
                .table_name(&self.stock_table)
                .key(attr::SKU, s(&line.sku))
                .update_expression("SET #available = #available - :q ADD #reserved :q")
                .condition_expression("attribute_exists(#sku) AND #available >= :q")
                .expression_attribute_names("#available", attr::AVAILABLE)
                .expression_attribute_names("#reserved", attr::RESERVED)
                .expression_attribute_names("#sku", attr::SKU)
                .expression_attribute_values(":q", n(line.quantity))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(|e| store_error("TransactWriteItems", order_id, SdkFailure::new(e)))?;
            items.push(TransactWriteItem::builder().update(take).build());
        }
        let outcome = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let error = match outcome {
            Ok(_) => return Ok(Reserve::Reserved),
            Err(error) => error.into_service_error(),
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &error else {
            return Err(store_error("TransactWriteItems", order_id, SdkFailure::new(error)));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(0) {
            return match reasons.first().and_then(|r| r.item()) {
                Some(item) => Ok(Reserve::AlreadyRecorded(reservation_from(order_id, item)?)),
                None => self
                    .reservation(order_id)
                    .await?
                    .map(Reserve::AlreadyRecorded)
                    .ok_or_else(|| InventoryError::Vanished {
                        operation: "TransactWriteItems",
                        order_id: order_id.to_owned(),
                    }),
            };
        }
        let short: Vec<ShortLine> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| failed(i + 1))
            .map(|(i, line)| ShortLine {
                sku: line.sku.clone(),
                requested: line.quantity,
                available: reasons
                    .get(i + 1)
                    .and_then(|r| r.item())
                    .and_then(|item| number(item, attr::AVAILABLE))
                    .unwrap_or(0),
            })
            .collect();
        if short.is_empty() {
            // Cancelled for another reason (a conflicting transaction): DynamoDB says try again.
            return Err(store_error("TransactWriteItems", order_id, SdkFailure::new(error)));
        }
        let recorded = Reservation {
            status: ReservationStatus::Short,
            lines: Vec::new(),
            short: short.clone(),
            ..reservation
        };
        match self.put_if_absent(&recorded).await? {
            None => Ok(Reserve::Short(short)),
            Some(existing) => Ok(Reserve::AlreadyRecorded(existing)),
        }
    }

    /// One transaction that leaves `remaining` held (RELEASED when empty), counts the version
    /// and records `cause`, conditional on RESERVED, the version read and `cause` not yet
    /// recorded, and adds each of `lines`' units back.
    pub(super) async fn release(&self, release: &Release<'_>) -> Result<bool, InventoryError> {
        let Release {
            reservation,
            lines,
            remaining,
            cause,
        } = release;
        let order_id = reservation.order_id.as_str();
        let status = match remaining.is_empty() {
            true => ReservationStatus::Released,
            false => ReservationStatus::Reserved,
        };
        let mark = Update::builder()
            .table_name(&self.reservations_table)
            .key(attr::ORDER_ID, s(order_id))
            .update_expression("SET #status = :status, #lines = :lines, #version = :next ADD #released_by :cause")
            .condition_expression(
                "#status = :reserved AND (attribute_not_exists(#version) OR #version = :read) \
                 AND NOT contains(#released_by, :event)",
            )
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#lines", attr::LINES)
            .expression_attribute_names("#version", attr::VERSION)
            .expression_attribute_names("#released_by", attr::RELEASED_BY)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":lines", lines_value(remaining))
            .expression_attribute_values(":next", n(reservation.version + 1))
            .expression_attribute_values(":read", n(reservation.version))
            .expression_attribute_values(":cause", AttributeValue::Ss(vec![(*cause).to_owned()]))
            .expression_attribute_values(":event", s(*cause))
            .expression_attribute_values(":reserved", s(ReservationStatus::Reserved.as_str()))
            .build()
            .map_err(|e| store_error("TransactWriteItems", order_id, SdkFailure::new(e)))?;
        let mut items = vec![TransactWriteItem::builder().update(mark).build()];
        for line in *lines {
            let give_back = Update::builder()
                .table_name(&self.stock_table)
                .key(attr::SKU, s(&line.sku))
                .update_expression("ADD #available :q, #reserved :minus_q")
                .expression_attribute_names("#available", attr::AVAILABLE)
                .expression_attribute_names("#reserved", attr::RESERVED)
                .expression_attribute_values(":q", n(line.quantity))
                .expression_attribute_values(":minus_q", n(-i64::from(line.quantity)))
                .build()
                .map_err(|e| store_error("TransactWriteItems", order_id, SdkFailure::new(e)))?;
            items.push(TransactWriteItem::builder().update(give_back).build());
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(cancelled)
                    if cancelled.cancellation_reasons().first().and_then(|r| r.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(false)
                }
                other => Err(store_error("TransactWriteItems", order_id, SdkFailure::new(other))),
            },
        }
    }

    /// A consistent read of the order's reservation.
    pub(super) async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, InventoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.reservations_table)
            .key(attr::ORDER_ID, s(order_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, SdkFailure::new(e)))?;
        output.item().map(|item| reservation_from(order_id, item)).transpose()
    }

    /// A consistent read of the SKU's item; a missing item or attribute reads 0.
    pub(super) async fn available(&self, sku: &str) -> Result<(u32, u32), InventoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.stock_table)
            .key(attr::SKU, s(sku))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", sku, SdkFailure::new(e)))?;
        let read = |name: &str| output.item().and_then(|item| number(item, name)).unwrap_or(0);
        Ok((read(attr::AVAILABLE), read(attr::RESERVED)))
    }

    /// Overwrites the SKU's item.
    pub(super) async fn set_available(&self, sku: &str, units: u32) -> Result<(), InventoryError> {
        self.client
            .put_item()
            .table_name(&self.stock_table)
            .item(attr::SKU, s(sku))
            .item(attr::AVAILABLE, n(units))
            .item(attr::RESERVED, n(0))
            .send()
            .await
            .map_err(|e| store_error("PutItem", sku, SdkFailure::new(e)))?;
        Ok(())
    }

    /// Adds `events` to the reservation's announced ids: [`Table::announce`] on the reservations
    /// table.
    pub(super) async fn announce(&self, order_id: &str, events: &[Outgoing]) -> Result<(), InventoryError> {
        self.reservations
            .announce(order_id, None, events)
            .await
            .map_err(|error| match error {
                TableError::Sdk { operation, source, .. } => store_error(operation, order_id, source),
                _ => InventoryError::Vanished {
                    operation: "UpdateItem",
                    order_id: order_id.to_owned(),
                },
            })
    }

    /// Writes the reservation unless the order has one; returns the existing one if so.
    pub(super) async fn put_if_absent(&self, reservation: &Reservation) -> Result<Option<Reservation>, InventoryError> {
        let order_id = reservation.order_id.as_str();
        let put = self.put_new(reservation, order_id)?;
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(put.expression_attribute_names().cloned())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(existing) => match existing.item() {
                    Some(item) => Ok(Some(reservation_from(order_id, item)?)),
                    None => self.reservation(order_id).await,
                },
                other => Err(store_error("PutItem", order_id, SdkFailure::new(other))),
            },
        }
    }

    fn put_new(&self, reservation: &Reservation, order_id: &str) -> Result<Put, InventoryError> {
        let short = reservation
            .short
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    (attr::SKU.to_owned(), s(&l.sku)),
                    (attr::REQUESTED.to_owned(), n(l.requested)),
                    (attr::AVAILABLE.to_owned(), n(l.available)),
                ]))
            })
            .collect();
        Put::builder()
            .table_name(&self.reservations_table)
            .item(attr::ORDER_ID, s(&reservation.order_id))
            .item(attr::CUSTOMER_ID, s(&reservation.customer_id))
            .item(attr::STATUS, s(reservation.status.as_str()))
            .item(attr::LINES, lines_value(&reservation.lines))
            .item(attr::SHORT, AttributeValue::L(short))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| store_error("PutItem", order_id, SdkFailure::new(e)))
    }
}

/// Held lines as the item stores them: a list of `{sku, quantity}` maps.
fn lines_value(lines: &[StockLine]) -> AttributeValue {
    AttributeValue::L(
        lines
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    (attr::SKU.to_owned(), s(&l.sku)),
                    (attr::QUANTITY.to_owned(), n(l.quantity)),
                ]))
            })
            .collect(),
    )
}

/// The reservation an item holds.
fn reservation_from(order_id: &str, item: &Item) -> Result<Reservation, InventoryError> {
    let corrupt = |reason: &str| InventoryError::CorruptReservation {
        order_id: order_id.to_owned(),
        reason: reason.to_owned(),
    };
    let maps = |name: &str| -> Vec<Item> {
        item.get(name)
            .and_then(|v| v.as_l().ok())
            .map(|list| list.iter().filter_map(|v| v.as_m().ok().cloned()).collect())
            .unwrap_or_default()
    };
    let status = text(item, attr::STATUS)
        .as_deref()
        .and_then(ReservationStatus::parse)
        .ok_or_else(|| corrupt("missing or unknown status"))?;
    let lines = maps(attr::LINES)
        .iter()
        .map(|m| {
            Some(StockLine {
                sku: text(m, attr::SKU)?,
                quantity: number(m, attr::QUANTITY)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("a line lacks sku or quantity"))?;
    let short = maps(attr::SHORT)
        .iter()
        .map(|m| {
            Some(ShortLine {
                sku: text(m, attr::SKU)?,
                requested: number(m, attr::REQUESTED)?,
                available: number(m, attr::AVAILABLE)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("a short line lacks a field"))?;
    Ok(Reservation {
        order_id: order_id.to_owned(),
        customer_id: text(item, attr::CUSTOMER_ID).unwrap_or_default(),
        status,
        lines,
        short,
        released_by: item
            .get(attr::RELEASED_BY)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default(),
        version: number(item, attr::VERSION).unwrap_or(0),
        announced: Announced::from_item(item).map_err(|reason| corrupt(&reason))?,
    })
}

fn store_error(operation: &'static str, order_id: &str, source: SdkFailure) -> InventoryError {
    InventoryError::Store {
        operation,
        order_id: order_id.to_owned(),
        source,
    }
}
