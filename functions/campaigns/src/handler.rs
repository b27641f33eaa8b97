//! Campaigns' decisions.
//!
//! | voucher of the order | rules on the customer's window | what happens | emits |
//! |---|---|---|---|
//! | none | `third_order` and/or `big_spender`, the customer's voucher of that rule unclaimed (or claimed by this order) | order recorded; the rule claimed for the order; one voucher written (conditional on the order having none) | VoucherIssued |
//! | none | a rule fires, but another order of the customer holds its voucher (orders arrived out of order) | order recorded; nothing more | — |
//! | none | nothing fires | order recorded | — |
//! | issued by this delivery, its event not yet published (a retry after publishing failed) | — | nothing new | the same VoucherIssued again (same `event_id`) |
//! | issued by this delivery, its event published (a run after the guard's record expired, a `reprocess-…` replay) | — | nothing | — |
//! | issued by another delivery of the order (re-published under a new `event_id`) | — | nothing: the order has its voucher | — |
//!
//! The guard catches a redelivery of the same `event_id`; the voucher table's condition catches
//! the same order under a new one; the claims table's condition gives each rule's voucher to one
//! order of the customer, whatever the arrival order. A claim this order already holds (a retry
//! after the claim was written and the voucher was not) is honoured before the rules run again,
//! so a window that grew in between cannot take the voucher back. Both versions of OrderPlaced are read as v2; the order was
//! placed at the event's `occurred_at`.

use herald::store::Announced;
use herald::{ConfigError, Detail, Emitted, Env, Envelope, Function, Metadata, Outgoing, Publisher};
use serde::{Deserialize, Serialize};
use shop_events::{OrderPlacedV1, OrderPlacedV2, VoucherIssuedV1, VoucherRule};

use crate::error::CampaignsError;
use crate::rules::{PlacedOrder, Rules};
use crate::store::{CLAIMS_KEY, CampaignStore, Issue, ORDERS_KEY, StoredVoucher, VOUCHERS_KEY};

herald::event_set! {
    /// What campaigns reacts to.
    #[derive(Debug)]
    pub enum CampaignsEvent {
        /// A placed order, either version read as the v2 summary.
        Placed(OrderPlacedV2) from (OrderPlacedV1, OrderPlacedV2),
    }
}

/// What the handler uses, built once at cold start by [`Function::from_env`].
#[derive(Debug, Clone)]
pub struct Deps {
    /// The customer-orders and voucher tables (`CAMPAIGN_ORDERS_TABLE`, `VOUCHERS_TABLE`).
    pub store: CampaignStore,
    /// The campaign rules and amounts: [`Rules::default`], not configured by the environment.
    pub rules: Rules,
    /// Publishes to the shop's bus (`EVENT_BUS_NAME`).
    pub publisher: Publisher,
}

impl Function for Deps {
    /// Also the producer of the events it publishes.
    const NAME: &'static str = "campaigns";
    type Event = CampaignsEvent;
    type Reaction = Reaction;
    type Error = CampaignsError;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            store: CampaignStore {
                orders: env.table("CAMPAIGN_ORDERS_TABLE", "placed orders per customer", ORDERS_KEY)?,
                vouchers: env.table("VOUCHERS_TABLE", "vouchers per qualifying order", VOUCHERS_KEY)?,
                claims: env.table(
                    "VOUCHER_CLAIMS_TABLE",
                    "the order holding each customer's voucher of a rule",
                    CLAIMS_KEY,
                )?,
            },
            rules: Rules::default(),
            publisher: env.publisher()?,
        })
    }
}

/// What campaigns did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The order met a rule: its voucher is issued.
    Issued,
    /// A retry of the delivery that issued the voucher, whose event was not published: the same
    /// event is published now.
    Reissued,
    /// A late run of the delivery that issued the voucher, whose event is on the bus already:
    /// nothing new.
    AlreadyAnnounced,
    /// The order's voucher was issued by another delivery of the order: nothing new.
    AlreadyIssued,
    /// The order is recorded and met no rule.
    NoVoucher,
    /// The order met a rule whose voucher another order of the customer holds: nothing new.
    RuleAlreadyRewarded,
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
/// [`CampaignsError`]: DynamoDB or publishing failures (retryable), a corrupt stored item (not).
pub async fn handle(deps: &Deps, event: CampaignsEvent) -> Result<Reaction, CampaignsError> {
    match event {
        CampaignsEvent::Placed(placed) => on_placed(deps, &placed).await,
    }
}

async fn on_placed(deps: &Deps, placed: &Envelope<OrderPlacedV2>) -> Result<Reaction, CampaignsError> {
    let cause = placed.metadata();
    let data = placed.data();
    // Checked first: a retry must re-emit even if the window changed since (an earlier order
    // arrived meanwhile), and a known voucher needs no rules at all.
    if let Some(existing) = deps.store.voucher(&data.order_id).await? {
        return already_issued(deps, cause, existing).await;
    }
    let order = PlacedOrder {
        order_id: data.order_id.clone(),
        total_minor: data.total_minor,
        currency: data.currency.clone(),
        placed_at: cause.occurred_at,
    };
    let order = deps.store.record_order(&data.customer_id, &order).await?;
    let award = match claimed_by(deps, &data.customer_id, &order).await? {
        Some(rule) => deps.rules.award(rule, &order),
        None => {
            let history = deps.store.orders(&data.customer_id).await?;
            let Some(award) = deps.rules.evaluate(&order, &history) else {
                return Ok(Reaction {
                    action: Action::NoVoucher,
                    emitted: Vec::new(),
                });
            };
            let holder = deps.store.claim(&data.customer_id, award.rule, &order.order_id).await?;
            if holder != order.order_id {
                tracing::info!(rule = ?award.rule, holder = %holder, "the customer's voucher of this rule went to another order");
                return Ok(Reaction {
                    action: Action::RuleAlreadyRewarded,
                    emitted: Vec::new(),
                });
            }
            award
        }
    };
    let stored = StoredVoucher {
        voucher: VoucherIssuedV1 {
            voucher_id: voucher_id(&order.order_id),
            customer_id: data.customer_id.clone(),
            qualifying_order_id: order.order_id.clone(),
            rule: award.rule,
            value_minor: award.value_minor,
            currency: order.currency.clone(),
            valid_until: award.valid_until,
        },
        issued_by: cause.event_id,
        announced: Announced::default(),
    };
    match deps.store.issue(&stored).await? {
        Issue::Issued => {
            tracing::info!(
                voucher_id = %stored.voucher.voucher_id,
                rule = ?stored.voucher.rule,
                "voucher issued"
            );
            herald::emf::record("VouchersIssued", herald::emf::Unit::Count, 1.0);
            publish(deps, cause, stored, Action::Issued).await
        }
        Issue::AlreadyIssued(existing) => already_issued(deps, cause, existing).await,
    }
}

/// The rule whose voucher `order` already holds the claim of, if any (big spender first, as the
/// rules prefer it).
async fn claimed_by(
    deps: &Deps,
    customer_id: &str,
    order: &PlacedOrder,
) -> Result<Option<VoucherRule>, CampaignsError> {
    for rule in [VoucherRule::BigSpender, VoucherRule::ThirdOrder] {
        if deps.store.claim_holder(customer_id, rule).await?.as_deref() == Some(order.order_id.as_str()) {
            return Ok(Some(rule));
        }
    }
    Ok(None)
}

/// The order has its voucher: re-emit it when this delivery issued it, else nothing.
async fn already_issued(deps: &Deps, cause: &Metadata, existing: StoredVoucher) -> Result<Reaction, CampaignsError> {
    if existing.issued_by == cause.event_id {
        publish(deps, cause, existing, Action::Reissued).await
    } else {
        Ok(Reaction {
            action: Action::AlreadyIssued,
            emitted: Vec::new(),
        })
    }
}

/// Publishes the voucher's event unless it was published before, then records it announced.
async fn publish(
    deps: &Deps,
    cause: &Metadata,
    stored: StoredVoucher,
    action: Action,
) -> Result<Reaction, CampaignsError> {
    let order_id = stored.voucher.qualifying_order_id.clone();
    let event = Detail::caused_by_stable(cause, "", stored.voucher, Deps::NAME);
    let outgoing = stored.announced.unpublished(vec![Outgoing::new(&event)?]);
    if outgoing.is_empty() {
        return Ok(Reaction {
            action: Action::AlreadyAnnounced,
            emitted: Vec::new(),
        });
    }
    deps.publisher.publish(&outgoing).await?;
    deps.store.announce(&order_id, &outgoing).await?;
    Ok(Reaction {
        action,
        emitted: outgoing.iter().map(Emitted::from).collect(),
    })
}

/// `vch-` and the order's number: `ord-1001` earns `vch-1001`. One voucher per order, so the
/// order names it.
fn voucher_id(order_id: &str) -> String {
    format!("vch-{}", order_id.strip_prefix("ord-").unwrap_or(order_id))
}
