//! Stock and reservations in this process's memory, for `herald dev`. Each change holds one lock
//! and checks every condition before it writes anything, so it is all or nothing like the
//! DynamoDB transaction it stands for, under the same conditions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use herald::Outgoing;
use herald::store::{Announced, SdkFailure, lock};
use shop_events::{ShortLine, StockLine};

use super::{Release, Reservation, ReservationStatus, Reserve};
use crate::error::InventoryError;

/// Both tables. Clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Units per SKU. A SKU missing here is unknown, like a missing item: it cannot be reserved.
    stock: BTreeMap<String, Units>,
    /// One record per order, never removed: a later event about the order finds it.
    reservations: BTreeMap<String, Reservation>,
}

/// A SKU's units. Signed like DynamoDB's numbers: giving units back after `set_available` reset
/// `reserved` takes it below zero, and such a count reads as 0, as it does from DynamoDB.
#[derive(Debug, Default, Clone, Copy)]
struct Units {
    available: i64,
    reserved: i64,
}

impl Memory {
    /// Tables whose stock starts with `seed` (units available per SKU) and no reservation.
    pub(super) fn with_stock(seed: &[(String, u32)]) -> Self {
        let stock = seed
            .iter()
            .map(|(sku, units)| {
                (
                    sku.clone(),
                    Units {
                        available: i64::from(*units),
                        reserved: 0,
                    },
                )
            })
            .collect();
        Self {
            state: Arc::new(Mutex::new(State {
                stock,
                reservations: BTreeMap::new(),
            })),
        }
    }

    /// Writes the reservation and takes every line's units if the order has no record and every
    /// SKU is known with enough available; otherwise records SHORT with every short line.
    pub(super) fn reserve(
        &self,
        order_id: &str,
        customer_id: &str,
        lines: &[StockLine],
    ) -> Result<Reserve, InventoryError> {
        one_update_per_sku(order_id, lines)?;
        let mut state = lock(&self.state);
        let state = &mut *state;
        if let Some(existing) = state.reservations.get(order_id) {
            return Ok(Reserve::AlreadyRecorded(existing.clone()));
        }
        let short: Vec<ShortLine> = lines
            .iter()
            .filter_map(|line| {
                let available = state.stock.get(&line.sku).map(|units| units.available);
                match available {
                    Some(available) if available >= i64::from(line.quantity) => None,
                    _ => Some(ShortLine {
                        sku: line.sku.clone(),
                        requested: line.quantity,
                        available: count(available.unwrap_or(0)),
                    }),
                }
            })
            .collect();
        let mut reservation = Reservation {
            order_id: order_id.to_owned(),
            customer_id: customer_id.to_owned(),
            status: ReservationStatus::Short,
            lines: Vec::new(),
            short: short.clone(),
            released_by: Vec::new(),
            version: 0,
            announced: Announced::default(),
        };
        let reserve = if short.is_empty() {
            for line in lines {
                // Known: a missing SKU would be short.
                if let Some(units) = state.stock.get_mut(&line.sku) {
                    units.available -= i64::from(line.quantity);
                    units.reserved += i64::from(line.quantity);
                }
            }
            reservation.status = ReservationStatus::Reserved;
            reservation.lines = lines.to_vec();
            Reserve::Reserved
        } else {
            Reserve::Short(short)
        };
        state.reservations.insert(order_id.to_owned(), reservation);
        Ok(reserve)
    }

    /// Gives `lines` back (to a SKU it creates if unknown, as DynamoDB's ADD does) and leaves
    /// `remaining` held, if the stored reservation is RESERVED, at `reservation`'s version and
    /// not yet released by `cause`; false otherwise.
    pub(super) fn release(&self, release: &Release<'_>) -> Result<bool, InventoryError> {
        let Release {
            reservation,
            lines,
            remaining,
            cause,
        } = release;
        one_update_per_sku(&reservation.order_id, lines)?;
        let mut state = lock(&self.state);
        let state = &mut *state;
        match state.reservations.get_mut(&reservation.order_id) {
            Some(stored)
                if stored.status == ReservationStatus::Reserved
                    && stored.version == reservation.version
                    && !stored.released_by.iter().any(|id| id == cause) =>
            {
                stored.lines = remaining.clone();
                if remaining.is_empty() {
                    stored.status = ReservationStatus::Released;
                }
                stored.version += 1;
                stored.released_by.push((*cause).to_owned());
            }
            _ => return Ok(false),
        }
        for line in *lines {
            let units = state.stock.entry(line.sku.clone()).or_default();
            units.available += i64::from(line.quantity);
            units.reserved -= i64::from(line.quantity);
        }
        Ok(true)
    }

    /// Writes the reservation unless the order has one; returns the existing one if so.
    pub(super) fn put_if_absent(&self, reservation: Reservation) -> Option<Reservation> {
        let mut state = lock(&self.state);
        match state.reservations.get(&reservation.order_id) {
            Some(existing) => Some(existing.clone()),
            None => {
                state.reservations.insert(reservation.order_id.clone(), reservation);
                None
            }
        }
    }

    /// Adds `events` to the reservation's announced ids.
    pub(super) fn announce(&self, order_id: &str, events: &[Outgoing]) -> Result<(), InventoryError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut state = lock(&self.state);
        let reservation = state
            .reservations
            .get_mut(order_id)
            .ok_or_else(|| InventoryError::Vanished {
                operation: "UpdateItem",
                order_id: order_id.to_owned(),
            })?;
        reservation.announced.add(events);
        Ok(())
    }

    pub(super) fn reservation(&self, order_id: &str) -> Option<Reservation> {
        lock(&self.state).reservations.get(order_id).cloned()
    }

    pub(super) fn available(&self, sku: &str) -> (u32, u32) {
        lock(&self.state)
            .stock
            .get(sku)
            .map_or((0, 0), |units| (count(units.available), count(units.reserved)))
    }

    pub(super) fn set_available(&self, sku: &str, units: u32) {
        lock(&self.state).stock.insert(
            sku.to_owned(),
            Units {
                available: i64::from(units),
                reserved: 0,
            },
        );
    }
}

/// DynamoDB refuses a transaction that changes one item twice; so does memory, rather than
/// checking each line against the same units and taking them twice.
fn one_update_per_sku(order_id: &str, lines: &[StockLine]) -> Result<(), InventoryError> {
    let mut skus = BTreeSet::new();
    match lines.iter().find(|line| !skus.insert(line.sku.as_str())) {
        None => Ok(()),
        Some(line) => Err(InventoryError::Store {
            operation: "TransactWriteItems",
            order_id: order_id.to_owned(),
            source: SdkFailure::new(SkuTwice(line.sku.clone())),
        }),
    }
}

/// The refusal DynamoDB answers (a `ValidationException`) to a transaction that changes one
/// item twice, which memory gives in its place.
#[derive(Debug)]
struct SkuTwice(String);

impl fmt::Display for SkuTwice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SKU {} appears twice: a transaction changes each item once", self.0)
    }
}

impl std::error::Error for SkuTwice {}

/// A count as DynamoDB's reader takes it: 0 unless it is a `u32`.
fn count(units: i64) -> u32 {
    u32::try_from(units).unwrap_or(0)
}
