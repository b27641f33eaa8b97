//! Fulfillment's decisions.
//!
//! | event | shipment record found | what happens | emits |
//! |---|---|---|---|
//! | StockReserved | none | REQUESTED is recorded, with the lines to ship | ShipmentRequested |
//! | StockReserved | requested by this same event (a retry), still REQUESTED | nothing new | the same ShipmentRequested again (same `event_id`), unless it was published |
//! | StockReserved | requested by this same event, since DISPATCHED or CANCELLED (a late replay) | nothing: what was requested has moved on | — |
//! | StockReserved | requested by another event for the order | nothing: already requested | — |
//! | StockReserved | CANCELLED_EARLY | nothing: the order is already cancelled | — |
//! | OrderCancelled | REQUESTED | CANCELLED, conditional on REQUESTED | ShipmentCancelled (order_cancelled) |
//! | OrderCancelled | CANCELLED by this same event (a retry) | nothing new | the same ShipmentCancelled again, unless it was published |
//! | OrderCancelled | CANCELLED by another event, or CANCELLED_EARLY | nothing: already cancelled | — |
//! | OrderCancelled | DISPATCHED | nothing: too late, the parcel has left | — |
//! | OrderCancelled | none | CANCELLED_EARLY is recorded (found by a later StockReserved) | — |
//!
//! Every emitted event's `event_id` derives from the cause's, so a retry after a failed publish
//! re-publishes the same event, which consumers deduplicate; the record names its cause
//! (`requested_by`, `cancelled_by`) so a retry can tell itself from another event, and keeps
//! the ids of the events the bus accepted (`announced`), so a run after the guard's record
//! expired, or a `reprocess-…` replay, publishes nothing again.

use herald::store::Announced;
use herald::{ConfigError, Detail, Emitted, Env, Envelope, Function, Metadata, Outgoing, Publisher};
use serde::{Deserialize, Serialize};
use shop_events::{OrderCancelledV1, ShipmentCancelReason, ShipmentCancelledV1, ShipmentRequestedV1, StockReservedV1};

use crate::error::FulfillmentError;
use crate::store::{KEY, Shipment, ShipmentStatus, ShipmentStore, shipment_id};

herald::event_set! {
    /// What fulfillment reacts to.
    #[derive(Debug)]
    pub enum FulfillmentEvent {
        /// An order whose stock is held: ask the warehouse to ship it.
        Reserved(StockReservedV1) from (StockReservedV1,),
        /// An order whose shipment is cancelled, unless it has left.
        Cancelled(OrderCancelledV1) from (OrderCancelledV1,),
    }
}

/// What the handler uses, built once at cold start by [`Function::from_env`].
#[derive(Debug, Clone)]
pub struct Deps {
    /// The shipments table (`SHIPMENTS_TABLE`).
    pub shipments: ShipmentStore,
    /// Publishes to the shop's bus (`EVENT_BUS_NAME`).
    pub publisher: Publisher,
}

impl Function for Deps {
    /// The prefix of its idempotency keys and the producer of its events.
    const NAME: &'static str = "fulfillment";
    type Event = FulfillmentEvent;
    type Reaction = Reaction;
    type Error = FulfillmentError;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            shipments: ShipmentStore::new(env.table("SHIPMENTS_TABLE", "shipments per order", KEY)?),
            publisher: env.publisher()?,
        })
    }
}

/// What fulfillment did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The warehouse was asked to ship the order.
    Requested,
    /// Another event already asked for this order's shipment.
    AlreadyRequested,
    /// This event asked for the shipment, which was dispatched or cancelled since: a late
    /// redelivery asks for nothing.
    MovedOnSince,
    /// The order was cancelled before its stock was reserved; nothing is shipped.
    SkippedCancelledOrder,
    /// The shipment was cancelled before dispatch.
    Cancelled,
    /// The shipment had already left the warehouse: too late to cancel.
    TooLateDispatched,
    /// Another event already cancelled the shipment.
    AlreadyCancelled,
    /// The cancellation came first and is recorded for the reservation to find.
    RecordedEarlyCancel,
    /// A late run of the event that requested or cancelled the shipment, whose event is on the
    /// bus already: nothing new.
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
/// [`FulfillmentError`]: a corrupt record (not retryable), DynamoDB or publishing failures
/// (retryable).
pub async fn handle(deps: &Deps, event: FulfillmentEvent) -> Result<Reaction, FulfillmentError> {
    let (order_id, (action, outgoing)) = match event {
        FulfillmentEvent::Reserved(reserved) => (reserved.data().order_id.clone(), request(deps, &reserved).await?),
        FulfillmentEvent::Cancelled(cancelled) => (cancelled.data().order_id.clone(), cancel(deps, &cancelled).await?),
    };
    deps.publisher.publish(&outgoing).await?;
    deps.shipments.announce(&order_id, &outgoing).await?;
    Ok(Reaction {
        action,
        emitted: outgoing.iter().map(Emitted::from).collect(),
    })
}

async fn request(
    deps: &Deps,
    reserved: &Envelope<StockReservedV1>,
) -> Result<(Action, Vec<Outgoing>), FulfillmentError> {
    let data = reserved.data();
    let cause = reserved.metadata();
    let event_id = cause.event_id.to_string();
    let existing = deps
        .shipments
        .request(&data.order_id, &data.customer_id, &data.lines, &event_id)
        .await?;
    Ok(match existing {
        None => {
            let event = ShipmentRequestedV1 {
                shipment_id: shipment_id(&data.order_id),
                order_id: data.order_id.clone(),
                customer_id: data.customer_id.clone(),
                lines: data.lines.clone(),
            };
            (Action::Requested, vec![outgoing(cause, event)?])
        }
        Some(existing) if existing.status == ShipmentStatus::CancelledEarly => (Action::SkippedCancelledOrder, vec![]),
        // A retry after the write: publish the same event again, from what was recorded, while
        // it still holds; once dispatched or cancelled, a late redelivery asks for nothing.
        Some(existing) if existing.requested_by.as_deref() == Some(event_id.as_str()) => match existing.status {
            ShipmentStatus::Requested => again(
                &existing.announced.clone(),
                Action::Requested,
                requested(cause, existing)?,
            ),
            _ => (Action::MovedOnSince, vec![]),
        },
        Some(_) => (Action::AlreadyRequested, vec![]),
    })
}

async fn cancel(
    deps: &Deps,
    cancelled: &Envelope<OrderCancelledV1>,
) -> Result<(Action, Vec<Outgoing>), FulfillmentError> {
    let data = cancelled.data();
    let cause = cancelled.metadata();
    let event_id = cause.event_id.to_string();
    let current = match deps.shipments.shipment(&data.order_id).await? {
        Some(shipment) => shipment,
        None => match deps
            .shipments
            .record_early_cancel(&data.order_id, &data.customer_id, &event_id)
            .await?
        {
            None => return Ok((Action::RecordedEarlyCancel, vec![])),
            // The shipment was requested meanwhile: cancel that one.
            Some(shipment) => shipment,
        },
    };
    let settled = if current.status == ShipmentStatus::Requested {
        match deps.shipments.cancel(&data.order_id, &event_id).await? {
            None => return Ok((Action::Cancelled, vec![shipment_cancelled(cause, current)?])),
            // Dispatched or cancelled meanwhile: never REQUESTED again.
            Some(now) => now,
        }
    } else {
        current
    };
    let ours = settled.cancelled_by.as_deref() == Some(event_id.as_str());
    Ok(match settled.status {
        ShipmentStatus::Dispatched => (Action::TooLateDispatched, vec![]),
        // A retry after the write: publish the same event again.
        ShipmentStatus::Cancelled if ours => again(
            &settled.announced.clone(),
            Action::Cancelled,
            shipment_cancelled(cause, settled)?,
        ),
        ShipmentStatus::CancelledEarly if ours => (Action::RecordedEarlyCancel, vec![]),
        ShipmentStatus::Cancelled | ShipmentStatus::CancelledEarly => (Action::AlreadyCancelled, vec![]),
        // `cancel` refuses only a record that is no longer REQUESTED; if the store says otherwise,
        // a retry reads it again.
        ShipmentStatus::Requested => {
            return Err(FulfillmentError::Inconsistent {
                operation: "UpdateItem",
                order_id: data.order_id.clone(),
                reason: "the cancellation was refused but the shipment is still REQUESTED",
            });
        }
    })
}

/// A retry's `event`, unless the record says the bus has it: then nothing.
fn again(announced: &Announced, action: Action, event: Outgoing) -> (Action, Vec<Outgoing>) {
    let outgoing = announced.unpublished(vec![event]);
    if outgoing.is_empty() {
        (Action::AlreadyAnnounced, outgoing)
    } else {
        (action, outgoing)
    }
}

fn requested(cause: &Metadata, shipment: Shipment) -> Result<Outgoing, FulfillmentError> {
    let event = ShipmentRequestedV1 {
        shipment_id: shipment.shipment_id,
        order_id: shipment.order_id,
        customer_id: shipment.customer_id,
        lines: shipment.lines,
    };
    outgoing(cause, event)
}

fn shipment_cancelled(cause: &Metadata, shipment: Shipment) -> Result<Outgoing, FulfillmentError> {
    let event = ShipmentCancelledV1 {
        shipment_id: shipment.shipment_id,
        order_id: shipment.order_id,
        customer_id: shipment.customer_id,
        reason: ShipmentCancelReason::OrderCancelled,
    };
    outgoing(cause, event)
}

fn outgoing<D: herald::EventDetail>(cause: &Metadata, data: D) -> Result<Outgoing, FulfillmentError> {
    Ok(Outgoing::new(&Detail::caused_by_stable(cause, "", data, Deps::NAME))?)
}
