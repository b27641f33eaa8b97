//! Inventory's decisions.
//!
//! | event | reservation found | what happens | emits |
//! |---|---|---|---|
//! | OrderPlaced v1 | none | hold every line, or nothing if any SKU is short | StockReserved / StockShortage |
//! | OrderPlaced v1 | RESERVED or SHORT (a retry) | nothing new | the same event again (same `event_id`) |
//! | OrderPlaced v1 | CANCELLED_EARLY | nothing: the order is already cancelled | — |
//! | OrderPlaced v2 | — | refused, not retryable: no lines to reserve | — |
//! | OrderCancelled / OrderReturned | RESERVED | units go back to stock, once | — |
//! | OrderCancelled / OrderReturned | none | CANCELLED_EARLY is recorded (reconciled when the order arrives) | — |
//! | OrderCancelled / OrderReturned | anything else | nothing: already released, or nothing was held | — |

use std::collections::BTreeMap;

use herald::{Detail, Emitted, Envelope, Metadata, Outgoing, Publisher};
use serde::{Deserialize, Serialize};
use shop_events::{
    OrderCancelledV1, OrderPlaced, OrderPlacedV1, OrderPlacedV2, OrderReturnedV1, StockLine, StockReservedV1,
    StockShortageV1,
};

use crate::FUNCTION;
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

/// What the handler uses, built once by [`crate::wiring::consumer`].
#[derive(Debug, Clone)]
pub struct Deps {
    /// The stock and reservation tables.
    pub stock: StockStore,
    /// Publishes to the shop's bus.
    pub publisher: Publisher,
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
    /// The order's units went back to stock.
    Released,
    /// Nothing was held, or it was released before.
    NothingToRelease,
    /// The cancellation came first and is recorded for the order to find.
    RecordedEarlyCancel,
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
            release(deps, &data.order_id, &data.customer_id).await
        }
        InventoryEvent::Returned(returned) => {
            let data = returned.data();
            release(deps, &data.order_id, &data.customer_id).await
        }
    }
}

async fn reserve(deps: &Deps, placed: &Envelope<OrderPlaced>) -> Result<Reaction, InventoryError> {
    let order = placed.data().full().ok_or_else(|| InventoryError::ThinOrder {
        order_id: placed.data().order_id().to_owned(),
    })?;
    let lines = per_sku(order);
    let customer_id = &order.customer.customer_id;
    let (action, outgoing) = match deps.stock.reserve(&order.order_id, customer_id, &lines).await? {
        Reserve::Reserved => (Action::Reserved, vec![reserved(placed.metadata(), order, lines)?]),
        Reserve::Short(short) => (Action::Shortage, vec![shortage(placed.metadata(), order, short)?]),
        Reserve::AlreadyRecorded(existing) => match existing.status {
            // A retry after the write: publish the same event again; consumers deduplicate it.
            ReservationStatus::Reserved | ReservationStatus::Released => (
                Action::Reserved,
                vec![reserved(placed.metadata(), order, existing.lines)?],
            ),
            ReservationStatus::Short => (
                Action::Shortage,
                vec![shortage(placed.metadata(), order, existing.short)?],
            ),
            ReservationStatus::CancelledEarly => (Action::SkippedCancelledOrder, Vec::new()),
        },
    };
    deps.publisher.publish(&outgoing).await?;
    Ok(Reaction {
        action,
        emitted: outgoing.iter().map(Emitted::from).collect(),
    })
}

async fn release(deps: &Deps, order_id: &str, customer_id: &str) -> Result<Reaction, InventoryError> {
    let action = match deps.stock.reservation(order_id).await? {
        Some(reservation) => release_existing(deps, &reservation).await?,
        None => match deps.stock.record_early_cancel(order_id, customer_id).await? {
            None => Action::RecordedEarlyCancel,
            // The reservation appeared meanwhile: release that one.
            Some(reservation) => release_existing(deps, &reservation).await?,
        },
    };
    Ok(Reaction {
        action,
        emitted: Vec::new(),
    })
}

async fn release_existing(deps: &Deps, reservation: &Reservation) -> Result<Action, InventoryError> {
    if reservation.status == ReservationStatus::Reserved && deps.stock.release(reservation).await? {
        Ok(Action::Released)
    } else {
        Ok(Action::NothingToRelease)
    }
}

/// One line per SKU, in SKU order: an order may list a SKU twice.
fn per_sku(order: &OrderPlacedV1) -> Vec<StockLine> {
    let mut units: BTreeMap<&str, u32> = BTreeMap::new();
    for item in &order.items {
        *units.entry(&item.sku).or_default() += item.quantity;
    }
    units
        .into_iter()
        .map(|(sku, quantity)| StockLine {
            sku: sku.to_owned(),
            quantity,
        })
        .collect()
}

fn reserved(cause: &Metadata, order: &OrderPlacedV1, lines: Vec<StockLine>) -> Result<Outgoing, InventoryError> {
    let data = StockReservedV1 {
        order_id: order.order_id.clone(),
        customer_id: order.customer.customer_id.clone(),
        lines,
    };
    Ok(Outgoing::new(&Detail::caused_by_stable(cause, "", data, FUNCTION))?)
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
    Ok(Outgoing::new(&Detail::caused_by_stable(cause, "", data, FUNCTION))?)
}
