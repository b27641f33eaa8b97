//! Publishing events to an EventBridge bus without losing any.
//!
//! [`Outgoing`] is one event ready to send: its detail serialized and its size measured the way
//! EventBridge measures it. [`Publisher::publish`] checks every size before it sends anything,
//! sends batches of at most ten entries, reads each response entry by entry, and sends again
//! only the entries that failed, with exponential backoff and full jitter. Whatever still fails
//! is returned to the caller in [`PublishError::EntriesFailed`]: nothing is dropped silently.
//!
//! A resend can deliver an event twice (EventBridge may have accepted an entry whose response was
//! lost); that is fine because consumers deduplicate on `metadata.event_id`, which a resend keeps.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime as AwsDateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Serialize;
use uuid::Uuid;

use crate::envelope::{Detail, EventDetail};
use crate::error::Classify;

/// EventBridge's limit on one PutEvents entry, in bytes.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// EventBridge's limit on entries in one PutEvents call.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// EventBridge's limit on one PutEvents request: the entries' sizes ([`Outgoing::size`]) added
/// up. AWS refuses a request over it whole, so batches are cut by size as well as by count.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Bytes EventBridge counts for an entry's `Time` field when it is set.
const TIME_FIELD_BYTES: usize = 14;

/// Entry error codes that no resend can fix.
const PERMANENT_ERROR_CODES: &[&str] = &[
    "MalformedDetail",
    "InvalidArgument",
    "AccessDeniedException",
    "NotAuthorizedForSourceException",
    "NotAuthorizedForDetailTypeException",
];

/// How a [`Publisher`] sends. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherConfig {
    /// Name or ARN of the bus. Default: `default`.
    pub bus_name: String,
    /// Sending rounds for an entry, the first one included, before it is reported failed.
    /// Default: 5.
    pub max_attempts: u32,
    /// Backoff before the second round; doubled each round after. Default: 50 ms.
    pub base_delay: Duration,
    /// Ceiling on one backoff. Default: 2 s.
    pub max_delay: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            bus_name: "default".to_owned(),
            max_attempts: 5,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl PublisherConfig {
    /// The defaults, on the named bus.
    pub fn for_bus(bus_name: impl Into<String>) -> Self {
        Self {
            bus_name: bus_name.into(),
            ..Self::default()
        }
    }
}

/// One event ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    event_id: Uuid,
    source: String,
    detail_type: String,
    detail: String,
    resources: Vec<String>,
    time: chrono::DateTime<chrono::Utc>,
    /// `metadata.schema_version` and `metadata.correlation_id`, for the `event published` log
    /// line; unknown for an event built from its parts.
    lineage: Option<(u32, Uuid)>,
}

impl Outgoing {
    /// Serializes a typed detail for sending; EventBridge's `Time` is the fact's `occurred_at`.
    ///
    /// # Errors
    /// [`PublishError::Serialize`] when the data cannot be serialized.
    pub fn new<D: EventDetail>(detail: &Detail<D>) -> Result<Self, PublishError> {
        Self::with_resources(detail, Vec::new())
    }

    /// As [`Outgoing::new`], naming the ARNs the event concerns.
    ///
    /// # Errors
    /// [`PublishError::Serialize`] when the data cannot be serialized.
    pub fn with_resources<D: EventDetail>(detail: &Detail<D>, resources: Vec<String>) -> Result<Self, PublishError> {
        let event_id = detail.metadata.event_id;
        let json = serde_json::to_string(detail).map_err(|source| PublishError::Serialize { event_id, source })?;
        Ok(Self {
            lineage: Some((D::VERSION, detail.metadata.correlation_id)),
            ..Self::from_parts(
                event_id,
                D::SOURCE,
                D::DETAIL_TYPE,
                json,
                resources,
                detail.metadata.occurred_at,
            )
        })
    }

    /// An event from its parts, for callers that already hold the serialized detail (redrive,
    /// replay of stored events).
    pub fn from_parts(
        event_id: Uuid,
        source: impl Into<String>,
        detail_type: impl Into<String>,
        detail: String,
        resources: Vec<String>,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            event_id,
            source: source.into(),
            detail_type: detail_type.into(),
            detail,
            resources,
            time,
            lineage: None,
        }
    }

    /// The event's `metadata.event_id`.
    pub fn event_id(&self) -> Uuid {
        self.event_id
    }

    /// The event's detail-type.
    pub fn detail_type(&self) -> &str {
        &self.detail_type
    }

    /// The entry's size as EventBridge counts it against [`MAX_ENTRY_BYTES`]: the UTF-8 bytes of
    /// source, detail-type, detail and each resource, plus 14 for the time.
    pub fn size(&self) -> usize {
        TIME_FIELD_BYTES
            + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }

    /// The PutEvents entry, carrying the current invocation's X-Ray trace header
    /// ([`trace::current`](crate::trace::current)) so the targets continue its trace.
    fn entry(&self, bus_name: &str) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .set_trace_header(crate::trace::current())
            .event_bus_name(bus_name)
            .source(&self.source)
            .detail_type(&self.detail_type)
            .detail(&self.detail)
            .set_resources(Some(self.resources.clone()))
            .time(AwsDateTime::from_millis(self.time.timestamp_millis()))
            .build()
    }
}

/// What a handler reports about an event it published: enough to follow the causation chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Emitted {
    /// The detail-type published.
    pub detail_type: String,
    /// Its `metadata.event_id`.
    pub event_id: Uuid,
}

impl From<&Outgoing> for Emitted {
    fn from(event: &Outgoing) -> Self {
        Self {
            detail_type: event.detail_type.clone(),
            event_id: event.event_id,
        }
    }
}

/// An entry that was not accepted after every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedEntry {
    /// The event's `metadata.event_id`.
    pub event_id: Uuid,
    /// The event's detail-type.
    pub detail_type: String,
    /// EventBridge's error code for the last attempt (or the SDK's, when the call itself failed).
    pub error_code: String,
    /// EventBridge's message for the last attempt.
    pub error_message: String,
    /// How many times the entry was sent.
    pub attempts: u32,
}

impl FailedEntry {
    /// True when EventBridge may accept the entry later.
    pub fn is_retryable(&self) -> bool {
        !PERMANENT_ERROR_CODES.contains(&self.error_code.as_str())
    }
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// An entry is over EventBridge's size limit; nothing was sent.
    #[error(
        "event {event_id} ({detail_type}) is {size} bytes, over EventBridge's {limit}-byte entry limit; nothing was sent"
    )]
    EntryTooLarge {
        /// The event's `metadata.event_id`.
        event_id: Uuid,
        /// The event's detail-type.
        detail_type: String,
        /// Its size as EventBridge counts it.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The detail could not be serialized.
    #[error("event {event_id} could not be serialized: {source}")]
    Serialize {
        /// The event's `metadata.event_id`.
        event_id: Uuid,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// Some entries were still rejected after every attempt; the rest were accepted.
    #[error("{} of {} events were not accepted by EventBridge: {}", failed.len(), failed.len() + accepted, describe(failed))]
    EntriesFailed {
        /// The entries that were not accepted, each with its last error.
        failed: Vec<FailedEntry>,
        /// How many entries were accepted.
        accepted: usize,
    },
}

fn describe(failed: &[FailedEntry]) -> String {
    failed
        .iter()
        .map(|f| {
            format!(
                "{} {} ({}: {})",
                f.detail_type, f.event_id, f.error_code, f.error_message
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Classify for PublishError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::EntryTooLarge { .. } | Self::Serialize { .. } => false,
            Self::EntriesFailed { failed, .. } => failed.iter().all(FailedEntry::is_retryable),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::EntryTooLarge { .. } => "Publish.EntryTooLarge",
            Self::Serialize { .. } => "Publish.Serialize",
            Self::EntriesFailed { .. } => "Publish.EntriesFailed",
        }
    }
}

/// Sends events to one bus. Build it once at cold start and share it.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: Client,
    config: PublisherConfig,
}

impl Publisher {
    /// A publisher over an EventBridge client.
    pub fn new(client: Client, config: PublisherConfig) -> Self {
        Self { client, config }
    }

    /// The configuration in force.
    pub fn config(&self) -> &PublisherConfig {
        &self.config
    }

    /// Sends every event, retrying failed entries only, until all are accepted or out of attempts.
    ///
    /// # Errors
    /// [`PublishError::EntryTooLarge`] before anything is sent when any entry is over the limit;
    /// [`PublishError::EntriesFailed`] with every entry that was not accepted in the end.
    pub async fn publish(&self, events: &[Outgoing]) -> Result<(), PublishError> {
        if let Some(big) = events.iter().find(|e| e.size() > MAX_ENTRY_BYTES) {
            return Err(PublishError::EntryTooLarge {
                event_id: big.event_id,
                detail_type: big.detail_type.clone(),
                size: big.size(),
                limit: MAX_ENTRY_BYTES,
            });
        }

        let mut pending: Vec<&Outgoing> = events.iter().collect();
        let mut failed = Vec::new();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            if attempt > 1 {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let mut again = Vec::new();
            for batch in batches(&pending) {
                for (event, error) in self.send_batch(batch).await {
                    let entry = FailedEntry {
                        event_id: event.event_id,
                        detail_type: event.detail_type.clone(),
                        error_code: error.0,
                        error_message: error.1,
                        attempts: attempt,
                    };
                    if entry.is_retryable() && attempt < self.config.max_attempts {
                        tracing::warn!(
                            event_id = %entry.event_id,
                            error_code = %entry.error_code,
                            attempt,
                            "PutEvents entry failed; will resend"
                        );
                        again.push(event);
                    } else {
                        failed.push(entry);
                    }
                }
            }
            pending = again;
        }

        for event in events
            .iter()
            .filter(|e| !failed.iter().any(|f| f.event_id == e.event_id))
        {
            // What `herald trace` follows from one function's invocation to the next: the event
            // being handled (the span's `event_id`) caused this one.
            tracing::info!(
                published_event_id = %event.event_id,
                published_detail_type = event.detail_type,
                published_source = event.source,
                published_schema_version = event.lineage.map(|(version, _)| version),
                published_correlation_id = event.lineage.map(|(_, correlation)| correlation.to_string()),
                "event published"
            );
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(PublishError::EntriesFailed {
                accepted: events.len() - failed.len(),
                failed,
            })
        }
    }

    /// Sends one batch; returns the entries that failed with their error code and message.
    async fn send_batch<'a>(&self, batch: &[&'a Outgoing]) -> Vec<(&'a Outgoing, (String, String))> {
        let entries = batch.iter().map(|e| e.entry(&self.config.bus_name)).collect();
        match self.client.put_events().set_entries(Some(entries)).send().await {
            Ok(output) => {
                if output.failed_entry_count() == 0 {
                    return Vec::new();
                }
                let results = output.entries();
                batch
                    .iter()
                    .enumerate()
                    .filter_map(|(i, event)| match results.get(i) {
                        Some(result) if result.event_id().is_some() => None,
                        Some(result) => Some((
                            *event,
                            (
                                result.error_code().unwrap_or("Unknown").to_owned(),
                                result.error_message().unwrap_or_default().to_owned(),
                            ),
                        )),
                        None => Some((
                            *event,
                            ("MissingResult".to_owned(), "no result entry in response".to_owned()),
                        )),
                    })
                    .collect()
            }
            Err(error) => {
                // The SDK has already retried the call per its retry config; resend the whole batch.
                let code = error
                    .as_service_error()
                    .and_then(|e| aws_sdk_eventbridge::error::ProvideErrorMetadata::code(e))
                    .unwrap_or("SdkError")
                    .to_owned();
                let message = aws_sdk_eventbridge::error::DisplayErrorContext(&error).to_string();
                batch
                    .iter()
                    .map(|event| (*event, (code.clone(), message.clone())))
                    .collect()
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(2).min(16);
        let ceiling = self
            .config
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.config.max_delay);
        // Full jitter: spreads the resends of many publishers that were throttled together.
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Cuts `events` into PutEvents requests in order: at most [`MAX_BATCH_ENTRIES`] entries, and at
/// most [`MAX_REQUEST_BYTES`] in all. Every entry is within [`MAX_ENTRY_BYTES`], so each fits
/// a request of its own.
fn batches<'a, 'b>(events: &'b [&'a Outgoing]) -> Vec<&'b [&'a Outgoing]> {
    let mut cut = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, event) in events.iter().enumerate() {
        let size = event.size();
        if i > start && (i - start == MAX_BATCH_ENTRIES || bytes + size > MAX_REQUEST_BYTES) {
            cut.push(&events[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < events.len() {
        cut.push(&events[start..]);
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry of about `kib` KiB.
    fn entry(kib: usize) -> Outgoing {
        Outgoing::from_parts(
            Uuid::new_v4(),
            "shop.test",
            "Sized",
            "x".repeat(kib * 1024 - 100),
            Vec::new(),
            chrono::Utc::now(),
        )
    }

    fn sizes(events: &[Outgoing]) -> Vec<usize> {
        let refs: Vec<&Outgoing> = events.iter().collect();
        batches(&refs).iter().map(|batch| batch.len()).collect()
    }

    #[test]
    fn requests_are_cut_by_count_and_by_their_total_size() {
        // Stands for an AWS rule moto does not enforce: a PutEvents request whose entries add up
        // to more than 256 KB is refused whole (EventBridge user guide, "Calculating PutEvents
        // event entry size"), however few entries it has.
        // Given 25 small entries, three of 100 KiB, and two of the whole limit
        let small: Vec<Outgoing> = (0..25).map(|_| entry(1)).collect();
        let large: Vec<Outgoing> = (0..3).map(|_| entry(100)).collect();
        let whole: Vec<Outgoing> = (0..2).map(|_| entry(256)).collect();

        // When each is cut into requests, then no request has more than 10 entries or 256 KiB
        assert_eq!(sizes(&small), vec![10, 10, 5]);
        assert_eq!(sizes(&large), vec![2, 1]);
        assert_eq!(sizes(&whole), vec![1, 1]);
        assert!(sizes(&[]).is_empty());
        for events in [&small, &large, &whole] {
            let refs: Vec<&Outgoing> = events.iter().collect();
            for batch in batches(&refs) {
                assert!(batch.iter().map(|e| e.size()).sum::<usize>() <= MAX_REQUEST_BYTES);
            }
        }
    }
}
