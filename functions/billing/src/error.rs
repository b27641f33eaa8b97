//! Everything that can go wrong in billing, each variant retryable or not.

use herald::store::TableError;
use herald::{Classify, PublishError};

/// Billing's errors.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The payment arrived before its OrderPlaced: events are unordered. Retryable: the guard
    /// releases the claim, and the retry (or a redrive from the DLQ, if the order is later than
    /// every retry) finds the order.
    #[error("payment {payment_id}: order {order_id} is not yet known (its OrderPlaced has not arrived); retry later")]
    OrderNotYetKnown {
        /// The order paid for.
        order_id: String,
        /// The payment.
        payment_id: String,
    },
    /// The captured amount is not the order's total. Not retryable: the same payment never will be.
    #[error(
        "payment {payment_id} captured {paid_minor} {paid_currency} but order {order_id} totals {total_minor} {currency}; no invoice issued"
    )]
    PaymentMismatch {
        /// The order.
        order_id: String,
        /// The payment.
        payment_id: String,
        /// What was captured, minor units.
        paid_minor: u64,
        /// Its currency.
        paid_currency: String,
        /// The order's total, minor units.
        total_minor: u64,
        /// Its currency.
        currency: String,
    },
    /// A fat order's lines do not add up to its total: an invoice of it would be wrong. Not retryable.
    #[error(
        "order {order_id}: its lines, add-ons, tax and shipping add up to {lines_minor}, not its total {total_minor}"
    )]
    OrderTotalsDisagree {
        /// The order.
        order_id: String,
        /// The sum of the invoice lines.
        lines_minor: u64,
        /// The order's `total_minor`.
        total_minor: u64,
    },
    /// The order was invoiced for another payment: a second capture, for a human to refund. Not retryable.
    #[error(
        "payment {payment_id}: order {order_id} is already invoiced as {invoice_id} for payment {invoiced_payment_id}"
    )]
    InvoicedForAnotherPayment {
        /// The order.
        order_id: String,
        /// This payment.
        payment_id: String,
        /// The existing invoice.
        invoice_id: String,
        /// The payment the invoice names.
        invoiced_payment_id: String,
    },
    /// A table failed: DynamoDB after the SDK's retries (retryable), or an unreadable snapshot
    /// or invoice (not retryable: the same item reads the same way).
    #[error("order {order_id}: {source}")]
    Store {
        /// The order.
        order_id: String,
        /// The table's error, whole.
        #[source]
        source: TableError,
    },
    /// Publishing the invoice event failed. Retryable as the publisher says.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl Classify for BillingError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::OrderNotYetKnown { .. } => true,
            Self::Store { source, .. } => source.is_retryable(),
            Self::PaymentMismatch { .. }
            | Self::OrderTotalsDisagree { .. }
            | Self::InvoicedForAnotherPayment { .. } => false,
            Self::Publish(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::OrderNotYetKnown { .. } => "Billing.OrderNotYetKnown",
            Self::PaymentMismatch { .. } => "Billing.PaymentMismatch",
            Self::OrderTotalsDisagree { .. } => "Billing.OrderTotalsDisagree",
            Self::InvoicedForAnotherPayment { .. } => "Billing.InvoicedForAnotherPayment",
            Self::Store { .. } => "Billing.Store",
            Self::Publish(error) => error.error_type(),
        }
    }

    /// A payment before its order is a race of unordered delivery: the order arrives within
    /// seconds, and Lambda's next attempt (a minute later) finds it.
    fn is_deferred(&self) -> bool {
        matches!(self, Self::OrderNotYetKnown { .. })
    }
}
