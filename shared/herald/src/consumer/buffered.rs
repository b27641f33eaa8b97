//! Buffered consumers: a function whose rule sends its events to an SQS queue, which Lambda
//! drains in batches (`BatchSize`, `MaximumBatchingWindowInSeconds`, `ReportBatchItemFailures`).
//!
//! The same `main.rs` serves both deliveries: [`Delivery`] tells an SQS batch (`Records`) from an
//! EventBridge event by its shape. For a batch, [`Consumer::handle_batch`]
//! 1. parses and decodes each message's body (an EventBridge event) and opens its span, exactly
//!    as a single event's (same fields, same outcome line, same EMF lines, the message's
//!    `AWSTraceHeader` as the handler's trace);
//! 2. runs every event that needs its handler through the guard's batch claims
//!    ([`IdempotencyGuard::run_batch`](crate::idempotency::IdempotencyGuard::run_batch)): ten
//!    fresh events cost one claim transaction and one completion transaction;
//! 3. answers Lambda's partial batch response: an event handled now or before is acknowledged
//!    (SQS deletes it); a retryable failure, a deferral and an event another invocation holds
//!    are listed in `batchItemFailures`, so the queue delivers them again after its visibility
//!    timeout;
//! 4. sends to the function's dead-letter queue (`HERALD_DEAD_LETTER_QUEUE_URL`), then
//!    acknowledges, what will not succeed by being received again: an error that is not
//!    retryable at once (bad input never loops through the queue), and a retryable one on its
//!    last receive (`HERALD_MAX_RECEIVES`). The dead letter is the message's body with the
//!    attributes an EventBridge target's dead letter has (`TARGET_ARN`, `ERROR_CODE`,
//!    `ERROR_MESSAGE`, `RETRY_ATTEMPTS`), so the redrive reads it and sends it back for this
//!    function alone. If that send fails, the event stays in `batchItemFailures`: nothing is
//!    acknowledged that is not handled or dead-lettered. Without a dead-letter queue every
//!    failure stays in the queue, whose redrive policy moves it after its `maxReceiveCount`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use serde::{Deserialize, Deserializer, Serialize};
use tracing::Instrument;

use super::{Consumer, ConsumerError, NOT_RETRYABLE_PREFIX, Prepared, event_span};
use crate::emf::Recorded;
use crate::envelope::RawEvent;
use crate::error::Classify;
use crate::function::{ConfigError, Env, Function};
use crate::idempotency::{BatchItem, GuardError, Guarded};
use crate::{Call, trace};

/// The variable naming the queue a buffered consumer sends what fails for good to.
pub const DEAD_LETTER_QUEUE_URL: &str = "HERALD_DEAD_LETTER_QUEUE_URL";

/// The variable `herald dev` sets so that a batch's answer carries each event's outcome.
pub const BATCH_OUTCOMES: &str = "HERALD_BATCH_OUTCOMES";

/// The variable giving how many receives a buffered event gets before a retryable failure is
/// dead-lettered (the template sets the queue's `maxReceiveCount` one higher, as a backstop for
/// an invocation that dies before it answers).
pub const MAX_RECEIVES: &str = "HERALD_MAX_RECEIVES";

/// SQS's limit on entries in one `SendMessageBatch`.
const SQS_BATCH: usize = 10;

/// What a Lambda invocation of a consumer carries: one EventBridge event (a rule targets the
/// function) or a batch of SQS messages, each holding one (a rule targets its queue).
#[derive(Debug)]
pub enum Delivery {
    /// An EventBridge event.
    Event(RawEvent),
    /// An SQS batch; each message's body is an EventBridge event.
    Batch(SqsEvent),
}

impl<'de> Deserialize<'de> for Delivery {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        // An EventBridge event has no `Records`; an SQS batch always has them.
        if value.get("Records").is_some_and(serde_json::Value::is_array) {
            serde_json::from_value(value)
                .map(Self::Batch)
                .map_err(serde::de::Error::custom)
        } else {
            Ok(Self::Event(RawEvent::from_value(value)))
        }
    }
}

/// What a consumer answers Lambda: the guard's answer for one event, or the partial batch
/// response for a batch.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer<R> {
    /// One event's outcome and result.
    Event(Guarded<R>),
    /// The messages of a batch to deliver again.
    Batch(SqsBatchResponse),
    /// The same, with each event's outcome beside it (`herald dev`, which prints them; Lambda
    /// is given only what its partial batch response documents).
    BatchWithOutcomes(BatchAnswer),
}

/// A batch's answer: the partial batch response, and what became of each event.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BatchAnswer {
    /// The messages the queue must deliver again.
    #[serde(flatten)]
    pub response: SqsBatchResponse,
    /// Each message's outcome, in the batch's order.
    pub outcomes: Vec<ItemOutcome>,
}

/// What became of one message of a batch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ItemOutcome {
    /// The SQS message id.
    pub message_id: String,
    /// The guard's outcome (`claimed`, `duplicate`, `cached`, …), `in-progress`, `deferred` or
    /// `error`.
    pub outcome: String,
    /// The reaction's `action`, when it says what it did in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The error's type, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Sent to the dead-letter queue (and acknowledged).
    #[serde(default)]
    pub dead_lettered: bool,
}

/// A function's dead-letter queue, as a buffered consumer sends to it.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl DeadLetters {
    /// The queue at `queue_url`.
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            sqs,
            queue_url: queue_url.into(),
        }
    }

    /// Sends each letter (at most ten per call); answers, per letter, whether SQS took it.
    async fn send(&self, letters: &[Letter<'_>]) -> Vec<bool> {
        let mut taken = Vec::with_capacity(letters.len());
        for chunk in letters.chunks(SQS_BATCH) {
            let entries: Vec<SendMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, letter)| letter.entry(i))
                .collect();
            let sent = self
                .sqs
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
            match sent {
                Ok(output) => {
                    let ok: std::collections::HashSet<&str> = output.successful().iter().map(|s| s.id()).collect();
                    for failed in output.failed() {
                        tracing::error!(
                            queue = %self.queue_url,
                            code = failed.code(),
                            message = failed.message().unwrap_or_default(),
                            "dead letter refused: the event stays in its queue"
                        );
                    }
                    taken.extend((0..chunk.len()).map(|i| ok.contains(i.to_string().as_str())));
                }
                Err(error) => {
                    tracing::error!(
                        queue = %self.queue_url,
                        error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                        "dead letters not sent: the events stay in their queue"
                    );
                    taken.extend(std::iter::repeat_n(false, chunk.len()));
                }
            }
        }
        taken
    }
}

/// How a buffered consumer deals with what fails for good. Read once at cold start.
#[derive(Debug, Clone, Default)]
pub struct Buffering {
    /// Where failures go; `None` leaves every failure to the queue's redrive policy.
    pub dead_letters: Option<DeadLetters>,
    /// Receives before a retryable failure is dead-lettered; `None`: never by the consumer.
    pub max_receives: Option<u32>,
    /// Answer each event's outcome beside the partial batch response (`herald dev`).
    pub report_outcomes: bool,
}

impl Buffering {
    /// `HERALD_DEAD_LETTER_QUEUE_URL` and `HERALD_MAX_RECEIVES`, when set.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when `HERALD_MAX_RECEIVES` is not a positive whole number.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_receives = env.parsed(MAX_RECEIVES, None, |text| match text.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err("not a positive whole number".to_owned()),
        })?;
        Ok(Self {
            dead_letters: env
                .var(DEAD_LETTER_QUEUE_URL)
                .map(|url| DeadLetters::new(aws_sdk_sqs::Client::new(env.aws()), url)),
            max_receives,
            report_outcomes: env.var(BATCH_OUTCOMES).is_some(),
        })
    }
}

/// One failed event bound for the dead-letter queue.
struct Letter<'a> {
    body: &'a str,
    function_arn: Option<&'a str>,
    error_type: &'a str,
    error_message: String,
    receives: u32,
}

impl Letter<'_> {
    /// The batch entry, with the attributes of an EventBridge target's dead letter.
    fn entry(&self, id: usize) -> Option<SendMessageBatchRequestEntry> {
        let text = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .ok()
        };
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(id.to_string())
            .message_body(self.body)
            .message_attributes("ERROR_CODE", text(self.error_type)?)
            .message_attributes("ERROR_MESSAGE", text(&self.error_message)?)
            .message_attributes("RETRY_ATTEMPTS", text(&self.receives.saturating_sub(1).to_string())?);
        if let Some(arn) = self.function_arn {
            entry = entry.message_attributes("TARGET_ARN", text(arn)?);
        }
        entry.build().ok()
    }
}

/// One message of a batch on its way through (its answer is kept apart: the handlers borrow
/// the items across their awaits, and a reaction need not be `Sync`).
struct Item {
    message: SqsMessage,
    raw: RawEvent,
    span: tracing::Span,
    /// How long its parse, decode and preparation took.
    prepared_in: Duration,
}

/// An item's answer, once there is one.
type ItemAnswer<D> = Option<Result<Guarded<<D as Function>::Reaction>, ConsumerError<<D as Function>::Error>>>;

/// What the handler recorded while it ran for one item, and how long it took.
type Ran = Option<(Recorded, Duration)>;

impl<D: Function> Consumer<D> {
    /// Handles one SQS batch of the invocation `call` (see the module docs): answers which of its
    /// messages the queue must deliver again, and what became of each.
    pub async fn handle_batch(&self, batch: SqsEvent, call: Call) -> BatchAnswer {
        let fields = self.begin(&call);
        let cold_start = fields.cold_start;

        // 1. Parse, decode, open each span, and find what needs the handler.
        let mut items: Vec<Item> = Vec::with_capacity(batch.records.len());
        let mut answers: Vec<ItemAnswer<D>> = Vec::with_capacity(batch.records.len());
        // (item, fingerprint, key, payload hash, subject) of each event run under the guard.
        let mut known = Vec::new();
        let mut runs = Vec::new();
        for message in batch.records {
            let began = Instant::now();
            let parsed = RawEvent::parse(message.body.as_deref().unwrap_or_default().as_bytes());
            let (raw, answer, span) = match parsed {
                Ok(raw) => 'parsed: {
                    // A duplicate this container completed is answered before it is decoded.
                    let fingerprint = if self.guard.caches() { raw.fingerprint() } else { None };
                    if let Some((guarded, subject)) = fingerprint.as_ref().and_then(|f| self.guard.answer_known(f)) {
                        let span = event_span(&raw, subject.as_deref(), &fields);
                        break 'parsed (raw, Some(Ok(guarded)), span);
                    }
                    let decoded = raw.decode_set_with_subject::<D::Event>();
                    let subject = decoded.as_ref().ok().and_then(|(_, subject)| subject.as_deref());
                    let span = event_span(&raw, subject, &fields);
                    let remembered = fingerprint.map(|f| (f, subject.map(str::to_owned)));
                    let prepared =
                        span.in_scope(|| self.prepare(&raw, decoded.map(|(event, _)| event), call.deadline_ms));
                    let answer = match prepared {
                        Ok(Prepared::Run(invocation, event)) => {
                            if let (Some((fingerprint, subject)), Some(key)) = (remembered, &invocation.key) {
                                known.push((
                                    items.len(),
                                    fingerprint,
                                    key.clone(),
                                    invocation.payload_hash.clone(),
                                    subject,
                                ));
                            }
                            runs.push(BatchItem {
                                item_id: items.len().to_string(),
                                invocation,
                                event: (items.len(), event),
                            });
                            None
                        }
                        Ok(Prepared::Answered(guarded)) => Some(Ok(guarded)),
                        Err(error) => Some(Err(error)),
                    };
                    (raw, answer, span)
                }
                Err(error) => {
                    let raw = RawEvent::from_value(serde_json::Value::Null);
                    let span = event_span(&raw, None, &fields);
                    (raw, Some(Err(ConsumerError::Envelope(error))), span)
                }
            };
            items.push(Item {
                message,
                raw,
                span,
                prepared_in: began.elapsed(),
            });
            answers.push(answer);
        }

        // 2. Run what needs the handler, in the batch's order, under batch claims.
        let ran: Mutex<Vec<Ran>> = Mutex::new((0..items.len()).map(|_| None).collect());
        if !runs.is_empty() {
            let deps = &*self.deps;
            let handler = &*self.handler;
            let (items_ref, ran_ref) = (&items, &ran);
            let report = self
                .guard
                .run_batch(runs, |(index, event): (usize, D::Event)| {
                    let item = &items_ref[index];
                    let header = item.message.attributes.get("AWSTraceHeader").cloned();
                    let work = handler.call(deps, event);
                    async move {
                        let began = Instant::now();
                        let (result, recorded) = crate::emf::collecting(trace::scope(header, work)).await;
                        let mut ran = ran_ref.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if let Some(slot) = ran.get_mut(index) {
                            *slot = Some((recorded, began.elapsed()));
                        }
                        result
                    }
                    .instrument(item.span.clone())
                })
                .await;
            for (id, mut answer) in report.items {
                let Some(index) = id.parse::<usize>().ok().filter(|index| *index < answers.len()) else {
                    continue;
                };
                // A record an earlier release wrote for the same event: answered as the single
                // path answers it.
                if let (Err(GuardError::PayloadMismatch { stored, .. }), Some(item)) = (&answer, items.get(index)) {
                    let began = Instant::now();
                    let (again, recorded) =
                        crate::emf::collecting(self.again_as_earlier_release(&item.raw, stored, call.deadline_ms))
                            .instrument(item.span.clone())
                            .await;
                    if let Some(again) = again {
                        answer = again;
                        let mut ran = ran.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if let Some(slot) = ran.get_mut(index) {
                            *slot = Some((recorded, began.elapsed()));
                        }
                    }
                }
                if let Some(slot) = answers.get_mut(index) {
                    *slot = Some(answer.map_err(ConsumerError::Guard));
                }
            }
            // Only a completed record is cached, so only its event can be answered from it later.
            for (index, fingerprint, key, payload_hash, subject) in known {
                if answers.get(index).is_some_and(|answer| matches!(answer, Some(Ok(_)))) {
                    self.guard.remember_known(fingerprint, &key, payload_hash, subject);
                }
            }
        }

        // 3. Conclude each event: its outcome line and metrics, then ack, retry or dead-letter.
        let ran = ran.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut retry: Vec<String> = Vec::new();
        let mut letters: Vec<Letter<'_>> = Vec::new();
        // The index of each letter's item.
        let mut lettered: Vec<usize> = Vec::new();
        let mut outcomes: Vec<ItemOutcome> = Vec::with_capacity(items.len());
        let empty = Recorded::new();
        for (index, (item, answer)) in items.iter().zip(&answers).enumerate() {
            let id = item.message.message_id.clone().unwrap_or_default();
            let Some(answer) = answer else {
                // Every item is answered above; should one not be, it is delivered again.
                outcomes.push(ItemOutcome {
                    message_id: id.clone(),
                    outcome: "error".to_owned(),
                    ..ItemOutcome::default()
                });
                retry.push(id);
                continue;
            };
            outcomes.push(match answer {
                Ok(guarded) => ItemOutcome {
                    message_id: id.clone(),
                    outcome: guarded.outcome.as_str().to_owned(),
                    action: super::action_of(guarded.result.as_ref()),
                    ..ItemOutcome::default()
                },
                Err(error) => ItemOutcome {
                    message_id: id.clone(),
                    outcome: if error.is_in_progress() {
                        "in-progress"
                    } else if error.is_deferred() {
                        "deferred"
                    } else {
                        "error"
                    }
                    .to_owned(),
                    error_type: Some(error.error_type().to_owned()),
                    error: Some(error.to_string()),
                    ..ItemOutcome::default()
                },
            });
            let (recorded, elapsed) = match ran.get(index).and_then(Option::as_ref) {
                Some((recorded, took)) => (recorded, item.prepared_in + *took),
                None => (&empty, item.prepared_in),
            };
            item.span
                .in_scope(|| self.conclude(&item.raw, answer, elapsed, cold_start && index == 0, recorded));
            let Err(error) = answer else { continue };
            let receives = item
                .message
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|count| count.parse::<u32>().ok())
                .unwrap_or(1);
            let last_receive = self.buffering.max_receives.is_some_and(|max| receives >= max);
            let for_good = !error.is_in_progress() && (!error.is_retryable() || last_receive);
            if for_good && self.buffering.dead_letters.is_some() {
                let error_message = match error.is_retryable() {
                    true => error.to_string(),
                    false => format!("{NOT_RETRYABLE_PREFIX}{error}"),
                };
                lettered.push(index);
                letters.push(Letter {
                    body: item.message.body.as_deref().unwrap_or_default(),
                    function_arn: call.function_arn.as_deref(),
                    error_type: error.error_type(),
                    error_message,
                    receives,
                });
            } else {
                retry.push(id);
            }
        }
        if let Some(dead_letters) = &self.buffering.dead_letters
            && !letters.is_empty()
        {
            let taken = dead_letters.send(&letters).await;
            for (index, taken) in lettered.into_iter().zip(taken) {
                let (Some(item), Some(outcome)) = (items.get(index), outcomes.get_mut(index)) else {
                    continue;
                };
                if taken {
                    item.span
                        .in_scope(|| tracing::warn!("event sent to the dead-letter queue"));
                    outcome.dead_lettered = true;
                } else {
                    retry.push(outcome.message_id.clone());
                }
            }
        }

        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = retry
            .into_iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
            .collect();
        BatchAnswer { response, outcomes }
    }
}
