//! Order history's decisions.
//!
//! | event | entry `<occurred_at>#<event_id>` in the customer's history | what happens |
//! |---|---|---|
//! | OrderPlaced v1 or v2 (v1 read as its v2 summary) | absent | a `placed` entry: total, currency, item count |
//! | OrderCancelled v1 | absent | a `cancelled` entry: the reason |
//! | OrderReturned v1 | absent | a `returned` entry: the returned units per SKU and the reason |
//! | any | present (a redelivery that outlived the guard's record) | nothing more |
//!
//! Arrival order does not matter: the sort key orders the history by when each fact happened.
//! Nothing is emitted.

use herald::{ConfigError, Env, Function};
use serde::{Deserialize, Serialize};
use shop_events::{OrderCancelledV1, OrderPlacedV1, OrderPlacedV2, OrderReturnedV1};

use crate::error::OrderHistoryError;
use crate::store::{Entry, EntryDetail, HistoryStore, KEY};

herald::event_set! {
    /// What order history reacts to: every `shop.orders` event.
    #[derive(Debug)]
    pub enum OrderHistoryEvent {
        /// A placed order, at either version, read as the v2 summary.
        Placed(OrderPlacedV2) from (OrderPlacedV1, OrderPlacedV2),
        /// A cancelled order.
        Cancelled(OrderCancelledV1) from (OrderCancelledV1,),
        /// A returned order.
        Returned(OrderReturnedV1) from (OrderReturnedV1,),
    }
}

/// What the handler uses: only the history, as nothing is published.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The history table (`HISTORY_TABLE`).
    pub history: HistoryStore,
}

impl Function for Deps {
    const NAME: &'static str = "order-history";
    type Event = OrderHistoryEvent;
    type Reaction = Reaction;
    type Error = OrderHistoryError;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            history: HistoryStore::new(env.table("HISTORY_TABLE", "order history per customer", KEY)?),
        })
    }
}

/// What order history did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The event's entry was written.
    Recorded,
    /// The event's entry was there already; nothing was written.
    AlreadyRecorded,
}

/// The handler's result, stored by the guard and answered to duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// What was done.
    pub action: Action,
    /// Whose history.
    pub customer_id: String,
    /// The entry's sort key.
    pub entry: String,
}

/// Handles one decoded event.
///
/// # Errors
/// [`OrderHistoryError::Store`] (retryable) when DynamoDB fails.
pub async fn handle(deps: &Deps, event: OrderHistoryEvent) -> Result<Reaction, OrderHistoryError> {
    let entry = match event {
        OrderHistoryEvent::Placed(placed) => {
            let data = placed.data();
            let detail = EntryDetail::Placed {
                total_minor: data.total_minor,
                currency: data.currency.clone(),
                item_count: data.item_count,
            };
            Entry::of(placed.metadata(), &data.customer_id, &data.order_id, detail)
        }
        OrderHistoryEvent::Cancelled(cancelled) => {
            let data = cancelled.data();
            let detail = EntryDetail::Cancelled { reason: data.reason };
            Entry::of(cancelled.metadata(), &data.customer_id, &data.order_id, detail)
        }
        OrderHistoryEvent::Returned(returned) => {
            let data = returned.data();
            let detail = EntryDetail::Returned {
                items: data.items.clone(),
                reason: data.reason,
            };
            Entry::of(returned.metadata(), &data.customer_id, &data.order_id, detail)
        }
    };
    let written = deps.history.record(&entry).await?;
    tracing::info!(
        customer_id = %entry.customer_id,
        order_id = %entry.order_id,
        kind = entry.kind().as_str(),
        entry = %entry.entry,
        already_recorded = !written,
        "history entry handled"
    );
    Ok(Reaction {
        action: if written {
            Action::Recorded
        } else {
            Action::AlreadyRecorded
        },
        customer_id: entry.customer_id,
        entry: entry.entry,
    })
}
