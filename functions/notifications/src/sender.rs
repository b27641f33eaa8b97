//! The seam every message goes through: [`Sender`], and the [`OutboxSender`] this function
//! ships with, which "sends" by writing the message to the outbox.
//!
//! A message's id is derived from the cause's `event_id` and the message kind
//! ([`Message::id_for`]), and every sender records the message under that id with the condition
//! `attribute_not_exists(message_id)` before anything leaves the building. So a duplicate event
//! — even one redelivered after the idempotency guard's record expired — finds the row, and the
//! sender answers [`Sent::Already`] instead of sending again.
//!
//! The outbox is also what tests (and an operator) read to see exactly what was sent:
//! [`Outbox::sent`](crate::store::Outbox::sent) by id, [`Outbox::sent_to`](crate::store::Outbox::sent_to)
//! by address.
//!
//! # Plugging in a real sender (Amazon SES)
//!
//! A real sender is one more implementation of [`Sender`], the type of
//! [`Deps::sender`](crate::handler::Deps::sender) and built in its `from_env` in place of
//! [`OutboxSender`]; the handler does not change. For SES it would be:
//!
//! - **Dependency**: `aws-sdk-sesv2`, pinned once in the workspace's `[workspace.dependencies]`
//!   with `default-features = false` and the features the other AWS crates use.
//! - **Configuration**, read in [`Deps`](crate::handler::Deps)' `from_env`: `NOTIFICATIONS_FROM_ADDRESS`
//!   (the From address, a verified SES identity) and `SES_CONFIGURATION_SET` (the configuration
//!   set that publishes delivery, bounce and complaint events).
//! - **The struct**: `SesSender { outbox: Outbox, ses: aws_sdk_sesv2::Client, from: String,
//!   configuration_set: String }`, the clients built once at cold start.
//! - **`send(message)`**, outbox row first, so a retry after a crash does not resend:
//!   1. Put the outbox row with the same `attribute_not_exists(message_id)` condition as
//!      [`Outbox::record`](crate::store::Outbox::record), plus `status = PENDING`. If the
//!      condition fails and the stored row (returned with
//!      `ReturnValuesOnConditionCheckFailure::AllOld`) says `SENT`, answer [`Sent::Already`]:
//!      nothing is sent. If it says `PENDING`, an earlier attempt died between this step and
//!      step 3: go on to step 2 (at least once: a crash after SES accepted the mail and before
//!      step 3 sends it twice; skipping would lose it instead).
//!   2. `ses.send_email()` with `.from_email_address(from)`,
//!      `.destination(Destination::builder().to_addresses(message.to.expose()).build())`,
//!      `.content(EmailContent::builder().simple(Message::builder()
//!      .subject(Content::builder().data(&message.subject).charset("UTF-8").build()?)
//!      .body(Body::builder().text(Content::builder().data(&message.body).charset("UTF-8").build()?).build())
//!      .build()).build())`, `.configuration_set_name(configuration_set)` and
//!      `.email_tags(MessageTag::builder().name("message_id").value(&message.message_id).build()?)`
//!      so bounces and complaints from the configuration set name the outbox row (the id uses
//!      only letters, digits and dashes, as SES tag values require).
//!   3. Update the row to `status = SENT, ses_message_id = <SendEmailOutput::message_id>` with
//!      the condition `status = PENDING`, and answer [`Sent::Now`].
//! - **Errors**: a new `NotificationsError::Ses` variant keeping the SDK's context.
//!   `TooManyRequestsException`, `LimitExceededException`, `SendingPausedException` and service
//!   faults are retryable; `MessageRejected`, `BadRequestException`,
//!   `MailFromDomainNotVerifiedException`, `NotFoundException` (the configuration set) and
//!   `AccountSuspendedException` are not.
//! - **IAM**: `ses:SendEmail` on the From identity's ARN and the configuration set's ARN, and
//!   `dynamodb:PutItem` and `dynamodb:UpdateItem` on the outbox table.

use std::future::Future;

use herald::Metadata;
use serde::{Deserialize, Serialize};

use crate::error::NotificationsError;
use crate::store::Outbox;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// The receipt for a placed order.
    Receipt,
    /// The notice that a warranty or insurance contract was cancelled.
    ContractCancelled,
}

impl MessageKind {
    /// The kind as stored in the outbox and used in message ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::ContractCancelled => "contract-cancelled",
        }
    }

    /// The kind stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Receipt, Self::ContractCancelled]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One message to one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Derived from the cause's `event_id` and the kind ([`Message::id_for`]): one event, one message.
    pub message_id: String,
    /// What it is about.
    pub kind: MessageKind,
    /// The recipient's email address. Redacted in logs.
    pub to: herald::Sensitive<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The order it concerns.
    pub order_id: String,
    /// The customer it goes to.
    pub customer_id: String,
}

impl Message {
    /// The id of the message of `kind` caused by the event with `cause`'s metadata:
    /// `<kind>-<event_id>`, letters, digits and dashes only.
    pub fn id_for(cause: &Metadata, kind: MessageKind) -> String {
        format!("{}-{}", kind.as_str(), cause.event_id)
    }
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sent {
    /// The message went out with this call.
    Now,
    /// It had gone out before (a redelivered event); nothing was sent again.
    Already,
}

/// Sends messages, each id at most once.
pub trait Sender: Send + Sync {
    /// Sends `message` unless a message with its id was sent before.
    ///
    /// # Errors
    /// [`NotificationsError`]; retryable when the channel (or its record) failed for now.
    fn send(&self, message: &Message) -> impl Future<Output = Result<Sent, NotificationsError>> + Send;
}

/// The sender this function ships with: a message is sent when its outbox row is written.
#[derive(Debug, Clone)]
pub struct OutboxSender {
    outbox: Outbox,
}

impl OutboxSender {
    /// A sender writing to `outbox`.
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox }
    }

    /// The outbox it writes: a clone shares its rows, so a test can read what was sent.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

impl Sender for OutboxSender {
    async fn send(&self, message: &Message) -> Result<Sent, NotificationsError> {
        if self.outbox.record(message).await? {
            Ok(Sent::Now)
        } else {
            Ok(Sent::Already)
        }
    }
}
