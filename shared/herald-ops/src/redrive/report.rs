//! What one redrive run did, for people ([`RedriveReport`]'s `Display`: the summary `herald
//! redrive` prints) and for code and tests (its fields).

use std::fmt;

use uuid::Uuid;

pub use super::dead_letter::FailureCause;

/// What a redrive run did, or in a dry run would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveReport {
    /// The run's name, written into every redriven Herald event's `metadata.redrive.run`.
    pub run: String,
    /// The dead-letter queue's name.
    pub queue: String,
    /// True when nothing was sent, deleted or changed.
    pub dry_run: bool,
    /// Distinct messages received.
    pub received: usize,
    /// Events EventBridge accepted (two messages of one event count once).
    pub redriven: usize,
    /// Messages deleted from the queue, each after its event was accepted.
    pub deleted: usize,
    /// Messages left in the queue, each with the reason; visible again for a later run.
    pub left: Vec<LeftMessage>,
    /// Received messages by origin and error, most frequent first.
    pub groups: Vec<Group>,
    /// In a dry run, the events that would be sent; empty otherwise.
    pub planned: Vec<PlannedEvent>,
}

/// A message the run left in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftMessage {
    /// SQS's id of the message.
    pub message_id: String,
    /// The event's `metadata.event_id`, when the body is a Herald event.
    pub event_id: Option<Uuid>,
    /// Why it is still there.
    pub reason: LeftReason,
}

/// Why a message was left in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftReason {
    /// The body is not an EventBridge event (nor a Lambda invocation record holding one).
    Unreadable(String),
    /// The message names no bus (a Lambda on-failure record) and none was given.
    NoBus,
    /// The event is over EventBridge's entry size limit.
    TooLarge {
        /// Its size as EventBridge counts it.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// EventBridge did not accept the event.
    Rejected {
        /// EventBridge's (or the SDK's) error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The event was redriven `attempts` times already, the run's limit, and failed again each
    /// time: it stays, so the queue's alarm keeps paging until someone looks.
    Parked {
        /// How many times it was redriven.
        attempts: u32,
        /// The limit ([`super::RedriveConfig::max_attempts`]).
        limit: u32,
    },
    /// The function failed it with an error it called not retryable (its `errorType` here), and
    /// this run redrives only retryable failures: it stays for a person.
    NotRetryable(String),
    /// The event was accepted, but deleting the message failed: a later run sends it again,
    /// which consumers answer from their idempotency records.
    NotDeleted(String),
}

impl fmt::Display for LeftReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(reason) => write!(f, "unreadable: {reason}"),
            Self::NoBus => f.write_str("a Lambda on-failure record names no bus: pass --bus"),
            Self::TooLarge { size, limit } => write!(f, "{size} bytes, over EventBridge's {limit}-byte entry limit"),
            Self::Rejected { code, message } => write!(f, "rejected by EventBridge: {code}: {message}"),
            Self::Parked { attempts, limit } => write!(
                f,
                "parked: redriven {attempts} times (the limit is {limit}) and it failed each time; \
                 find the cause in the group's error, fix it, then redrive with a higher --max-attempts"
            ),
            Self::NotRetryable(code) => write!(
                f,
                "not retryable ({code}): it fails the same way until its code or data changes; fix it, then herald redrive"
            ),
            Self::NotDeleted(reason) => write!(f, "redriven, but not deleted: {reason}"),
        }
    }
}

/// Received messages of one origin that failed with one error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The rule ARN (EventBridge dead letters) or the function ARN (Lambda on-failure records).
    pub origin: String,
    /// The error the messages report.
    pub error: FailureCause,
    /// How many messages.
    pub count: usize,
}

/// An event a dry run would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    /// The bus it would go to.
    pub bus: String,
    /// Its source.
    pub source: String,
    /// Its detail-type.
    pub detail_type: String,
    /// Its `metadata.event_id`, when it is a Herald event.
    pub event_id: Option<Uuid>,
    /// How many messages hold it.
    pub messages: usize,
}

impl fmt::Display for RedriveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(
                f,
                "dry run {} of {}: nothing was sent, deleted or changed",
                self.run, self.queue
            )?;
            writeln!(
                f,
                "{} received: {} would be sent, {} would stay",
                count(self.received, "message"),
                count(self.planned.len(), "event"),
                count(self.left.len(), "message"),
            )?;
        } else {
            writeln!(f, "redrive {} of {}", self.run, self.queue)?;
            writeln!(
                f,
                "{} received: {} redriven, {} deleted, {} left in the queue",
                count(self.received, "message"),
                count(self.redriven, "event"),
                count(self.deleted, "message"),
                count(self.left.len(), "message"),
            )?;
        }
        if !self.groups.is_empty() {
            writeln!(f, "\nby origin and error:")?;
            for group in &self.groups {
                writeln!(f, "{:>6}  {}", group.count, group.origin)?;
                writeln!(f, "        {}", group.error)?;
            }
        }
        if !self.left.is_empty() {
            writeln!(
                f,
                "\n{}:",
                if self.dry_run {
                    "would stay in the queue"
                } else {
                    "left in the queue"
                }
            )?;
            for left in &self.left {
                writeln!(f, "  {}  {}  {}", left.message_id, event_id(left.event_id), left.reason)?;
            }
        }
        if !self.planned.is_empty() {
            writeln!(f, "\nwould send:")?;
            for planned in &self.planned {
                writeln!(
                    f,
                    "  {}  {}/{}  {}  ({})",
                    planned.bus,
                    planned.source,
                    planned.detail_type,
                    event_id(planned.event_id),
                    count(planned.messages, "message"),
                )?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code.is_empty(), self.message.is_empty()) {
            (true, true) => f.write_str("(no error reported)"),
            (false, true) => f.write_str(&self.code),
            (true, false) => f.write_str(&self.message),
            (false, false) => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

/// `1 message`, `2 messages`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn event_id(event_id: Option<Uuid>) -> String {
    event_id.map_or_else(|| "event_id -".to_owned(), |id| format!("event_id {id}"))
}
