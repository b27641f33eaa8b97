//! Dead-letter queue redrive: put the events of a Herald dead-letter queue back on their bus.
//!
//! A Herald function's dead-letter queue receives two shapes of message (parsed in
//! `redrive/dead_letter.rs`): EventBridge target dead letters, whose rule ARN names the bus, and
//! Lambda on-failure invocation records, which name none ([`RedriveConfig::default_bus`]
//! supplies it). [`Redriver::run`]:
//! 1. receives up to ten messages at a time, hidden for [`RedriveConfig::visibility_timeout`],
//!    until [`IDLE_RECEIVES`] receives in a row bring nothing it has not seen (a message it left
//!    in the queue comes back once its visibility timeout passes in a long run: that alone does
//!    not end the run) or [`RedriveConfig::max`] messages came;
//! 2. counts them by origin (rule or function) and error;
//! 3. marks each Herald event with this run's [`RedriveMark`] (keeping its `event_id`, so
//!    consumers that completed it answer from their idempotency record, and those whose record
//!    is FAILED run it again; with [`RedriveConfig::reprocess`] every consumer runs it once more);
//! 5. sends each event once with herald's [`Publisher`] — two messages holding one event are
//!    one entry — and deletes a message only after its entry was accepted;
//! 6. leaves everything else in the queue, visible again at the end of the run: unreadable
//!    bodies, records with no bus, entries over the size limit, entries EventBridge rejected.
//!
//! A dry run receives the same way, sends and deletes nothing, and makes every message visible
//! again at the end; its report lists what would be sent. (It does not receive with a visibility
//! timeout of 0: the queue would hand out the same first messages on every receive, and the
//! summary would miss the rest.)

mod dead_letter;
mod event;
mod report;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName,
};
use herald::envelope::RedriveMark;
use herald::publish::MAX_ENTRY_BYTES;
use herald::{Classify, Outgoing, PublishError, Publisher, PublisherConfig};
use uuid::Uuid;

use crate::OpsError;
use dead_letter::DeadLetter;
pub use report::{FailureCause, Group, LeftMessage, LeftReason, PlannedEvent, RedriveReport};

/// SQS's limit on messages in one receive and on entries in one batch call.
const SQS_BATCH: usize = 10;

/// One redrive run. Every field has a documented default; build it with [`RedriveConfig::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveConfig {
    /// The dead-letter queue's URL. Required.
    pub queue_url: String,
    /// Messages handled at most in this run. Default: 100.
    pub max: usize,
    /// Receive and report only: send, delete and change nothing. Default: false.
    pub dry_run: bool,
    /// Mark the events so that consumers that completed them run them once more. Default: false.
    pub reprocess: bool,
    /// How many times one event may be redriven: one whose mark says it was sent this often
    /// already is parked instead. Default: 3.
    pub max_attempts: u32,
    /// Leave the dead letters of errors the function called not retryable (bad input, a broken
    /// invariant: they fail the same way until a person changes the code or the data), as the
    /// automatic redrive after a recovery does. Default: false (a person redriving after a fix
    /// sends them).
    pub only_retryable: bool,
    /// The bus for messages that name none (Lambda on-failure records). A rule dead letter
    /// always goes back to the bus of its rule. Default: none, so such messages stay.
    pub default_bus: Option<String>,
    /// How long received messages stay hidden: long enough to send a batch and delete it.
    /// Messages left in the queue are made visible again at the end of the run. Default: 60 s.
    pub visibility_timeout: Duration,
    /// How long one receive waits for messages; above zero, SQS looks on all its servers, so
    /// a nearly empty queue does not look empty. Default: 1 s.
    pub receive_wait: Duration,
}

impl RedriveConfig {
    /// The defaults, on the queue at `queue_url`.
    pub fn new(queue_url: impl Into<String>) -> Self {
        Self {
            queue_url: queue_url.into(),
            max: 100,
            dry_run: false,
            reprocess: false,
            max_attempts: 3,
            only_retryable: false,
            default_bus: None,
            visibility_timeout: Duration::from_secs(60),
            receive_wait: Duration::from_secs(1),
        }
    }
}

/// Redrives dead-letter queues. Build it once; it holds only the clients.
#[derive(Debug, Clone)]
pub struct Redriver {
    sqs: aws_sdk_sqs::Client,
    eventbridge: aws_sdk_eventbridge::Client,
}

impl Redriver {
    /// A redriver over an SQS and an EventBridge client.
    pub fn new(sqs: aws_sdk_sqs::Client, eventbridge: aws_sdk_eventbridge::Client) -> Self {
        Self { sqs, eventbridge }
    }

    /// Runs one redrive (or dry run) of `config.queue_url`.
    ///
    /// Messages that cannot be redriven are not errors: they stay in the queue and are listed
    /// in the report.
    ///
    /// # Errors
    /// [`OpsError::QueueUrl`] when the URL names no queue; [`OpsError::Aws`] when receiving
    /// fails. Everything sent before that stays sent and its messages deleted; the rest become
    /// visible again.
    pub async fn run(&self, config: &RedriveConfig) -> Result<RedriveReport, OpsError> {
        let queue = queue_name(&config.queue_url)?;
        let mark = RedriveMark {
            run: event::run_name(chrono::Utc::now()),
            queue: queue.clone(),
            reprocess: config.reprocess,
            attempt: 1,
            target: None,
        };
        let mut state = RunState::default();
        let drained = self.drain(config, &mark, &mut state).await;
        self.release(config, &state).await;
        drained?;
        let report = state.into_report(mark.run, queue, config.dry_run);
        tracing::info!(
            run = %report.run,
            queue = %report.queue,
            dry_run = report.dry_run,
            received = report.received,
            redriven = report.redriven,
            deleted = report.deleted,
            left = report.left.len(),
            "redrive finished"
        );
        Ok(report)
    }

    /// Receives and handles batches until [`IDLE_RECEIVES`] receives in a row bring nothing new,
    /// or `config.max` was reached.
    async fn drain(&self, config: &RedriveConfig, mark: &RedriveMark, state: &mut RunState) -> Result<(), OpsError> {
        let mut idle = Idle::default();
        while state.received < config.max {
            let wanted = (config.max - state.received).min(SQS_BATCH);
            let messages = self.receive(config, wanted).await?;
            let fresh: Vec<Message> = messages
                .into_iter()
                .filter(|message| state.first_sight(message))
                .collect();
            if idle.stops_after(fresh.len()) {
                break;
            }
            if fresh.is_empty() {
                continue;
            }
            state.received += fresh.len();
            let letters: Vec<DeadLetter> = fresh.iter().map(DeadLetter::parse).collect();
            self.handle_batch(config, mark, letters, state).await;
        }
        Ok(())
    }

    async fn receive(&self, config: &RedriveConfig, wanted: usize) -> Result<Vec<Message>, OpsError> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&config.queue_url)
            .max_number_of_messages(seconds_or_count(wanted))
            .visibility_timeout(seconds_or_count(config.visibility_timeout.as_secs()))
            .wait_time_seconds(seconds_or_count(config.receive_wait.as_secs()))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|error| OpsError::aws("ReceiveMessage", &config.queue_url, error))?;
        Ok(output.messages.unwrap_or_default())
    }

    /// Sends one received batch's events and deletes the messages whose event was accepted.
    async fn handle_batch(
        &self,
        config: &RedriveConfig,
        mark: &RedriveMark,
        letters: Vec<DeadLetter>,
        state: &mut RunState,
    ) {
        let mut entries: BTreeMap<(String, Uuid), Entry> = BTreeMap::new();
        for letter in letters {
            *state
                .groups
                .entry((letter.origin.clone(), letter.error.clone()))
                .or_default() += 1;
            let DeadLetter {
                message_id,
                bus,
                event,
                target,
                error,
                ..
            } = letter;
            let event = match event {
                Ok(event) => event,
                Err(reason) => {
                    state.leave(message_id, None, LeftReason::Unreadable(reason));
                    continue;
                }
            };
            let event_id = event.event_id();
            if config.only_retryable && !error.is_retryable() {
                state.leave(message_id, event_id, LeftReason::NotRetryable(error.code));
                continue;
            }
            let attempts = event.attempts();
            if attempts >= config.max_attempts {
                let reason = LeftReason::Parked {
                    attempts,
                    limit: config.max_attempts,
                };
                state.leave(message_id, event_id, reason);
                continue;
            }
            let Some(bus) = bus.or_else(|| config.default_bus.clone()) else {
                state.leave(message_id, event_id, LeftReason::NoBus);
                continue;
            };
            let (key, source, detail_type) = (event.key(), event.source().to_owned(), event.detail_type().to_owned());
            if let Some(entry) = entries.get_mut(&(bus.clone(), key)) {
                entry.messages.push(message_id);
                continue;
            }
            let mark = RedriveMark {
                attempt: attempts + 1,
                target,
                ..mark.clone()
            };
            let outgoing = match event.into_outgoing(&mark) {
                Ok(outgoing) => outgoing,
                Err(error) => {
                    let reason = format!("the detail cannot be serialized again: {error}");
                    state.leave(message_id, event_id, LeftReason::Unreadable(reason));
                    continue;
                }
            };
            if outgoing.size() > MAX_ENTRY_BYTES {
                let reason = LeftReason::TooLarge {
                    size: outgoing.size(),
                    limit: MAX_ENTRY_BYTES,
                };
                state.leave(message_id, event_id, reason);
                continue;
            }
            let planned = PlannedEvent {
                bus: bus.clone(),
                source,
                detail_type,
                event_id,
                messages: 0,
            };
            entries.insert(
                (bus, key),
                Entry {
                    outgoing,
                    planned,
                    messages: vec![message_id],
                },
            );
        }

        if config.dry_run {
            state.planned.extend(entries.into_values().map(|entry| PlannedEvent {
                messages: entry.messages.len(),
                ..entry.planned
            }));
            return;
        }

        let mut to_delete = Vec::new();
        let mut by_bus: BTreeMap<String, Vec<(Uuid, Entry)>> = BTreeMap::new();
        for ((bus, key), entry) in entries {
            if state.accepted.contains(&(bus.clone(), key)) {
                // Accepted earlier in this run from another message: this one is done too.
                to_delete.extend(entry.messages);
            } else {
                by_bus.entry(bus).or_default().push((key, entry));
            }
        }
        for (bus, entries) in by_bus {
            let rejected = self.publish(&bus, &entries).await;
            for (key, entry) in entries {
                match rejected.get(&key) {
                    Some((code, message)) => {
                        for message_id in entry.messages {
                            let reason = LeftReason::Rejected {
                                code: code.clone(),
                                message: message.clone(),
                            };
                            state.leave(message_id, entry.planned.event_id, reason);
                        }
                    }
                    None => {
                        state.redriven += 1;
                        state.accepted.insert((bus.clone(), key));
                        to_delete.extend(entry.messages);
                    }
                }
            }
        }
        self.delete(config, &to_delete, state).await;
    }

    /// Sends entries to one bus; returns the rejected ones by key, with their error.
    async fn publish(&self, bus: &str, entries: &[(Uuid, Entry)]) -> HashMap<Uuid, (String, String)> {
        let publisher = Publisher::new(self.eventbridge.clone(), PublisherConfig::for_bus(bus));
        let events: Vec<Outgoing> = entries.iter().map(|(_, entry)| entry.outgoing.clone()).collect();
        match publisher.publish(&events).await {
            Ok(()) => HashMap::new(),
            Err(PublishError::EntriesFailed { failed, .. }) => {
                for entry in &failed {
                    tracing::warn!(
                        bus,
                        event_id = %entry.event_id,
                        error_code = %entry.error_code,
                        error = %entry.error_message,
                        "EventBridge rejected a redriven event"
                    );
                }
                failed
                    .into_iter()
                    .map(|entry| (entry.event_id, (entry.error_code, entry.error_message)))
                    .collect()
            }
            // Sizes were checked per entry before, so this is not expected; fail the whole call.
            Err(error) => {
                tracing::warn!(bus, error_type = error.error_type(), error = %error, "nothing was sent");
                let reason = (error.error_type().to_owned(), error.to_string());
                entries.iter().map(|(key, _)| (*key, reason.clone())).collect()
            }
        }
    }

    /// Deletes messages whose event was accepted; a message that cannot be deleted is left.
    async fn delete(&self, config: &RedriveConfig, message_ids: &[String], state: &mut RunState) {
        for chunk in message_ids.chunks(SQS_BATCH) {
            let built: Result<Vec<_>, _> = chunk
                .iter()
                .enumerate()
                .map(|(i, message_id)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(state.receipt_handle(message_id))
                        .build()
                })
                .collect();
            let result = match built {
                Ok(entries) => self
                    .sqs
                    .delete_message_batch()
                    .queue_url(&config.queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|error| OpsError::aws("DeleteMessageBatch", &config.queue_url, error).to_string()),
                Err(error) => Err(error.to_string()),
            };
            match result {
                Ok(output) => {
                    state.deleted += output.successful().len();
                    for failed in output.failed() {
                        let Some(message_id) = failed.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) else {
                            continue;
                        };
                        let reason = format!("{}: {}", failed.code(), failed.message().unwrap_or_default());
                        state.leave(message_id.clone(), None, LeftReason::NotDeleted(reason));
                    }
                }
                Err(reason) => {
                    tracing::warn!(error = %reason, "redriven messages could not be deleted");
                    for message_id in chunk {
                        state.leave(message_id.clone(), None, LeftReason::NotDeleted(reason.clone()));
                    }
                }
            }
        }
    }

    /// Makes the messages left (in a dry run: every message received) visible again, so a later
    /// run sees them at once. Failing that only delays them by the visibility timeout.
    async fn release(&self, config: &RedriveConfig, state: &RunState) {
        let handles: Vec<&str> = if config.dry_run {
            state.handles.values().map(String::as_str).collect()
        } else {
            state
                .left
                .iter()
                .map(|left| state.receipt_handle(&left.message_id))
                .collect()
        };
        for chunk in handles.chunks(SQS_BATCH) {
            let built: Result<Vec<_>, _> = chunk
                .iter()
                .enumerate()
                .filter(|(_, handle)| !handle.is_empty())
                .map(|(i, handle)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*handle)
                        .visibility_timeout(0)
                        .build()
                })
                .collect();
            let entries = match built {
                Ok(entries) if !entries.is_empty() => entries,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(error = %error, "messages stay hidden until their visibility timeout");
                    continue;
                }
            };
            let result = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&config.queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
            match result {
                Ok(output) if output.failed().is_empty() => {}
                Ok(output) => tracing::warn!(
                    failed = output.failed().len(),
                    "some messages stay hidden until their visibility timeout"
                ),
                Err(error) => tracing::warn!(
                    error = %OpsError::aws("ChangeMessageVisibilityBatch", &config.queue_url, error),
                    "messages stay hidden until their visibility timeout"
                ),
            }
        }
    }
}

/// One entry to send: the event and every message that holds it.
#[derive(Debug)]
struct Entry {
    outgoing: Outgoing,
    planned: PlannedEvent,
    messages: Vec<String>,
}

/// Receives in a row that bring no message a run has not seen before it ends. One is not
/// enough: a receive may hand back only messages the run left in the queue (unreadable, or
/// refused), visible again once their visibility timeout passed in a long run, while others
/// were never received; and a receive may come back empty while messages remain.
pub const IDLE_RECEIVES: u32 = 3;

/// Counts the receives in a row that brought nothing new.
#[derive(Debug, Default)]
struct Idle(u32);

impl Idle {
    /// After a receive that brought `fresh` unseen messages: true when the run should stop.
    fn stops_after(&mut self, fresh: usize) -> bool {
        if fresh > 0 {
            self.0 = 0;
            return false;
        }
        self.0 += 1;
        self.0 >= IDLE_RECEIVES
    }
}

/// What a run has seen and done so far.
#[derive(Debug, Default)]
struct RunState {
    /// The latest receipt handle of every message received: only the latest one is valid.
    handles: HashMap<String, String>,
    received: usize,
    redriven: usize,
    deleted: usize,
    left: Vec<LeftMessage>,
    groups: BTreeMap<(String, FailureCause), usize>,
    planned: Vec<PlannedEvent>,
    /// Events accepted in this run, by bus and key: a later message of one is only deleted.
    accepted: HashSet<(String, Uuid)>,
}

impl RunState {
    /// Records the message's receipt handle; true when the run had not received it before.
    fn first_sight(&mut self, message: &Message) -> bool {
        let id = message.message_id().unwrap_or_default().to_owned();
        let handle = message.receipt_handle().unwrap_or_default().to_owned();
        self.handles.insert(id, handle).is_none()
    }

    fn receipt_handle(&self, message_id: &str) -> &str {
        self.handles.get(message_id).map_or("", String::as_str)
    }

    fn leave(&mut self, message_id: String, event_id: Option<Uuid>, reason: LeftReason) {
        tracing::warn!(message_id, event_id = ?event_id, reason = %reason, "message left in the queue");
        self.left.push(LeftMessage {
            message_id,
            event_id,
            reason,
        });
    }

    fn into_report(self, run: String, queue: String, dry_run: bool) -> RedriveReport {
        let mut groups: Vec<Group> = self
            .groups
            .into_iter()
            .map(|((origin, error), count)| Group { origin, error, count })
            .collect();
        groups.sort_by_key(|group| std::cmp::Reverse(group.count));
        RedriveReport {
            run,
            queue,
            dry_run,
            received: self.received,
            redriven: self.redriven,
            deleted: self.deleted,
            left: self.left,
            groups,
            planned: self.planned,
        }
    }
}

/// The queue's name: the last segment of its URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`).
fn queue_name(queue_url: &str) -> Result<String, OpsError> {
    queue_url
        .trim_end_matches('/')
        .rsplit_once('/')
        .map(|(_, name)| name)
        .filter(|name| !name.is_empty() && !name.contains(':'))
        .map(str::to_owned)
        .ok_or_else(|| OpsError::QueueUrl {
            url: queue_url.to_owned(),
        })
}

/// A count or a number of seconds as the SDK's `i32`, saturating.
fn seconds_or_count(value: impl TryInto<i32>) -> i32 {
    value.try_into().unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_goes_on_past_receives_of_messages_it_has_seen_and_stops_after_three_with_nothing_new() {
        // Given a run whose receives bring 10 new, then only seen ones twice, then 4 new, then nothing
        let mut idle = Idle::default();
        let stops: Vec<bool> = [10, 0, 0, 4, 0, 0, 0]
            .into_iter()
            .map(|fresh| idle.stops_after(fresh))
            .collect();

        // Then two receives of seen messages do not end it; the third in a row with nothing new does
        assert_eq!(stops, [false, false, false, false, false, false, true]);
    }

    #[test]
    fn a_queue_is_named_by_the_last_segment_of_its_url() -> Result<(), OpsError> {
        assert_eq!(
            queue_name("https://sqs.us-east-1.amazonaws.com/123456789012/inventory-dlq")?,
            "inventory-dlq"
        );
        assert_eq!(queue_name("http://127.0.0.1:5000/123456789012/dlq/")?, "dlq");
        assert!(matches!(queue_name("inventory-dlq"), Err(OpsError::QueueUrl { .. })));
        Ok(())
    }
}
