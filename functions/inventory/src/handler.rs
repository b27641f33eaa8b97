//! Inventory's decisions.
//!
//! | event | reservation found | what happens | emits |
//! |---|---|---|---|
//! | OrderPlaced v1 | none | hold every line, or nothing if any SKU is short | StockReserved / StockShortage |
//! | OrderPlaced v1 | RESERVED, nothing released yet, or SHORT (a retry) | nothing new | the same event again (same `event_id`), unless it was published |
//! | OrderPlaced v1 | RELEASED, or RESERVED with units released since | nothing: what was reserved no longer holds | — |
//! | OrderPlaced v1 | CANCELLED_EARLY | nothing: the order is already cancelled | — |
//! | OrderPlaced v2 | — | refused, not retryable: no lines to reserve | — |
//! | OrderCancelled | RESERVED | every unit still held goes back to stock; RELEASED | — |
//! | OrderReturned | RESERVED | exactly the returned units it still holds go back to stock; RELEASED once nothing is held | — |
//! | OrderCancelled / OrderReturned | RESERVED, released by this same event before | nothing more (a redelivery that outlived the guard) | — |
//! | OrderCancelled / OrderReturned | none | CANCELLED_EARLY is recorded (reconciled when the order arrives) | — |
//! | OrderCancelled / OrderReturned | anything else | nothing: already released, or nothing was held | — |
//!
//! A release applies to the reservation as it was read (its `version`): two returns of one
//! order arriving together each read it again and apply in turn, neither giving back a unit
//! the other did.

use std::collections::BTreeMap;

use herald::{ConfigError, Detail, Emitted, Env, Envelope, Function, Metadata, Outgoing, Publisher};
use serde::{Deserialize, Serialize};
use shop_events::{
    OrderCancelledV1, OrderPlaced, OrderPlacedV1, OrderPlacedV2, OrderReturnedV1, StockLine, StockReservedV1,
    StockShortageV1,
};

use crate::error::InventoryError;
use crate::store::{Reservation, ReservationStatus, Reserve, StockStore};

herald::event_set! {
    /// What inventory reacts to.
    #[derive(Debug)]
    pub enum InventoryEvent {
        /// An order to reserve (v2 is refused with a typed error).
        Placed(OrderPlaced) from (OrderPlacedV1, OrderPlacedV2),
        /// An order whose reservation goes back to stock.
        Cancelled(OrderCancelledV1) from (OrderCancelledV1,),
        /// A returned order whose reservation goes back to stock.
        Returned(OrderReturnedV1) from (OrderReturnedV1,),
    }
}

/// What the handler uses, built once at cold start by [`Function::from_env`].
#[derive(Debug, Clone)]
pub struct Deps {
    /// The stock and reservation tables (`STOCK_TABLE`, `RESERVATIONS_TABLE`); in memory, the
    /// stock starts with `STOCK_SEED`.
    pub stock: StockStore,
    /// Publishes to the shop's bus (`EVENT_BUS_NAME`).
    pub publisher: Publisher,
}

/// `STOCK_SEED` (optional, memory backend only): the units each SKU starts with, as `SKU=units`
/// pairs separated by commas, e.g. `SKU-LAPTOP-14=5,SKU-MOUSE-01=10`, so a local run has stock
/// to reserve. Default: none. DynamoDB stock comes from intake instead; the seed is still
/// checked there, so a bad one fails every backend alike.
pub const STOCK_SEED: &str = "STOCK_SEED";

impl Function for Deps {
    /// The prefix of inventory's idempotency keys and the producer of its events.
    const NAME: &'static str = "inventory";
    type Event = InventoryEvent;
    type Reaction = Reaction;
    type Error = InventoryError;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let stock_table = env.required("STOCK_TABLE", "stock per SKU")?;
        let seed = env.parsed(STOCK_SEED, Vec::new(), stock_seed)?;
        let stock = env.store(
            "RESERVATIONS_TABLE",
            "reservations per order",
            |client, reservations_table| StockStore::new(client, stock_table, reservations_table),
            || StockStore::memory_with_stock(&seed),
        )?;
        Ok(Self {
            stock,
            publisher: env.publisher()?,
        })
    }
}

/// Reads a `STOCK_SEED` value; the error names the first entry that is not `SKU=units`.
fn stock_seed(text: &str) -> Result<Vec<(String, u32)>, String> {
    let not_a_seed = |entry: &str| format!("`{entry}` is not SKU=units (units a whole number)");
    herald::env::pairs(text)
        .map_err(|entry| not_a_seed(&entry))?
        .into_iter()
        .map(|(sku, units)| match units.parse() {
            Ok(units) => Ok((sku, units)),
            Err(_) => Err(not_a_seed(&format!("{sku}={units}"))),
        })
        .collect()
}

/// What inventory did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Every line is held.
    Reserved,
    /// Some SKU was short; nothing is held.
    Shortage,
    /// The order was cancelled before it was placed; nothing is held.
    SkippedCancelledOrder,
    /// The order was reserved, and units went back since (a cancellation or a return): a
    /// redelivery of the order announces nothing.
    ReleasedSince,
    /// The order's units (a cancellation: all still held; a return: the returned ones) went
    /// back to stock.
    Released,
    /// Nothing was held, or it was released before.
    NothingToRelease,
    /// The cancellation came first and is recorded for the order to find.
    RecordedEarlyCancel,
    /// A late run of the order whose StockReserved or StockShortage is on the bus already:
    /// nothing new.
    AlreadyAnnounced,
}

/// The handler's result, stored by the guard and answered to duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// What was done.
    pub action: Action,
    /// The events published.
    pub emitted: Vec<Emitted>,
}

/// Handles one decoded event.
///
/// # Errors
/// [`InventoryError`]: a thin order (not retryable), DynamoDB or publishing failures (retryable).
pub async fn handle(deps: &Deps, event: InventoryEvent) -> Result<Reaction, InventoryError> {
    match event {
        InventoryEvent::Placed(placed) => reserve(deps, &placed).await,
        InventoryEvent::Cancelled(cancelled) => {
            let data = cancelled.data();
            release(deps, cancelled.metadata(), &data.order_id, &data.customer_id, None).await
        }
        InventoryEvent::Returned(returned) => {
            let data = returned.data();
            let items: Vec<StockLine> = data
                .items
                .iter()
                .map(|item| StockLine {
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                })
                .collect();
            release(
                deps,
                returned.metadata(),
                &data.order_id,
                &data.customer_id,
                Some(&items),
            )
            .await
        }
    }
}

async fn reserve(deps: &Deps, placed: &Envelope<OrderPlaced>) -> Result<Reaction, InventoryError> {
    let order = placed.data().full().ok_or_else(|| InventoryError::ThinOrder {
        order_id: placed.data().order_id().to_owned(),
    })?;
    let lines = per_sku(order)?;
    let customer_id = &order.customer.customer_id;
    let (action, outgoing) = match deps.stock.reserve(&order.order_id, customer_id, &lines).await? {
        Reserve::Reserved => (Action::Reserved, vec![reserved(placed.metadata(), order, lines)?]),
        Reserve::Short(short) => {
            herald::emf::record("StockShortages", herald::emf::Unit::Count, 1.0);
            (Action::Shortage, vec![shortage(placed.metadata(), order, short)?])
        }
        Reserve::AlreadyRecorded(existing) => again(placed.metadata(), order, existing)?,
    };
    deps.publisher.publish(&outgoing).await?;
    deps.stock.announce(&order.order_id, &outgoing).await?;
    Ok(Reaction {
        action,
        emitted: outgoing.iter().map(Emitted::from).collect(),
    })
}

/// What a second run of the order finds to say about the reservation it recorded.
fn again(
    cause: &Metadata,
    order: &OrderPlacedV1,
    existing: Reservation,
) -> Result<(Action, Vec<Outgoing>), InventoryError> {
    let announced = existing.announced.clone();
    let (action, event) = match existing.status {
        // A retry after the write: publish the same event again, unless the bus has it.
        ReservationStatus::Reserved if existing.version == 0 => {
            (Action::Reserved, reserved(cause, order, existing.lines)?)
        }
        // Units went back since (a cancellation or a return): what StockReserved said no
        // longer holds, so it is not said again.
        ReservationStatus::Reserved | ReservationStatus::Released => return Ok((Action::ReleasedSince, Vec::new())),
        ReservationStatus::Short => (Action::Shortage, shortage(cause, order, existing.short)?),
        ReservationStatus::CancelledEarly => return Ok((Action::SkippedCancelledOrder, Vec::new())),
    };
    let outgoing = announced.unpublished(vec![event]);
    Ok(if outgoing.is_empty() {
        (Action::AlreadyAnnounced, outgoing)
    } else {
        (action, outgoing)
    })
}

/// How many times a release reads the reservation again when another release changed it.
const RELEASE_ATTEMPTS: u32 = 5;

/// Gives back what the event `cause` releases: every unit still held for a cancellation
/// (`returned` is `None`), or the returned units still held.
async fn release(
    deps: &Deps,
    cause: &Metadata,
    order_id: &str,
    customer_id: &str,
    returned: Option<&[StockLine]>,
) -> Result<Reaction, InventoryError> {
    let answer = |action| Reaction {
        action,
        emitted: Vec::new(),
    };
    let mut reservation = match deps.stock.reservation(order_id).await? {
        Some(reservation) => reservation,
        None => match deps.stock.record_early_cancel(order_id, customer_id).await? {
            None => return Ok(answer(Action::RecordedEarlyCancel)),
            // The reservation appeared meanwhile: release from that one.
            Some(reservation) => reservation,
        },
    };
    let cause = cause.event_id.to_string();
    for _ in 0..RELEASE_ATTEMPTS {
        if reservation.status != ReservationStatus::Reserved || reservation.released_by.contains(&cause) {
            return Ok(answer(Action::NothingToRelease));
        }
        let lines = match returned {
            None => reservation.lines.clone(),
            Some(items) => reservation.held_of(items),
        };
        if lines.is_empty() {
            return Ok(answer(Action::NothingToRelease));
        }
        if deps.stock.release(&reservation, &lines, &cause).await? {
            return Ok(answer(Action::Released));
        }
        reservation = deps
            .stock
            .reservation(order_id)
            .await?
            .ok_or_else(|| InventoryError::Vanished {
                operation: "TransactWriteItems",
                order_id: order_id.to_owned(),
            })?;
    }
    Err(InventoryError::Contended {
        order_id: order_id.to_owned(),
        attempts: RELEASE_ATTEMPTS,
    })
}

/// One line per SKU, in SKU order: an order may list a SKU twice.
///
/// # Errors
/// [`InventoryError::QuantityOverflow`] when one SKU's lines add up past `u32::MAX`.
fn per_sku(order: &OrderPlacedV1) -> Result<Vec<StockLine>, InventoryError> {
    let mut units: BTreeMap<&str, u32> = BTreeMap::new();
    for item in &order.items {
        let total = units.entry(&item.sku).or_default();
        *total = total
            .checked_add(item.quantity)
            .ok_or_else(|| InventoryError::QuantityOverflow {
                order_id: order.order_id.clone(),
                sku: item.sku.clone(),
            })?;
    }
    Ok(units
        .into_iter()
        .map(|(sku, quantity)| StockLine {
            sku: sku.to_owned(),
            quantity,
        })
        .collect())
}

fn reserved(cause: &Metadata, order: &OrderPlacedV1, lines: Vec<StockLine>) -> Result<Outgoing, InventoryError> {
    let data = StockReservedV1 {
        order_id: order.order_id.clone(),
        customer_id: order.customer.customer_id.clone(),
        lines,
    };
    Ok(Outgoing::new(&Detail::caused_by_stable(cause, "", data, Deps::NAME))?)
}

fn shortage(
    cause: &Metadata,
    order: &OrderPlacedV1,
    short: Vec<shop_events::ShortLine>,
) -> Result<Outgoing, InventoryError> {
    let data = StockShortageV1 {
        order_id: order.order_id.clone(),
        customer_id: order.customer.customer_id.clone(),
        short,
    };
    Ok(Outgoing::new(&Detail::caused_by_stable(cause, "", data, Deps::NAME))?)
}

#[cfg(test)]
mod tests {
    use herald_tests::TestResult;
    use herald_tests::aws::unreachable_config;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(unreachable_config(), pairs.iter().map(|(k, v)| (*k, *v)))
    }

    /// What `herald dev` gives inventory, with `seed` as `STOCK_SEED`.
    fn dev_with_seed(seed: &str) -> Env {
        env(&[
            ("STOCK_TABLE", "stock"),
            ("RESERVATIONS_TABLE", "reservations"),
            ("EVENT_BUS_NAME", "shop"),
            ("HERALD_STORES", "memory"),
            (STOCK_SEED, seed),
        ])
    }

    #[tokio::test]
    async fn a_stock_seed_reads_as_units_per_sku_and_a_bad_entry_is_named() -> TestResult {
        // Given a seed of two SKUs with a trailing comma, and one whose units are not a number
        let seeded = Deps::from_env(&dev_with_seed("SKU-A=5, SKU-B=10,"))?;
        let bad = Deps::from_env(&dev_with_seed("SKU-A=five")).map(|_| ());

        // Then the first starts with their units, and the second names the variable and the entry
        assert_eq!(seeded.stock.available("SKU-A").await?, (5, 0));
        assert_eq!(seeded.stock.available("SKU-B").await?, (10, 0));
        assert_eq!(
            bad,
            Err(ConfigError::Invalid {
                name: STOCK_SEED,
                value: "SKU-A=five".to_owned(),
                reason: "`SKU-A=five` is not SKU=units (units a whole number)".to_owned(),
            })
        );
        Ok(())
    }

    #[test]
    fn no_seed_starts_empty_and_a_missing_table_is_named() {
        assert_eq!(stock_seed(""), Ok(Vec::new()));
        let missing = Deps::from_env(&env(&[("RESERVATIONS_TABLE", "reservations")]))
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            missing,
            Err("environment variable STOCK_TABLE must be set (stock per SKU)".to_owned())
        );
    }
}
