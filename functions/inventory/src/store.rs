//! The stock and reservation tables. Every change is one DynamoDB transaction, so stock and
//! reservations can never disagree, and every condition makes a repeated change a no-op.
//!
//! - Stock (`sku`): `available` units, never below zero, and `reserved` units.
//! - Reservations (`order_id`): `status` (RESERVED, SHORT, RELEASED or CANCELLED_EARLY),
//!   `customer_id`, `lines` (what is held), `short` (what was missing).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use shop_events::{ShortLine, StockLine};

use crate::error::InventoryError;

/// Attribute names, in one place.
pub mod attr {
    /// Stock key.
    pub const SKU: &str = "sku";
    /// Units that can be reserved.
    pub const AVAILABLE: &str = "available";
    /// Units held for orders.
    pub const RESERVED: &str = "reserved";
    /// Reservation key.
    pub const ORDER_ID: &str = "order_id";
    /// The order's customer.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Reservation status.
    pub const STATUS: &str = "status";
    /// Held lines: a list of `{sku, quantity}` maps.
    pub const LINES: &str = "lines";
    /// Missing lines: a list of `{sku, requested, available}` maps.
    pub const SHORT: &str = "short";
    /// Line fields.
    pub const QUANTITY: &str = "quantity";
    /// Short-line fields.
    pub const REQUESTED: &str = "requested";
}

type Item = HashMap<String, AttributeValue>;

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    /// Stock is held for the order.
    Reserved,
    /// Some SKUs were short; nothing is held.
    Short,
    /// What was held went back to stock.
    Released,
    /// The order was cancelled before it was reserved; a later OrderPlaced reserves nothing.
    CancelledEarly,
}

impl ReservationStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "RESERVED",
            Self::Short => "SHORT",
            Self::Released => "RELEASED",
            Self::CancelledEarly => "CANCELLED_EARLY",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Reserved, Self::Short, Self::Released, Self::CancelledEarly]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// An order's reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The order.
    pub order_id: String,
    /// Its customer.
    pub customer_id: String,
    /// Where it stands.
    pub status: ReservationStatus,
    /// What is (or was) held.
    pub lines: Vec<StockLine>,
    /// What was missing, for SHORT reservations.
    pub short: Vec<ShortLine>,
}

/// What a reservation attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserve {
    /// Every line is now held.
    Reserved,
    /// These lines were short; nothing is held and the order is recorded SHORT.
    Short(Vec<ShortLine>),
    /// The order already has a reservation record (a retry, or a cancel that came first).
    AlreadyRecorded(Reservation),
}

/// The two tables.
#[derive(Debug, Clone)]
pub struct StockStore {
    client: Client,
    stock_table: String,
    reservations_table: String,
}

impl StockStore {
    /// A store over the two tables.
    pub fn new(client: Client, stock_table: impl Into<String>, reservations_table: impl Into<String>) -> Self {
        Self {
            client,
            stock_table: stock_table.into(),
            reservations_table: reservations_table.into(),
        }
    }

    /// Holds every line for the order, or nothing: one transaction that writes the reservation
    /// (only if the order has none) and takes each SKU's units (only if enough are available).
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails.
    pub async fn reserve(
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
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put_new(&reservation, order_id)?)
                .build(),
        ];
        for line in lines {
            let take = Update::builder()
                .table_name(&self.stock_table)
                .key(attr::SKU, AttributeValue::S(line.sku.clone()))
                .update_expression("SET #available = #available - :q ADD #reserved :q")
                .condition_expression("attribute_exists(#sku) AND #available >= :q")
                .expression_attribute_names("#available", attr::AVAILABLE)
                .expression_attribute_names("#reserved", attr::RESERVED)
                .expression_attribute_names("#sku", attr::SKU)
                .expression_attribute_values(":q", number(line.quantity))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(|e| store_error("TransactWriteItems", order_id, context(e)))?;
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
            return Err(store_error("TransactWriteItems", order_id, context(error)));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if failed(0) {
            return match reasons.first().and_then(|r| r.item()) {
                Some(item) => Ok(Reserve::AlreadyRecorded(self.reservation_from(order_id, item)?)),
                None => self
                    .reservation(order_id)
                    .await?
                    .map(Reserve::AlreadyRecorded)
                    .ok_or_else(|| {
                        store_error(
                            "TransactWriteItems",
                            order_id,
                            "reservation exists but cannot be read".to_owned(),
                        )
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
                    .and_then(|item| item.get(attr::AVAILABLE))
                    .and_then(|n| n.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            })
            .collect();
        if short.is_empty() {
            // Cancelled for another reason (a conflicting transaction): DynamoDB says try again.
            return Err(store_error("TransactWriteItems", order_id, context(error)));
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

    /// Records that the order was cancelled before any reservation, so a late OrderPlaced holds
    /// nothing. Returns the reservation that exists instead, if the order has one.
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails.
    pub async fn record_early_cancel(
        &self,
        order_id: &str,
        customer_id: &str,
    ) -> Result<Option<Reservation>, InventoryError> {
        self.put_if_absent(&Reservation {
            order_id: order_id.to_owned(),
            customer_id: customer_id.to_owned(),
            status: ReservationStatus::CancelledEarly,
            lines: Vec::new(),
            short: Vec::new(),
        })
        .await
    }

    /// Gives a RESERVED order's units back, once: one transaction that moves the reservation
    /// from RESERVED to RELEASED and returns each line's units. Returns false when the
    /// reservation was no longer RESERVED (released by an earlier delivery).
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails.
    pub async fn release(&self, reservation: &Reservation) -> Result<bool, InventoryError> {
        let order_id = reservation.order_id.as_str();
        let mark = Update::builder()
            .table_name(&self.reservations_table)
            .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .update_expression("SET #status = :released")
            .condition_expression("#status = :reserved")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(
                ":released",
                AttributeValue::S(ReservationStatus::Released.as_str().to_owned()),
            )
            .expression_attribute_values(
                ":reserved",
                AttributeValue::S(ReservationStatus::Reserved.as_str().to_owned()),
            )
            .build()
            .map_err(|e| store_error("TransactWriteItems", order_id, context(e)))?;
        let mut items = vec![TransactWriteItem::builder().update(mark).build()];
        for line in &reservation.lines {
            let give_back = Update::builder()
                .table_name(&self.stock_table)
                .key(attr::SKU, AttributeValue::S(line.sku.clone()))
                .update_expression("ADD #available :q, #reserved :minus_q")
                .expression_attribute_names("#available", attr::AVAILABLE)
                .expression_attribute_names("#reserved", attr::RESERVED)
                .expression_attribute_values(":q", number(line.quantity))
                .expression_attribute_values(":minus_q", AttributeValue::N(format!("-{}", line.quantity)))
                .build()
                .map_err(|e| store_error("TransactWriteItems", order_id, context(e)))?;
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
                other => Err(store_error("TransactWriteItems", order_id, context(other))),
            },
        }
    }

    /// The order's reservation, if it has one.
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails; `CorruptReservation` for an unreadable one.
    pub async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, InventoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.reservations_table)
            .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, context(e)))?;
        output
            .item()
            .map(|item| self.reservation_from(order_id, item))
            .transpose()
    }

    /// Units available for a SKU (0 when the SKU is unknown).
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails.
    pub async fn available(&self, sku: &str) -> Result<(u32, u32), InventoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.stock_table)
            .key(attr::SKU, AttributeValue::S(sku.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", sku, context(e)))?;
        let read = |name: &str| {
            output
                .item()
                .and_then(|i| i.get(name))
                .and_then(|n| n.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok((read(attr::AVAILABLE), read(attr::RESERVED)))
    }

    /// Sets a SKU's available units (stock intake; used by tests and the local bus).
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails.
    pub async fn set_available(&self, sku: &str, units: u32) -> Result<(), InventoryError> {
        self.client
            .put_item()
            .table_name(&self.stock_table)
            .item(attr::SKU, AttributeValue::S(sku.to_owned()))
            .item(attr::AVAILABLE, number(units))
            .item(attr::RESERVED, number(0))
            .send()
            .await
            .map_err(|e| store_error("PutItem", sku, context(e)))?;
        Ok(())
    }

    /// Writes the reservation unless the order has one; returns the existing one if so.
    async fn put_if_absent(&self, reservation: &Reservation) -> Result<Option<Reservation>, InventoryError> {
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
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(existing) => {
                    match existing.item() {
                        Some(item) => Ok(Some(self.reservation_from(order_id, item)?)),
                        None => self.reservation(order_id).await,
                    }
                }
                other => Err(store_error("PutItem", order_id, context(other))),
            },
        }
    }

    fn put_new(&self, reservation: &Reservation, order_id: &str) -> Result<Put, InventoryError> {
        let lines = reservation
            .lines
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    (attr::SKU.to_owned(), AttributeValue::S(l.sku.clone())),
                    (attr::QUANTITY.to_owned(), number(l.quantity)),
                ]))
            })
            .collect();
        let short = reservation
            .short
            .iter()
            .map(|l| {
                AttributeValue::M(HashMap::from([
                    (attr::SKU.to_owned(), AttributeValue::S(l.sku.clone())),
                    (attr::REQUESTED.to_owned(), number(l.requested)),
                    (attr::AVAILABLE.to_owned(), number(l.available)),
                ]))
            })
            .collect();
        Put::builder()
            .table_name(&self.reservations_table)
            .item(attr::ORDER_ID, AttributeValue::S(reservation.order_id.clone()))
            .item(attr::CUSTOMER_ID, AttributeValue::S(reservation.customer_id.clone()))
            .item(attr::STATUS, AttributeValue::S(reservation.status.as_str().to_owned()))
            .item(attr::LINES, AttributeValue::L(lines))
            .item(attr::SHORT, AttributeValue::L(short))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| store_error("PutItem", order_id, context(e)))
    }

    fn reservation_from(&self, order_id: &str, item: &Item) -> Result<Reservation, InventoryError> {
        let corrupt = |reason: &str| InventoryError::CorruptReservation {
            order_id: order_id.to_owned(),
            reason: reason.to_owned(),
        };
        let text = |map: &Item, name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
        let count = |map: &Item, name: &str| -> Option<u32> {
            map.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
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
                    quantity: count(m, attr::QUANTITY)?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| corrupt("a line lacks sku or quantity"))?;
        let short = maps(attr::SHORT)
            .iter()
            .map(|m| {
                Some(ShortLine {
                    sku: text(m, attr::SKU)?,
                    requested: count(m, attr::REQUESTED)?,
                    available: count(m, attr::AVAILABLE)?,
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
        })
    }
}

fn number(n: u32) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn store_error(operation: &'static str, order_id: &str, message: String) -> InventoryError {
    InventoryError::Store {
        operation,
        order_id: order_id.to_owned(),
        message,
    }
}

/// The SDK's error with its whole context, for messages.
fn context(error: impl std::error::Error) -> String {
    DisplayErrorContext(error).to_string()
}
