//! Contracts' decisions.
//!
//! | event | stored for the order | what happens | emits |
//! |---|---|---|---|
//! | OrderPlaced v1 | nothing | one ACTIVE contract per line with an add-on, each only if absent | ContractCreated per contract |
//! | OrderPlaced v1 | contracts created by this same event (a retry) | nothing new | the same ContractCreated events again (same `event_id`s), for those still ACTIVE whose event was not published |
//! | OrderPlaced v1 | contracts created by this same event, all ended since (a late replay) | nothing | — |
//! | OrderPlaced v1 | contracts created by another event for the order | nothing: already created | — |
//! | OrderPlaced v1 | the order's tombstone only | nothing: the order is already cancelled | — |
//! | OrderPlaced v1 | returned SKUs' tombstones only (returns that came first) | one ACTIVE contract per line with an add-on whose SKU was not returned (a kept phone keeps its insurance) | ContractCreated per contract |
//! | OrderPlaced v1 without add-ons | — | nothing to create | — |
//! | OrderPlaced v2 | — | refused, not retryable: it does not say which lines carry add-ons | — |
//! | OrderCancelled | ACTIVE contracts | the tombstone is written, then each ACTIVE one becomes CANCELLED, conditional on ACTIVE | ContractCancelled per contract (order_cancelled) |
//! | OrderReturned | ACTIVE contracts | the tombstone is written, then each ACTIVE one of a returned SKU becomes CANCELLED (a kept SKU keeps its contract) | ContractCancelled per ended contract (order_returned) |
//! | OrderCancelled / OrderReturned | contracts cancelled by this same event (a retry) | nothing new | the same ContractCancelled events again, for those whose event was not published |
//! | OrderCancelled / OrderReturned | contracts cancelled by another event | nothing: already cancelled | — |
//! | OrderCancelled | no contracts | the order's tombstone is recorded (a later OrderPlaced creates none) | — |
//! | OrderReturned | no contracts | each returned SKU's tombstone is recorded (a later OrderPlaced creates contracts only for the kept SKUs) | — |
//!
//! The tombstones are written first on every cancellation (the order's) and return (each
//! returned SKU's), even when contracts exist: contracts are created in a transaction
//! conditional on the absence of the order's tombstone and of their SKUs', and the query that
//! follows sees every contract created before it, so an OrderPlaced racing a cancellation or a
//! return never leaves an active contract of what ended behind.
//!
//! Every emitted event's `event_id` derives from the cause's and the `contract_id`, so a retry
//! after a failed publish re-publishes the same events, which consumers deduplicate. Each
//! contract keeps the ids of its events the bus accepted (`announced`): a run after the guard's
//! record expired, or a `reprocess-…` replay, publishes none of them again.

use std::collections::BTreeSet;

use herald::store::Announced;
use herald::{ConfigError, Detail, Emitted, Env, Envelope, EventDetail, Function, Metadata, Outgoing, Publisher};
use serde::{Deserialize, Serialize};
use shop_events::{
    ContractCancelReason, ContractCancelledV1, ContractCreatedV1, OrderCancelledV1, OrderPlaced, OrderPlacedV1,
    OrderPlacedV2, OrderReturnedV1,
};

use crate::error::ContractsError;
use crate::store::{Contract, ContractStatus, ContractStore, Create, contract_id};

herald::event_set! {
    /// What contracts reacts to.
    #[derive(Debug)]
    pub enum ContractsEvent {
        /// An order whose add-ons become contracts (v2 is refused with a typed error).
        Placed(OrderPlaced) from (OrderPlacedV1, OrderPlacedV2),
        /// A cancelled order whose contracts end.
        Cancelled(OrderCancelledV1) from (OrderCancelledV1,),
        /// A returned order whose contracts end.
        Returned(OrderReturnedV1) from (OrderReturnedV1,),
    }
}

/// What the handler uses, built once at cold start by [`Function::from_env`].
#[derive(Debug, Clone)]
pub struct Deps {
    /// The contracts table (`CONTRACTS_TABLE`): an order's contracts and its cancellation
    /// tombstone.
    pub contracts: ContractStore,
    /// Publishes to the shop's bus (`EVENT_BUS_NAME`).
    pub publisher: Publisher,
}

impl Function for Deps {
    /// The prefix of its idempotency keys and the producer of its events.
    const NAME: &'static str = "contracts";
    type Event = ContractsEvent;
    type Reaction = Reaction;
    type Error = ContractsError;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            contracts: env.store(
                "CONTRACTS_TABLE",
                "contracts per order",
                ContractStore::new,
                ContractStore::memory,
            )?,
            publisher: env.publisher()?,
        })
    }
}

/// What contracts did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A contract was created for every line with an add-on.
    Created,
    /// The order has no line with an add-on: nothing to create.
    NoAddOns,
    /// Another event already created the order's contracts.
    AlreadyCreated,
    /// This event created the order's contracts, which all ended since (a cancellation or
    /// returns): a late redelivery announces nothing.
    EndedSince,
    /// The order was cancelled or returned before it arrived; nothing is created.
    SkippedCancelledOrder,
    /// The order's active contracts were cancelled.
    Cancelled,
    /// The order's contracts were already cancelled, or the tombstone was already there.
    NothingToCancel,
    /// The cancellation came before the order and is recorded for it to find.
    RecordedEarlyCancel,
    /// A late run of the event that created or cancelled the contracts, whose events are on the
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
/// [`ContractsError`]: a thin order or a corrupt contract (not retryable), DynamoDB or publishing
/// failures (retryable).
pub async fn handle(deps: &Deps, event: ContractsEvent) -> Result<Reaction, ContractsError> {
    let (action, outgoing) = match event {
        ContractsEvent::Placed(placed) => create(deps, &placed).await?,
        ContractsEvent::Cancelled(cancelled) => {
            let data = cancelled.data();
            let ending = Ending {
                reason: ContractCancelReason::OrderCancelled,
                skus: None,
            };
            cancel(deps, cancelled.metadata(), &data.order_id, &data.customer_id, ending).await?
        }
        ContractsEvent::Returned(returned) => {
            let data = returned.data();
            let ending = Ending {
                reason: ContractCancelReason::OrderReturned,
                skus: Some(data.items.iter().map(|item| item.sku.clone()).collect()),
            };
            cancel(deps, returned.metadata(), &data.order_id, &data.customer_id, ending).await?
        }
    };
    let events: Vec<Outgoing> = outgoing.iter().map(|(_, event)| event.clone()).collect();
    deps.publisher.publish(&events).await?;
    for (contract, event) in &outgoing {
        deps.contracts.announce(contract, std::slice::from_ref(event)).await?;
    }
    Ok(Reaction {
        action,
        emitted: events.iter().map(Emitted::from).collect(),
    })
}

/// A contract and an event about it.
type About = (Contract, Outgoing);

/// `events` without those their contract says were published; `action`, or
/// [`Action::AlreadyAnnounced`] when every one was.
fn unpublished(action: Action, events: Vec<About>) -> (Action, Vec<About>) {
    let had_any = !events.is_empty();
    let left: Vec<About> = events
        .into_iter()
        .filter(|(contract, event)| !contract.announced.contains(event.event_id()))
        .collect();
    if had_any && left.is_empty() {
        (Action::AlreadyAnnounced, left)
    } else {
        (action, left)
    }
}

async fn create(deps: &Deps, placed: &Envelope<OrderPlaced>) -> Result<(Action, Vec<About>), ContractsError> {
    let order = placed.data().full().ok_or_else(|| ContractsError::ThinOrder {
        order_id: placed.data().order_id().to_owned(),
    })?;
    let cause = placed.metadata();
    let event_id = cause.event_id.to_string();
    let contracts = contracts_for(order, &event_id);
    if contracts.is_empty() {
        return Ok((Action::NoAddOns, vec![]));
    }
    let mut wanted = contracts;
    let (action, created) = loop {
        let stored = match deps.contracts.create(&order.order_id, &wanted).await? {
            Create::Created => break (Action::Created, wanted),
            Create::Refused(stored) => stored,
        };
        let returned = |c: &Contract| stored.returned.contains_key(&c.sku);
        if stored.contracts.is_empty() && stored.cancelled_by.is_none() && wanted.iter().any(returned) {
            // Returns came first: their SKUs get no contract, the kept ones still do. Each
            // round leaves out at least one contract, so this ends.
            wanted.retain(|c| !returned(c));
            if wanted.is_empty() {
                break (Action::SkippedCancelledOrder, vec![]);
            }
            continue;
        }
        break {
            let (ours, others): (Vec<Contract>, Vec<Contract>) =
                stored.contracts.into_iter().partition(|c| c.created_by == event_id);
            let active: Vec<Contract> = ours
                .iter()
                .filter(|c| c.status == ContractStatus::Active)
                .cloned()
                .collect();
            if !active.is_empty() {
                // A retry after the write: publish the same events again, from what was recorded,
                // for the contracts still active (an ended one is not announced again).
                (Action::Created, active)
            } else if !ours.is_empty() {
                (Action::EndedSince, vec![])
            } else if !others.is_empty() {
                (Action::AlreadyCreated, vec![])
            } else {
                (Action::SkippedCancelledOrder, vec![])
            }
        };
    };
    let outgoing = created
        .into_iter()
        .map(|contract| {
            let data = ContractCreatedV1 {
                contract_id: contract.contract_id.clone(),
                order_id: contract.order_id.clone(),
                customer_id: contract.customer_id.clone(),
                customer_email: contract.customer_email.clone(),
                kind: contract.kind,
                plan: contract.plan.clone(),
                sku: contract.sku.clone(),
                quantity: contract.quantity,
                term_months: contract.term_months,
                price_minor: contract.price_minor,
                currency: contract.currency.clone(),
            };
            let event = outgoing_event(cause, &contract.contract_id, data)?;
            Ok((contract, event))
        })
        .collect::<Result<_, ContractsError>>()?;
    Ok(unpublished(action, outgoing))
}

/// What ends an order's contracts: a cancellation ends every one; a return ends the contracts
/// of the SKUs it brings back (a kept phone keeps its insurance), and every one when it brings
/// back every covered SKU.
struct Ending {
    /// Why, as ContractCancelled says it.
    reason: ContractCancelReason,
    /// The returned SKUs; `None` for a cancellation.
    skus: Option<BTreeSet<String>>,
}

impl Ending {
    fn ends(&self, contract: &Contract) -> bool {
        self.skus.as_ref().is_none_or(|skus| skus.contains(&contract.sku))
    }
}

async fn cancel(
    deps: &Deps,
    cause: &Metadata,
    order_id: &str,
    customer_id: &str,
    ending: Ending,
) -> Result<(Action, Vec<About>), ContractsError> {
    let reason = ending.reason;
    let event_id = cause.event_id.to_string();
    match &ending.skus {
        None => deps.contracts.record_cancel(order_id, customer_id, &event_id).await?,
        Some(skus) => {
            deps.contracts
                .record_return(order_id, customer_id, &event_id, skus)
                .await?;
        }
    }
    let stored = deps.contracts.order(order_id).await?;
    let mut outgoing = Vec::new();
    for contract in stored.contracts.iter().filter(|c| ending.ends(c)) {
        let ours = match contract.status {
            ContractStatus::Active => deps.contracts.cancel(contract, &event_id).await?,
            // Cancelled by this same event: a retry after the write publishes the event again.
            ContractStatus::Cancelled => contract.cancelled_by.as_deref() == Some(event_id.as_str()),
        };
        if ours {
            let data = ContractCancelledV1 {
                contract_id: contract.contract_id.clone(),
                order_id: contract.order_id.clone(),
                customer_id: contract.customer_id.clone(),
                customer_email: contract.customer_email.clone(),
                kind: contract.kind,
                plan: contract.plan.clone(),
                reason,
            };
            let event = outgoing_event(cause, &contract.contract_id, data)?;
            outgoing.push((contract.clone(), event));
        }
    }
    let action = if !outgoing.is_empty() {
        Action::Cancelled
    } else if stored.contracts.is_empty()
        && (stored.cancelled_by.as_deref() == Some(event_id.as_str())
            || stored.returned.values().any(|cause| *cause == event_id))
    {
        Action::RecordedEarlyCancel
    } else {
        Action::NothingToCancel
    };
    Ok(unpublished(action, outgoing))
}

/// One contract per line with an add-on, numbered from 1 in line order.
fn contracts_for(order: &OrderPlacedV1, cause: &str) -> Vec<Contract> {
    order
        .items
        .iter()
        .filter_map(|item| item.add_on.as_ref().map(|add_on| (item, add_on)))
        .enumerate()
        .map(|(i, (item, add_on))| Contract {
            contract_id: contract_id(&order.order_id, i + 1),
            order_id: order.order_id.clone(),
            customer_id: order.customer.customer_id.clone(),
            customer_email: order.customer.email.clone(),
            kind: add_on.kind,
            plan: add_on.plan.clone(),
            sku: item.sku.clone(),
            quantity: item.quantity,
            term_months: add_on.term_months,
            price_minor: add_on.price_minor,
            currency: order.currency.clone(),
            status: ContractStatus::Active,
            created_by: cause.to_owned(),
            cancelled_by: None,
            announced: Announced::default(),
        })
        .collect()
}

fn outgoing_event<D: EventDetail>(cause: &Metadata, contract_id: &str, data: D) -> Result<Outgoing, ContractsError> {
    Ok(Outgoing::new(&Detail::caused_by_stable(
        cause,
        contract_id,
        data,
        Deps::NAME,
    ))?)
}
