//! Stock and reservations, in DynamoDB or in memory, with the same behaviour in both: every
//! change is all or nothing, so stock and reservations can never disagree, and every change is
//! conditional, so a repeated one is a no-op.
//!
//! - Stock (`sku`): `available` units, never below zero, and `reserved` units.
//! - Reservations (`order_id`): `status` (RESERVED, SHORT, RELEASED or CANCELLED_EARLY),
//!   `customer_id`, `lines` (what is still held), `short` (what was missing), `released_by`
//!   (the `event_id`s of the cancellation and returns that gave units back), `version`
//!   (one more on every release; absent reads 0) and `announced` (the ids of the StockReserved
//!   or StockShortage the bus accepted, so a late run publishes nothing again).
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
//! - units go back only from a RESERVED reservation that no one changed since it was read
//!   (`status = RESERVED AND version = read`) and only once per event
//!   (`NOT contains(released_by, event)`): a cancellation gives back everything still held and
//!   the reservation becomes RELEASED; a return gives back exactly the returned units still
//!   held, and the reservation stays RESERVED until nothing is held;
//! - one change names each SKU once, as a DynamoDB transaction changes each item once.

mod dynamodb;
mod memory;

use aws_sdk_dynamodb::Client;
use herald::Outgoing;
use herald::store::{Announced, Stored};
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
    /// A string set: the `event_id`s that released units.
    pub const RELEASED_BY: &str = "released_by";
    /// One more on every release.
    pub const VERSION: &str = "version";
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
    /// The `event_id`s of the cancellation and returns that released units, in no order.
    pub released_by: Vec<String>,
    /// One more on every release: a release applies only to the version it read.
    pub version: u64,
    /// The events about it that were published.
    pub announced: Announced,
}

impl Reservation {
    /// Of `wanted` units per SKU, those this reservation still holds: each SKU's quantity capped
    /// at what is held, SKUs it does not hold left out.
    pub fn held_of(&self, wanted: &[StockLine]) -> Vec<StockLine> {
        let mut held: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
        for line in wanted {
            if let Some(holding) = self.lines.iter().find(|l| l.sku == line.sku) {
                let units = held.entry(&holding.sku).or_default();
                *units = units.saturating_add(line.quantity).min(holding.quantity);
            }
        }
        held.into_iter()
            .filter(|(_, quantity)| *quantity > 0)
            .map(|(sku, quantity)| StockLine {
                sku: sku.to_owned(),
                quantity,
            })
            .collect()
    }

    /// What it still holds once `released` went back.
    fn after(&self, released: &[StockLine]) -> Vec<StockLine> {
        self.lines
            .iter()
            .filter_map(|line| {
                let gone = released.iter().find(|r| r.sku == line.sku).map_or(0, |r| r.quantity);
                let left = line.quantity.saturating_sub(gone);
                (left > 0).then(|| StockLine {
                    sku: line.sku.clone(),
                    quantity: left,
                })
            })
            .collect()
    }
}

/// One release, as both backends apply it.
struct Release<'a> {
    /// The reservation as read: it applies only to that version.
    reservation: &'a Reservation,
    /// The units going back.
    lines: &'a [StockLine],
    /// What stays held.
    remaining: Vec<StockLine>,
    /// The releasing event's `event_id`.
    cause: &'a str,
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
            released_by: Vec::new(),
            version: 0,
            announced: Announced::default(),
        };
        match &self.storage {
            Stored::Dynamo(tables) => tables.put_if_absent(&tombstone).await,
            Stored::Memory(memory) => Ok(memory.put_if_absent(tombstone)),
        }
    }

    /// Gives `lines` (units the reservation holds: [`Reservation::held_of`]) back to stock for
    /// the event `cause`, all at once: the reservation keeps what is left (RELEASED when nothing
    /// is), counts one more version and records `cause`. Returns false, changing nothing, when
    /// the reservation is no longer RESERVED, changed since `reservation` was read, or already
    /// released units for `cause`: read it again to tell which.
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails or two lines name one SKU.
    pub async fn release(
        &self,
        reservation: &Reservation,
        lines: &[StockLine],
        cause: &str,
    ) -> Result<bool, InventoryError> {
        let release = Release {
            reservation,
            lines,
            remaining: reservation.after(lines),
            cause,
        };
        match &self.storage {
            Stored::Dynamo(tables) => tables.release(&release).await,
            Stored::Memory(memory) => memory.release(&release),
        }
    }

    /// Records the reservation's `events` as published.
    ///
    /// # Errors
    /// [`InventoryError::Store`] when DynamoDB fails; `Vanished` when the reservation is gone.
    pub async fn announce(&self, order_id: &str, events: &[Outgoing]) -> Result<(), InventoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.announce(order_id, events).await,
            Stored::Memory(memory) => memory.announce(order_id, events),
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
