//! Stock and reservations, in DynamoDB or in memory, with the same behaviour in both: every
//! change is all or nothing, so stock and reservations can never disagree, and every change is
//! conditional, so a repeated one is a no-op.
//!
//! - Stock (`sku`): `available` units, never below zero, and `reserved` units.
//! - Reservations (`order_id`): `status` (RESERVED, SHORT, RELEASED or CANCELLED_EARLY),
//!   `customer_id`, `lines` (what is held), `short` (what was missing).
//!
//! [`StockStore::new`] keeps them in two DynamoDB tables (`dynamodb`, one transaction per
//! change); [`StockStore::memory`] keeps them inside the process (`memory`, one lock per
//! change) for `herald dev`.
//!
//! Conditions, the same in both:
//! - a reservation is written only if the order has none (`attribute_not_exists(order_id)`);
//!   the one it collides with is the answer;
//! - units are taken only from a known SKU with enough available
//!   (`attribute_exists(sku) AND available >= quantity`);
//! - units go back only from a RESERVED reservation, which becomes RELEASED (`status = RESERVED`);
//! - one change names each SKU once, as a DynamoDB transaction changes each item once.

mod dynamodb;
mod memory;

use aws_sdk_dynamodb::Client;
use herald::store::Stored;
use shop_events::{ShortLine, StockLine};

use crate::error::InventoryError;
use dynamodb::Tables;
use memory::Memory;

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

/// Stock and reservations, in either backend. Clones share the same state.
#[derive(Debug, Clone)]
pub struct StockStore {
    /// Two DynamoDB tables, or this process's memory.
    storage: Stored<Tables, Memory>,
}

impl StockStore {
    /// A store over two DynamoDB tables.
    pub fn new(client: Client, stock_table: impl Into<String>, reservations_table: impl Into<String>) -> Self {
        Self {
            storage: Stored::Dynamo(Tables::new(client, stock_table, reservations_table)),
        }
    }

    /// An empty store in this process's memory: no SKU is in stock and no order is reserved.
    pub fn memory() -> Self {
        Self::memory_with_stock(&[])
    }

    /// A store in this process's memory whose stock starts with `seed` (units per SKU).
    pub fn memory_with_stock(seed: &[(String, u32)]) -> Self {
        Self {
            storage: Stored::Memory(Memory::with_stock(seed)),
        }
    }

    /// Holds every line for the order, or nothing: writes the reservation (only if the order has
    /// none) and takes each SKU's units (only if the SKU is known and enough are available), all
    /// at once. When the order has a record already, that record is the answer; otherwise, when
    /// a SKU is short, the order is recorded SHORT with every short line.
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails or two lines name one SKU (either backend
    /// refuses to change one SKU twice at once); `Vanished` when the order's record collides
    /// yet cannot be read; `CorruptReservation` for an unreadable one.
    pub async fn reserve(
        &self,
        order_id: &str,
        customer_id: &str,
        lines: &[StockLine],
    ) -> Result<Reserve, InventoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.reserve(order_id, customer_id, lines).await,
            Stored::Memory(memory) => memory.reserve(order_id, customer_id, lines),
        }
    }

    /// Records that the order was cancelled before any reservation, so a late OrderPlaced holds
    /// nothing. Returns the reservation that exists instead, if the order has one.
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails; `CorruptReservation` for an unreadable one.
    pub async fn record_early_cancel(
        &self,
        order_id: &str,
        customer_id: &str,
    ) -> Result<Option<Reservation>, InventoryError> {
        let tombstone = Reservation {
            order_id: order_id.to_owned(),
            customer_id: customer_id.to_owned(),
            status: ReservationStatus::CancelledEarly,
            lines: Vec::new(),
            short: Vec::new(),
        };
        match &self.storage {
            Stored::Dynamo(tables) => tables.put_if_absent(&tombstone).await,
            Stored::Memory(memory) => Ok(memory.put_if_absent(tombstone)),
        }
    }

    /// Gives a RESERVED order's units back, once: moves the reservation from RESERVED to
    /// RELEASED and returns each of `reservation`'s lines to stock, all at once. Returns false
    /// when the reservation was no longer RESERVED (released by an earlier delivery).
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails or two lines name one SKU.
    pub async fn release(&self, reservation: &Reservation) -> Result<bool, InventoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.release(reservation).await,
            Stored::Memory(memory) => memory.release(reservation),
        }
    }

    /// The order's reservation, if it has one.
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails; `CorruptReservation` for an unreadable one.
    pub async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, InventoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.reservation(order_id).await,
            Stored::Memory(memory) => Ok(memory.reservation(order_id)),
        }
    }

    /// A SKU's `(available, reserved)` units, each 0 when the SKU is unknown (or the count is
    /// not a `u32`).
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails.
    pub async fn available(&self, sku: &str) -> Result<(u32, u32), InventoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.available(sku).await,
            Stored::Memory(memory) => Ok(memory.available(sku)),
        }
    }

    /// Sets a SKU's available units, with none reserved (stock intake; used by tests and the
    /// local bus).
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails.
    pub async fn set_available(&self, sku: &str, units: u32) -> Result<(), InventoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.set_available(sku, units).await,
            Stored::Memory(memory) => {
                memory.set_available(sku, units);
                Ok(())
            }
        }
    }
}
