//! Billing's decisions.
//!
//! | event | found | what happens | emits |
//! |---|---|---|---|
//! | OrderPlaced v1 | no snapshot | snapshot with one line per item (`<name> x<qty>`), per add-on (`<Kind> <plan>`), tax and shipping | — |
//! | OrderPlaced v2 | no snapshot | snapshot with one line `Order <order_id>` for the total (thin: no lines to itemise) | — |
//! | OrderPlaced v1 | lines do not add up to the total | refused, not retryable | — |
//! | OrderPlaced | a snapshot | nothing: the first snapshot stands | — |
//! | PaymentCaptured | no snapshot | refused, retryable: the order has not arrived yet | — |
//! | PaymentCaptured | amount or currency ≠ the order's total | refused, not retryable, naming both amounts | — |
//! | PaymentCaptured | no invoice | the invoice is written, once (conditional) | InvoiceIssued |
//! | PaymentCaptured | the invoice this delivery wrote, its event not yet published (a retry after a failed publish) | nothing new | the same InvoiceIssued again (same `event_id`) |
//! | PaymentCaptured | the invoice this delivery wrote, its event published (a run after the guard's record expired, a `reprocess-…` replay) | nothing | — |
//! | PaymentCaptured | an invoice of this payment, written by another delivery | nothing | — |
//! | PaymentCaptured | an invoice of another payment | refused, not retryable: a second capture, for a human | — |

use herald::store::Announced;
use herald::{ConfigError, Detail, Emitted, Env, Envelope, Function, Metadata, Outgoing, Publisher};
use serde::{Deserialize, Serialize};
use shop_events::{
    AddOnKind, InvoiceIssuedV1, InvoiceLine, OrderPlaced, OrderPlacedV1, OrderPlacedV2, PaymentCapturedV1,
};

use crate::error::BillingError;
use crate::store::{BillingStore, Issue, KEY, OrderSnapshot, StoredInvoice};

herald::event_set! {
    /// What billing reacts to.
    #[derive(Debug)]
    pub enum BillingEvent {
        /// An order to snapshot: itemised from v1, one line from v2.
        Placed(OrderPlaced) from (OrderPlacedV1, OrderPlacedV2),
        /// A payment to invoice.
        Captured(PaymentCapturedV1) from (PaymentCapturedV1,),
    }
}

/// What the handler uses, built once at cold start by [`Function::from_env`].
#[derive(Debug, Clone)]
pub struct Deps {
    /// The order-snapshot and invoice tables (`BILLING_ORDERS_TABLE`, `INVOICES_TABLE`).
    pub store: BillingStore,
    /// Publishes to the shop's bus (`EVENT_BUS_NAME`).
    pub publisher: Publisher,
}

impl Function for Deps {
    /// The prefix of billing's idempotency keys and the producer of its events.
    const NAME: &'static str = "billing";
    type Event = BillingEvent;
    type Reaction = Reaction;
    type Error = BillingError;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            store: BillingStore {
                orders: env.table("BILLING_ORDERS_TABLE", "order snapshots", KEY)?,
                invoices: env.table("INVOICES_TABLE", "invoices per order", KEY)?,
            },
            publisher: env.publisher()?,
        })
    }
}

/// What billing did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The order's snapshot is written.
    OrderRecorded,
    /// The order had a snapshot already.
    OrderAlreadyRecorded,
    /// The payment's invoice is issued.
    Invoiced,
    /// A retry of the delivery that issued the invoice, whose event was not published: the same
    /// event is published now.
    Reissued,
    /// A late run of the delivery that issued the invoice, whose event is on the bus already:
    /// nothing new.
    AlreadyAnnounced,
    /// The payment's invoice was issued by another delivery of the payment: nothing new.
    AlreadyInvoiced,
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
/// [`BillingError`]: an order not yet known, DynamoDB or publishing failures (retryable); a
/// payment that does not match its order, an order whose lines do not add up, a second payment
/// for an invoiced order, a corrupt stored item (not retryable).
pub async fn handle(deps: &Deps, event: BillingEvent) -> Result<Reaction, BillingError> {
    match event {
        BillingEvent::Placed(placed) => record(deps, placed.data()).await,
        BillingEvent::Captured(captured) => invoice(deps, &captured).await,
    }
}

async fn record(deps: &Deps, placed: &OrderPlaced) -> Result<Reaction, BillingError> {
    let snapshot = snapshot(placed)?;
    let action = if deps.store.record_order(&snapshot).await? {
        Action::OrderRecorded
    } else {
        Action::OrderAlreadyRecorded
    };
    Ok(Reaction {
        action,
        emitted: Vec::new(),
    })
}

async fn invoice(deps: &Deps, captured: &Envelope<PaymentCapturedV1>) -> Result<Reaction, BillingError> {
    let cause = captured.metadata();
    let payment = captured.data();
    let order = deps
        .store
        .order(&payment.order_id)
        .await?
        .ok_or_else(|| BillingError::OrderNotYetKnown {
            order_id: payment.order_id.clone(),
            payment_id: payment.payment_id.clone(),
        })?;
    if payment.amount_minor != order.total_minor || payment.currency != order.currency {
        return Err(BillingError::PaymentMismatch {
            order_id: order.order_id,
            payment_id: payment.payment_id.clone(),
            paid_minor: payment.amount_minor,
            paid_currency: payment.currency.clone(),
            total_minor: order.total_minor,
            currency: order.currency,
        });
    }
    let stored = StoredInvoice {
        invoice: InvoiceIssuedV1 {
            invoice_id: invoice_id(&order.order_id),
            order_id: order.order_id,
            customer_id: order.customer_id,
            payment_id: payment.payment_id.clone(),
            total_minor: order.total_minor,
            currency: order.currency,
            lines: order.lines,
        },
        issued_by: cause.event_id,
        announced: Announced::default(),
    };
    match deps.store.issue(&stored).await? {
        Issue::Issued => {
            tracing::info!(invoice_id = %stored.invoice.invoice_id, "invoice issued");
            publish(deps, cause, stored, Action::Invoiced).await
        }
        Issue::AlreadyIssued(existing) if existing.issued_by == cause.event_id => {
            publish(deps, cause, existing, Action::Reissued).await
        }
        Issue::AlreadyIssued(existing) if existing.invoice.payment_id == payment.payment_id => Ok(Reaction {
            action: Action::AlreadyInvoiced,
            emitted: Vec::new(),
        }),
        Issue::AlreadyIssued(existing) => Err(BillingError::InvoicedForAnotherPayment {
            order_id: existing.invoice.order_id,
            payment_id: payment.payment_id.clone(),
            invoice_id: existing.invoice.invoice_id,
            invoiced_payment_id: existing.invoice.payment_id,
        }),
    }
}

/// Publishes the invoice's event unless it was published before, then records it announced.
async fn publish(
    deps: &Deps,
    cause: &Metadata,
    stored: StoredInvoice,
    action: Action,
) -> Result<Reaction, BillingError> {
    let order_id = stored.invoice.order_id.clone();
    let event = Detail::caused_by_stable(cause, "", stored.invoice, Deps::NAME);
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

/// What billing keeps of a placed order: its invoice lines, which must add up to its total.
fn snapshot(placed: &OrderPlaced) -> Result<OrderSnapshot, BillingError> {
    match placed {
        OrderPlaced::Full(order) => {
            let lines = itemised(order);
            let lines_minor = lines.iter().fold(0, |sum: u64, l| sum.saturating_add(l.amount_minor));
            if lines_minor != order.totals.total_minor {
                return Err(BillingError::OrderTotalsDisagree {
                    order_id: order.order_id.clone(),
                    lines_minor,
                    total_minor: order.totals.total_minor,
                });
            }
            Ok(OrderSnapshot {
                order_id: order.order_id.clone(),
                customer_id: order.customer.customer_id.clone(),
                total_minor: order.totals.total_minor,
                currency: order.currency.clone(),
                lines,
            })
        }
        // Thin: invoiced as one line rather than guessing lines.
        OrderPlaced::Thin(order) => Ok(OrderSnapshot {
            order_id: order.order_id.clone(),
            customer_id: order.customer_id.clone(),
            total_minor: order.total_minor,
            currency: order.currency.clone(),
            lines: vec![InvoiceLine {
                description: format!("Order {}", order.order_id),
                quantity: 1,
                amount_minor: order.total_minor,
            }],
        }),
    }
}

/// One line per item, its add-on (one per unit) right after it, then tax and shipping.
fn itemised(order: &OrderPlacedV1) -> Vec<InvoiceLine> {
    let mut lines = Vec::with_capacity(order.items.len() * 2 + 2);
    for item in &order.items {
        lines.push(InvoiceLine {
            description: format!("{} x{}", item.name, item.quantity),
            quantity: item.quantity,
            amount_minor: item.unit_price_minor.saturating_mul(u64::from(item.quantity)),
        });
        if let Some(add_on) = &item.add_on {
            let kind = match add_on.kind {
                AddOnKind::Warranty => "Warranty",
                AddOnKind::Insurance => "Insurance",
            };
            lines.push(InvoiceLine {
                description: format!("{kind} {}", add_on.plan),
                quantity: item.quantity,
                amount_minor: add_on.price_minor.saturating_mul(u64::from(item.quantity)),
            });
        }
    }
    for (description, amount_minor) in [
        ("Tax", order.totals.tax_minor),
        ("Shipping", order.totals.shipping_minor),
    ] {
        lines.push(InvoiceLine {
            description: description.to_owned(),
            quantity: 1,
            amount_minor,
        });
    }
    lines
}

/// `inv-` and the order's number: `ord-1001` is invoiced as `inv-1001`. One invoice per order,
/// so the order names it.
fn invoice_id(order_id: &str) -> String {
    format!("inv-{}", order_id.strip_prefix("ord-").unwrap_or(order_id))
}

#[cfg(test)]
mod tests {
    use herald::RawEvent;
    use herald_tests::TestResult;
    use herald_tests::fixtures::sample_json;

    use super::*;

    fn sample_order(relative: &str) -> TestResult<OrderPlacedV1> {
        let raw = RawEvent::from_value(sample_json(relative)?);
        Ok(raw.decode::<OrderPlacedV1>()?.detail.data)
    }

    fn line(description: &str, quantity: u32, amount_minor: u64) -> InvoiceLine {
        InvoiceLine {
            description: description.to_owned(),
            quantity,
            amount_minor,
        }
    }

    #[test]
    fn a_fat_order_is_invoiced_item_by_item_with_add_ons_tax_and_shipping() -> TestResult {
        // Given ord-1001: a laptop with a warranty and two mice
        let order = sample_order("shop.orders/OrderPlaced/v1.sample.json")?;

        // When its snapshot is taken
        let snapshot = snapshot(&OrderPlaced::Full(order))?;

        // Then each item, the add-on, tax and shipping are lines adding up to the total
        assert_eq!(
            snapshot.lines,
            [
                line("Laptop 14\" x1", 1, 129_900),
                line("Warranty extended-3y", 1, 19_900),
                line("Wireless Mouse x2", 2, 4_998),
                line("Tax", 1, 29_412),
                line("Shipping", 1, 499),
            ]
        );
        assert_eq!(snapshot.total_minor, 184_709);
        Ok(())
    }

    #[test]
    fn an_add_on_is_billed_once_per_unit_of_its_item() -> TestResult {
        // Given two phones, each insured
        let mut order = sample_order("shop.orders/OrderPlaced/v1.sample.insured.json")?;
        order.items[0].quantity = 2;
        order.totals.total_minor = 2 * 99_900 + 2 * 14_900 + order.totals.tax_minor + order.totals.shipping_minor;

        // When its lines are computed
        let lines = itemised(&order);

        // Then the insurance covers both units
        assert_eq!(lines[0], line("Phone X x2", 2, 199_800));
        assert_eq!(lines[1], line("Insurance theft-and-damage", 2, 29_800));
        Ok(())
    }

    #[test]
    fn a_fat_order_whose_lines_do_not_add_up_is_refused() -> TestResult {
        // Given ord-1001 with a total one cent off
        let mut order = sample_order("shop.orders/OrderPlaced/v1.sample.json")?;
        order.totals.total_minor += 1;

        // When its snapshot is taken
        let error = snapshot(&OrderPlaced::Full(order)).err().ok_or("must be refused")?;

        // Then the error names both sums
        assert!(matches!(
            error,
            BillingError::OrderTotalsDisagree {
                lines_minor: 184_709,
                total_minor: 184_710,
                ..
            }
        ));
        Ok(())
    }
}
