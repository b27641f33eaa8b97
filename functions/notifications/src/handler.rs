//! Notifications' decisions, and what each message says.
//!
//! | event | outbox row `<kind>-<event_id>` | what happens |
//! |---|---|---|
//! | OrderPlaced v1 | none | the receipt (lines, add-ons, totals) is sent to the order's customer |
//! | ContractCancelled v1 | none | the cancellation notice (which contract, why) is sent to `customer_email` |
//! | either | present (a redelivery that outlived the guard's record) | nothing is sent again |
//! | OrderPlaced v2 | — | refused, not retryable: no email address and no lines |
//!
//! Nothing is emitted. The same fact re-published under a new `event_id` is a new message: see
//! the crate's documentation for why.

use herald::{ConfigError, Env, Envelope, Function, Metadata};
use serde::{Deserialize, Serialize};
use shop_events::{AddOnKind, ContractCancelReason, ContractCancelledV1, OrderPlaced, OrderPlacedV1, OrderPlacedV2};

use crate::error::NotificationsError;
use crate::sender::{Message, MessageKind, OutboxSender, Sender, Sent};
use crate::store::{KEY, Outbox};

herald::event_set! {
    /// What notifications reacts to.
    #[derive(Debug)]
    pub enum NotificationsEvent {
        /// An order to send the receipt for (v2 is refused with a typed error).
        Placed(OrderPlaced) from (OrderPlacedV1, OrderPlacedV2),
        /// A cancelled contract to tell its holder about.
        ContractCancelled(ContractCancelledV1) from (ContractCancelledV1,),
    }
}

/// What the handler uses: only the sender, as nothing is published.
#[derive(Debug, Clone)]
pub struct Deps<S = OutboxSender> {
    /// Where messages go: the outbox (`OUTBOX_TABLE`).
    pub sender: S,
}

impl Function for Deps {
    const NAME: &'static str = "notifications";
    type Event = NotificationsEvent;
    type Reaction = Reaction;
    type Error = NotificationsError;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let outbox = Outbox::new(env.table("OUTBOX_TABLE", "messages sent, one row each", KEY)?);
        Ok(Self {
            sender: OutboxSender::new(outbox),
        })
    }
}

/// What notifications did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The order's receipt was sent.
    SentReceipt,
    /// The contract's cancellation notice was sent.
    SentContractCancelled,
    /// The message had been sent for this event before; nothing was sent again.
    AlreadySent,
}

/// The handler's result, stored by the guard and answered to duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// What was done.
    pub action: Action,
    /// The message concerned: its outbox key.
    pub message_id: String,
}

/// Handles one decoded event.
///
/// # Errors
/// [`NotificationsError`]: a thin order (not retryable), or the sender's failure (retryable).
pub async fn handle<S: Sender>(deps: &Deps<S>, event: NotificationsEvent) -> Result<Reaction, NotificationsError> {
    let (message, action) = match event {
        NotificationsEvent::Placed(placed) => (receipt(&placed)?, Action::SentReceipt),
        NotificationsEvent::ContractCancelled(cancelled) => (
            contract_cancelled(cancelled.metadata(), cancelled.data()),
            Action::SentContractCancelled,
        ),
    };
    let sent = deps.sender.send(&message).await?;
    tracing::info!(
        message_id = %message.message_id,
        kind = message.kind.as_str(),
        order_id = %message.order_id,
        already_sent = sent == Sent::Already,
        "message handled"
    );
    Ok(Reaction {
        action: match sent {
            Sent::Now => action,
            Sent::Already => Action::AlreadySent,
        },
        message_id: message.message_id,
    })
}

fn receipt(placed: &Envelope<OrderPlaced>) -> Result<Message, NotificationsError> {
    let order = placed.data().full().ok_or_else(|| NotificationsError::ThinOrder {
        order_id: placed.data().order_id().to_owned(),
        customer_id: placed.data().customer_id().to_owned(),
    })?;
    Ok(Message {
        message_id: Message::id_for(placed.metadata(), MessageKind::Receipt),
        kind: MessageKind::Receipt,
        to: order.customer.email.clone(),
        subject: format!("Your receipt for order {}", order.order_id),
        body: receipt_body(order),
        order_id: order.order_id.clone(),
        customer_id: order.customer.customer_id.clone(),
    })
}

/// Order id, one line per item (and per add-on) with quantity, unit price and amount, totals.
fn receipt_body(order: &OrderPlacedV1) -> String {
    let money = |minor: u64| money(minor, &order.currency);
    let mut lines = vec![
        format!("Hello {},", order.customer.name),
        String::new(),
        format!("thank you for your order {}. Your receipt:", order.order_id),
        String::new(),
    ];
    for item in &order.items {
        let units = u64::from(item.quantity);
        lines.push(format!(
            "{} x {} ({}) at {}: {}",
            item.quantity,
            item.name,
            item.sku,
            money(item.unit_price_minor),
            money(item.unit_price_minor.saturating_mul(units)),
        ));
        if let Some(add_on) = &item.add_on {
            lines.push(format!(
                "    with {} {} ({} months), {} x {}: {}",
                add_on_kind(add_on.kind),
                add_on.plan,
                add_on.term_months,
                item.quantity,
                money(add_on.price_minor),
                money(add_on.price_minor.saturating_mul(units)),
            ));
        }
    }
    let totals = &order.totals;
    lines.extend([
        String::new(),
        format!("Subtotal: {}", money(totals.subtotal_minor)),
        format!("Tax: {}", money(totals.tax_minor)),
        format!("Shipping: {}", money(totals.shipping_minor)),
        format!("Total: {}", money(totals.total_minor)),
    ]);
    lines.join("\n")
}

fn contract_cancelled(cause: &Metadata, contract: &ContractCancelledV1) -> Message {
    let kind = add_on_kind(contract.kind);
    let why = match contract.reason {
        ContractCancelReason::OrderCancelled => "was cancelled",
        ContractCancelReason::OrderReturned => "was returned",
    };
    let body = [
        "Hello,".to_owned(),
        String::new(),
        format!(
            "your {kind} contract {} (plan {}), sold with order {}, has been cancelled because the order {why}.",
            contract.contract_id, contract.plan, contract.order_id
        ),
        "Its coverage has ended.".to_owned(),
    ]
    .join("\n");
    Message {
        message_id: Message::id_for(cause, MessageKind::ContractCancelled),
        kind: MessageKind::ContractCancelled,
        to: contract.customer_email.clone(),
        subject: format!("Your {kind} {} has been cancelled", contract.plan),
        body,
        order_id: contract.order_id.clone(),
        customer_id: contract.customer_id.clone(),
    }
}

fn add_on_kind(kind: AddOnKind) -> &'static str {
    match kind {
        AddOnKind::Warranty => "warranty",
        AddOnKind::Insurance => "insurance",
    }
}

/// An amount in minor units as the customer reads it, e.g. `1847.09 EUR`. Every currency the
/// shop sells in has two minor digits.
fn money(minor: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, minor % 100)
}
