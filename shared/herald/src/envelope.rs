//! Typed EventBridge envelopes: decoding at the edge, version upcasting and dispatch.
//!
//! Every Herald event is an EventBridge event whose `detail` is `{ "metadata": …, "data": … }`.
//! [`Metadata`] is the same for every event; `data` is a struct that implements [`EventDetail`],
//! which names the event's source, detail-type and schema version.
//!
//! Decoding happens once, at the edge, in two steps:
//! 1. [`RawEvent`] parses the JSON and reads just enough (EventBridge `id`, `metadata.event_id`,
//!    `source`, `detail-type`, `schema_version`) to route the event and to name it in errors;
//! 2. [`RawEvent::decode`] (one detail-type), [`RawEvent::decode_versions`] (several versions
//!    upcast to one working type, see [`Versions`]) or [`RawEvent::decode_set`] (a consumer's whole
//!    set of detail-types, declared once with [`event_set!`](crate::event_set)) check the route and
//!    decode strictly, reporting the JSON path of the first missing or invalid field.
//!
//! Every failure is an [`EnvelopeError`], which is never retryable: the same bytes fail the same way.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use uuid::Uuid;

use crate::error::Classify;

/// One detail-type at one schema version: the Rust type of `detail.data`.
pub trait EventDetail: Serialize + DeserializeOwned {
    /// The EventBridge `source` this event comes from, e.g. `shop.orders`.
    const SOURCE: &'static str;
    /// The EventBridge `detail-type`, e.g. `OrderPlaced`.
    const DETAIL_TYPE: &'static str;
    /// The `detail.metadata.schema_version` this type describes.
    const VERSION: u32;

    /// What the event is about, e.g. the order id of every order event: the consumer logs it as
    /// `subject` with every line of the event's handling, so `herald trace ord-1001` and a Logs
    /// Insights query find the flows of one order. `None` by default. Never a
    /// [`Sensitive`](crate::Sensitive) value: it is logged as it is.
    fn subject(&self) -> Option<&str> {
        None
    }
}

/// An EventBridge event whose `detail` is Herald's `{ metadata, data }`.
///
/// Field names follow the EventBridge event structure, so a value serializes to exactly what a
/// Lambda target receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "D: Serialize", deserialize = "D: DeserializeOwned"))]
pub struct Envelope<D> {
    /// EventBridge's envelope version, always `"0"` today.
    pub version: String,
    /// EventBridge's id: new on every PutEvents, so never an idempotency key.
    pub id: String,
    /// The detail-type, e.g. `OrderPlaced`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The source, e.g. `shop.orders`.
    pub source: String,
    /// The AWS account of the bus. Optional because local buses (moto) omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When EventBridge received the event.
    pub time: DateTime<Utc>,
    /// The AWS region of the bus.
    pub region: String,
    /// ARNs the event concerns, usually empty for domain events.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Set by EventBridge when the event is delivered by an archive replay.
    #[serde(rename = "replay-name", default, skip_serializing_if = "Option::is_none")]
    pub replay_name: Option<String>,
    /// Herald's metadata and the typed data.
    pub detail: Detail<D>,
}

impl<D> Envelope<D> {
    /// Shortcut to the metadata every Herald event carries.
    pub fn metadata(&self) -> &Metadata {
        &self.detail.metadata
    }

    /// Shortcut to the typed data.
    pub fn data(&self) -> &D {
        &self.detail.data
    }

    /// Converts the data into another type, keeping every envelope field: how an older
    /// version is upcast to the type a consumer works with.
    pub fn map<T>(self, f: impl FnOnce(D) -> T) -> Envelope<T> {
        Envelope {
            version: self.version,
            id: self.id,
            detail_type: self.detail_type,
            source: self.source,
            account: self.account,
            time: self.time,
            region: self.region,
            resources: self.resources,
            replay_name: self.replay_name,
            detail: Detail {
                metadata: self.detail.metadata,
                data: f(self.detail.data),
            },
        }
    }
}

/// The `detail` of a Herald event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "D: Serialize", deserialize = "D: DeserializeOwned"))]
pub struct Detail<D> {
    /// Identity and lineage of the event.
    pub metadata: Metadata,
    /// The fact itself.
    pub data: D,
}

impl<D: EventDetail> Detail<D> {
    /// A detail that starts a new flow: a fresh `event_id`, which is also the correlation id.
    pub fn new(data: D, producer: &str) -> Self {
        let event_id = Uuid::new_v4();
        Self::with_metadata(data, producer, event_id, event_id, None)
    }

    /// A detail caused by another event: it carries the cause's correlation id and names the
    /// cause's `event_id` as its causation id.
    pub fn caused_by(cause: &Metadata, data: D, producer: &str) -> Self {
        Self::with_metadata(
            data,
            producer,
            Uuid::new_v4(),
            cause.correlation_id,
            Some(cause.event_id),
        )
    }

    /// A detail caused by another event whose `event_id` is stable: a UUID v5 of the cause's
    /// `event_id`, this detail-type and `discriminator` (what tells apart several events of one
    /// type caused by one event, e.g. a contract id; `""` when there is one). A handler that is
    /// retried after publishing re-publishes the same `event_id`, which consumers deduplicate.
    pub fn caused_by_stable(cause: &Metadata, discriminator: &str, data: D, producer: &str) -> Self {
        let name = format!("{}#{}#{discriminator}", cause.event_id, D::DETAIL_TYPE);
        let event_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes());
        Self::with_metadata(data, producer, event_id, cause.correlation_id, Some(cause.event_id))
    }

    fn with_metadata(
        data: D,
        producer: &str,
        event_id: Uuid,
        correlation_id: Uuid,
        causation_id: Option<Uuid>,
    ) -> Self {
        Detail {
            metadata: Metadata {
                event_id,
                schema_version: D::VERSION,
                correlation_id,
                causation_id,
                occurred_at: Utc::now(),
                producer: producer.to_owned(),
                redrive: None,
            },
            data,
        }
    }
}

/// Identity and lineage of a Herald event, set by its producer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Producer-assigned id. Stable across PutEvents retries, DLQ redrive and archive replay
    /// (unlike EventBridge's `id`), so it is the default idempotency key.
    pub event_id: Uuid,
    /// The version of the detail's schema.
    pub schema_version: u32,
    /// Groups every event of one business flow (an order's life, say).
    pub correlation_id: Uuid,
    /// The `event_id` of the event that directly caused this one; absent for a flow's first event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// When the fact happened, in the producer's clock: RFC 3339, years 1970 to 9999. A time
    /// outside is refused at decoding (not retryable), so no consumer's date arithmetic meets
    /// the calendar's edges.
    #[serde(deserialize_with = "bounded_time")]
    pub occurred_at: DateTime<Utc>,
    /// The service that produced the event.
    pub producer: String,
    /// Set when `herald redrive` put the event back on the bus from a dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive: Option<RedriveMark>,
}

/// An RFC 3339 time from year 1970 to 9999.
fn bounded_time<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    use chrono::Datelike as _;
    let time = DateTime::<Utc>::deserialize(deserializer)?;
    match time.year() {
        1970..=9999 => Ok(time),
        year => Err(serde::de::Error::custom(format!("year {year} is outside 1970 to 9999"))),
    }
}

/// The prefix of a replay name that asks consumers to run again events they already completed
/// (`herald replay --reprocess`). Any other replay re-runs only events whose record is FAILED.
pub const REPROCESS_PREFIX: &str = "reprocess-";

/// What `herald redrive` writes into `detail.metadata.redrive` of an event it puts back on the
/// bus. The event keeps its `event_id`, so consumers that completed it do not run it again;
/// one whose record is FAILED runs it again, and with `reprocess` every consumer runs it again,
/// once per redrive run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveMark {
    /// The redrive run, e.g. `redrive-20261123T053000Z-3f2a`.
    pub run: String,
    /// The dead-letter queue's name.
    pub queue: String,
    /// Run again in consumers that completed the event before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reprocess: bool,
    /// Which redrive of the event this is: 1 the first time it left a dead-letter queue, one more
    /// each time it failed again and was redriven again. Redrive parks an event, instead of
    /// sending it, once it was sent as often as its limit allows (3 by default), so a failure that
    /// never heals cannot loop. Absent in marks older than the count: 1.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// The Lambda function whose dead-letter queue the event came from. Only it runs the event
    /// again; every other consumer the bus delivers it to ignores it without running anything.
    /// Absent: every consumer may (a mark from before targets existed, or an unknown origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

fn first_attempt() -> u32 {
    1
}

impl RedriveMark {
    /// True when a consumer running as the Lambda function `function` (its
    /// `AWS_LAMBDA_FUNCTION_NAME`) is not the one this redrive is for.
    pub fn is_for_another_than(&self, function: &str) -> bool {
        self.target.as_deref().is_some_and(|target| target != function)
    }
}

/// The two ids that name an event in logs and errors, as far as they could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventIds {
    /// EventBridge's `id`.
    pub id: Option<String>,
    /// Herald's `detail.metadata.event_id`.
    pub event_id: Option<String>,
}

impl fmt::Display for EventIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown = "<unreadable>";
        write!(
            f,
            "id={} event_id={}",
            self.id.as_deref().unwrap_or(unknown),
            self.event_id.as_deref().unwrap_or(unknown)
        )
    }
}

/// Why an event could not be decoded. Never retryable: the same bytes fail the same way.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The payload is not JSON at all.
    #[error("event ({ids}) is not valid JSON: {source}")]
    MalformedJson {
        /// Ids found before the syntax error, if any.
        ids: EventIds,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
    /// A field is missing or has the wrong type or value.
    #[error("event ({ids}): field `{path}` is missing or invalid: {reason}")]
    InvalidField {
        /// Ids of the event.
        ids: EventIds,
        /// JSON path of the field, e.g. `detail.data.items[0].quantity`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The consumer does not handle this detail-type.
    #[error("event ({ids}): detail-type `{detail_type}` is not handled here; accepted: {accepted}")]
    UnknownDetailType {
        /// Ids of the event.
        ids: EventIds,
        /// The detail-type received.
        detail_type: String,
        /// What the consumer accepts, as `source/DetailType vN` entries.
        accepted: String,
    },
    /// The detail-type is handled, but not at this schema version.
    #[error("event ({ids}): {detail_type} schema_version {version} is not supported; supported: {supported:?}")]
    UnsupportedVersion {
        /// Ids of the event.
        ids: EventIds,
        /// The detail-type received.
        detail_type: String,
        /// The version received.
        version: u32,
        /// The versions the consumer accepts.
        supported: Vec<u32>,
    },
    /// The detail-type is handled, but for another source.
    #[error("event ({ids}): {detail_type} must come from source `{expected}`, not `{actual}`")]
    SourceMismatch {
        /// Ids of the event.
        ids: EventIds,
        /// The detail-type received.
        detail_type: String,
        /// The source the consumer expects for it.
        expected: String,
        /// The source received.
        actual: String,
    },
}

impl EnvelopeError {
    /// The ids of the event that failed, as far as they could be read.
    pub fn ids(&self) -> &EventIds {
        match self {
            Self::MalformedJson { ids, .. }
            | Self::InvalidField { ids, .. }
            | Self::UnknownDetailType { ids, .. }
            | Self::UnsupportedVersion { ids, .. }
            | Self::SourceMismatch { ids, .. } => ids,
        }
    }
}

impl Classify for EnvelopeError {
    fn is_retryable(&self) -> bool {
        false
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::MalformedJson { .. } => "Envelope.MalformedJson",
            Self::InvalidField { .. } => "Envelope.InvalidField",
            Self::UnknownDetailType { .. } => "Envelope.UnknownDetailType",
            Self::UnsupportedVersion { .. } => "Envelope.UnsupportedVersion",
            Self::SourceMismatch { .. } => "Envelope.SourceMismatch",
        }
    }
}

/// `value` decoded as `T`; on failure, the error with the path of the field at fault.
///
/// The path is tracked only to explain a failure: the first pass is plain serde, which a valid
/// event (every event but a bad one) passes at less than half the cost of tracking every field's
/// path (2.4 µs against 5.5 µs for a 1 KB OrderPlaced). A failed pass is run again with
/// tracking; decoding is a function of the value alone, so the second pass fails at the same
/// field with the same error. The price is size: every event type's `Deserialize` code is built
/// twice, once per deserializer, 18 to 39 KB of each function's zip (`make package` holds every
/// zip to the 4 MB goal).
fn decode_tracked<'de, T: serde::Deserialize<'de>>(
    value: &'de serde_json::Value,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    T::deserialize(value).or_else(|_| serde_path_to_error::deserialize(value))
}

/// SHA-256 (hex) of `value` in canonical JSON (object keys sorted, no white space): the same
/// value hashes the same way however it was written or deserialized.
pub fn digest(value: &serde_json::Value) -> String {
    let mut canonical = Vec::new();
    write_canonical(value, &mut canonical);
    crate::idempotency::guard::hex(&sha2::Sha256::digest(&canonical))
}

/// `value` as canonical JSON: objects with their keys in byte order, no white space; strings and
/// numbers as `serde_json` writes them. Written straight into `out`, without a copy of any key or
/// scalar: this runs for every event (its data's digest).
fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Object(entries) => {
            out.push(b'{');
            // serde_json's map keeps its keys sorted unless a crate turns on `preserve_order`.
            if entries.keys().is_sorted() {
                write_entries(entries.iter(), out);
            } else {
                let mut sorted: Vec<(&String, &Value)> = entries.iter().collect();
                sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
                write_entries(sorted.into_iter(), out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        // A scalar's JSON text: writing to a Vec cannot fail.
        scalar => {
            let _infallible = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// An object's entries, in the order given, as `"key":value` separated by commas.
fn write_entries<'a>(entries: impl Iterator<Item = (&'a String, &'a serde_json::Value)>, out: &mut Vec<u8>) {
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // A string's JSON text: writing to a Vec cannot fail.
        let _infallible = serde_json::to_writer(&mut *out, key);
        out.push(b':');
        write_canonical(value, out);
    }
}

/// A parsed but not yet typed event: enough is read to route it and to name it in errors.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    value: serde_json::Value,
    ids: EventIds,
}

impl RawEvent {
    /// Parses an event from its JSON bytes.
    ///
    /// # Errors
    /// [`EnvelopeError::MalformedJson`] when the bytes are not JSON.
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        serde_json::from_slice(bytes)
            .map(Self::from_value)
            .map_err(|source| EnvelopeError::MalformedJson {
                ids: EventIds {
                    id: scan_string_field(bytes, "id"),
                    event_id: scan_string_field(bytes, "event_id"),
                },
                source,
            })
    }

    /// Wraps an already parsed JSON value, such as the payload the Lambda runtime hands over.
    pub fn from_value(value: serde_json::Value) -> Self {
        let text = |pointer: &str| {
            at(&value, pointer)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let ids = EventIds {
            id: text("/id"),
            event_id: text("/detail/metadata/event_id"),
        };
        Self { value, ids }
    }

    /// The ids that name this event.
    pub fn ids(&self) -> &EventIds {
        &self.ids
    }

    /// SHA-256 (hex) of `detail.data` as received, in canonical JSON (object keys sorted, no
    /// white space; `null` when absent): what the idempotency guard compares a redelivery
    /// with. Taken from the raw event, not a consumer's typed copy, so a deploy whose types add a
    /// defaulted field, drop an unknown one or reorder fields hashes the same event the same way.
    pub fn data_digest(&self) -> String {
        digest(at(&self.value, "/detail/data").unwrap_or(&serde_json::Value::Null))
    }

    /// A 128-bit fingerprint of the whole event: everything its decode, its idempotency key and
    /// its payload hash can read, so the same fingerprint means the same decode, key and hash,
    /// and a warm consumer answers a duplicate it completed from its cache before decoding it
    /// ([`IdempotencyGuard::answer_known`](crate::idempotency::IdempotencyGuard::answer_known)).
    /// Two SipHash passes under keys drawn at random per process: no one can aim a collision at
    /// a running consumer, and the fingerprint never leaves it. (The same value written with
    /// other key order or number spelling may fingerprint differently: it then takes the
    /// decoding path, to the same answer.) A duplicate delivery (EventBridge's, or Lambda's
    /// retry) is the same event; a re-publish under a new EventBridge `id` is not.
    /// `None` for a deliberate re-delivery (a replay's `replay-name`, a redrive's
    /// `metadata.redrive`), which the consumer always decodes.
    pub fn fingerprint(&self) -> Option<crate::idempotency::guard::Fingerprint> {
        use std::hash::BuildHasher;
        static KEYS: std::sync::OnceLock<[std::collections::hash_map::RandomState; 2]> = std::sync::OnceLock::new();
        let redrive = self
            .metadata_value()
            .is_some_and(|metadata| metadata.get("redrive").is_some());
        if self.replay_name().is_some() || redrive {
            return None;
        }
        let [low, high] = KEYS.get_or_init(|| [Default::default(), Default::default()]);
        Some(u128::from(low.hash_one(&self.value)) | (u128::from(high.hash_one(&self.value)) << 64))
    }

    /// The event's `detail-type`, if it is a string.
    pub fn detail_type(&self) -> Option<&str> {
        self.str_at("/detail-type")
    }

    /// The event's `source`, if it is a string.
    pub fn source(&self) -> Option<&str> {
        self.str_at("/source")
    }

    /// The event's `replay-name`, set when an archive replay delivered it.
    pub fn replay_name(&self) -> Option<&str> {
        self.str_at("/replay-name")
    }

    /// The JSON as received.
    pub fn as_value(&self) -> &serde_json::Value {
        &self.value
    }

    /// True when the event has this source and detail-type.
    pub fn is(&self, source: &str, detail_type: &str) -> bool {
        self.source() == Some(source) && self.detail_type() == Some(detail_type)
    }

    /// True when the event is `V`'s source and detail-type at one of its versions (`version`,
    /// as [`RawEvent::schema_version`] read it): how [`event_set!`](crate::event_set) routes.
    pub fn is_one_of<T, V: Versions<T>>(&self, version: Option<u32>) -> bool {
        self.is(V::SOURCE, V::DETAIL_TYPE) && version.is_some_and(|v| V::SUPPORTED.contains(&v))
    }

    /// `detail.metadata.schema_version`.
    ///
    /// # Errors
    /// [`EnvelopeError::InvalidField`] when it is missing or not a non-negative integer that fits `u32`.
    pub fn schema_version(&self) -> Result<u32, EnvelopeError> {
        let path = "detail.metadata.schema_version";
        match at(&self.value, "/detail/metadata/schema_version") {
            None => Err(self.invalid(path, "missing field")),
            Some(version) => version
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| self.invalid(path, format!("expected a positive integer, found {version}"))),
        }
    }

    /// `detail.metadata` alone, whatever the detail-type: for tools that follow flows across
    /// every event (`herald show`, `herald dev`) without knowing each event's data.
    ///
    /// # Errors
    /// [`EnvelopeError::InvalidField`] with the path of the first missing or invalid field.
    pub fn metadata(&self) -> Result<Metadata, EnvelopeError> {
        let Some(metadata) = at(&self.value, "/detail/metadata") else {
            return Err(self.invalid("detail.metadata", "missing field"));
        };
        decode_tracked(metadata).map_err(|error| {
            let reason = error.inner().to_string();
            let path = match error.path().to_string().as_str() {
                "." => match reason.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                    Some(field) => format!("detail.metadata.{field}"),
                    None => "detail.metadata".to_owned(),
                },
                inner => format!("detail.metadata.{inner}"),
            };
            self.invalid(&path, reason)
        })
    }

    /// Decodes one detail-type at exactly its version.
    ///
    /// # Errors
    /// Any [`EnvelopeError`] but `MalformedJson`: wrong detail-type or source, another version,
    /// or a missing or invalid field.
    pub fn decode<D: EventDetail>(&self) -> Result<Envelope<D>, EnvelopeError> {
        self.decode_versions::<D, (D,)>()
    }

    /// Decodes any of the versions `V` of one detail-type and upcasts it to `T`.
    ///
    /// # Errors
    /// As [`RawEvent::decode`]; `UnsupportedVersion` lists every version in `V`.
    pub fn decode_versions<T, V: Versions<T>>(&self) -> Result<Envelope<T>, EnvelopeError> {
        self.decode_versions_with_subject::<T, V>().map(|(event, _)| event)
    }

    /// As [`RawEvent::decode_versions`], with the event's [`EventDetail::subject`], read from the
    /// version it arrived at, before the upcast.
    ///
    /// # Errors
    /// As [`RawEvent::decode_versions`].
    pub fn decode_versions_with_subject<T, V: Versions<T>>(
        &self,
    ) -> Result<(Envelope<T>, Option<String>), EnvelopeError> {
        match (self.source(), self.detail_type()) {
            (_, None) => return Err(self.missing_route("detail-type")),
            (None, _) => return Err(self.missing_route("source")),
            (Some(_), Some(detail_type)) if detail_type != V::DETAIL_TYPE => {
                return Err(self.not_accepted(&[Accepted::of::<T, V>()]));
            }
            (Some(source), Some(_)) if source != V::SOURCE => {
                return Err(self.not_accepted(&[Accepted::of::<T, V>()]));
            }
            _ => {}
        }
        let version = self.schema_version()?;
        V::decode(self, version)
    }

    /// Decodes the event into a consumer's set of detail-types, declared with
    /// [`event_set!`](crate::event_set).
    ///
    /// # Errors
    /// As [`RawEvent::decode_versions`]; `UnknownDetailType` lists everything the set accepts.
    pub fn decode_set<S: EventSet>(&self) -> Result<S, EnvelopeError> {
        S::from_raw(self).map(|(event, _)| event)
    }

    /// As [`RawEvent::decode_set`], with the event's [`EventDetail::subject`]: what a consumer
    /// names in the span of the event's log lines, known before the span opens.
    ///
    /// # Errors
    /// As [`RawEvent::decode_set`].
    pub fn decode_set_with_subject<S: EventSet>(&self) -> Result<(S, Option<String>), EnvelopeError> {
        S::from_raw(self)
    }

    /// Decodes exactly `D` after the route and version were checked.
    ///
    /// # Errors
    /// `UnsupportedVersion` when the event is not at `D::VERSION`; `InvalidField` with the JSON
    /// path of the first field that does not fit `D`.
    pub fn decode_exact<D: EventDetail>(&self) -> Result<Envelope<D>, EnvelopeError> {
        let version = self.schema_version()?;
        if version != D::VERSION {
            return Err(self.unsupported_version(D::DETAIL_TYPE, version, &[D::VERSION]));
        }
        decode_tracked(&self.value).map_err(|error| {
            let reason = error.inner().to_string();
            let mut path = error.path().to_string();
            // serde names a missing field in its message and points at the parent: point at the field.
            if let Some(field) = reason
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                path = if path == "." {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                };
            }
            self.invalid(&path, reason)
        })
    }

    /// The error for an event that no entry of `accepted` takes: an unknown detail-type, a
    /// known one from another source, or a known route at a version none of them supports.
    pub fn not_accepted(&self, accepted: &[Accepted]) -> EnvelopeError {
        let ids = self.ids.clone();
        let (Some(source), Some(detail_type)) = (self.source(), self.detail_type()) else {
            return self.missing_route(if self.detail_type().is_none() {
                "detail-type"
            } else {
                "source"
            });
        };
        let same_route: Vec<&Accepted> = accepted
            .iter()
            .filter(|a| a.source == source && a.detail_type == detail_type)
            .collect();
        if !same_route.is_empty() {
            return match self.schema_version() {
                Err(invalid) => invalid,
                Ok(version) => {
                    let mut supported: Vec<u32> = same_route.iter().flat_map(|a| a.versions.iter().copied()).collect();
                    supported.sort_unstable();
                    supported.dedup();
                    self.unsupported_version(detail_type, version, &supported)
                }
            };
        }
        if let Some(expected) = accepted.iter().find(|a| a.detail_type == detail_type) {
            return EnvelopeError::SourceMismatch {
                ids,
                detail_type: detail_type.to_owned(),
                expected: expected.source.to_owned(),
                actual: source.to_owned(),
            };
        }
        EnvelopeError::UnknownDetailType {
            ids,
            detail_type: detail_type.to_owned(),
            accepted: accepted.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        }
    }

    /// The error for a version that is not in `supported`.
    pub fn unsupported_version(&self, detail_type: &str, version: u32, supported: &[u32]) -> EnvelopeError {
        EnvelopeError::UnsupportedVersion {
            ids: self.ids.clone(),
            detail_type: detail_type.to_owned(),
            version,
            supported: supported.to_vec(),
        }
    }

    fn missing_route(&self, field: &str) -> EnvelopeError {
        let reason = match self.value.get(field) {
            None => "missing field".to_owned(),
            Some(other) => format!("expected a string, found {other}"),
        };
        self.invalid(field, reason)
    }

    fn invalid(&self, path: &str, reason: impl Into<String>) -> EnvelopeError {
        EnvelopeError::InvalidField {
            ids: self.ids.clone(),
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    /// `detail.metadata` as received, if there is one: for reading several of its fields at once.
    pub fn metadata_value(&self) -> Option<&serde_json::Value> {
        self.value.get("detail")?.get("metadata")
    }

    /// The text at `pointer` (a JSON pointer of plain keys, such as `/detail/metadata/event_id`).
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        at(&self.value, pointer).and_then(serde_json::Value::as_str)
    }
}

/// The value at `pointer`, a JSON pointer of plain object keys (no `~` escapes, no array
/// indices: the envelope's own paths). Unlike [`serde_json::Value::pointer`], which unescapes
/// every token into a new `String`, it allocates nothing: it runs for every event.
fn at<'v>(value: &'v serde_json::Value, pointer: &str) -> Option<&'v serde_json::Value> {
    pointer
        .strip_prefix('/')?
        .split('/')
        .try_fold(value, |value, key| value.get(key))
}

/// Best effort for broken JSON: the first `"key": "value"` pair in the text, so that even a
/// truncated event can be named in its error. Escaped quotes end the value early; that only
/// shortens an id in an error message.
fn scan_string_field(bytes: &[u8], key: &str) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let needle = format!("\"{key}\"");
    text.match_indices(&needle).find_map(|(at, _)| {
        let rest = text[at + needle.len()..].trim_start().strip_prefix(':')?;
        let value = rest.trim_start().strip_prefix('"')?;
        value.find('"').map(|end| value[..end].to_owned())
    })
}

impl<'de> Deserialize<'de> for RawEvent {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        serde_json::Value::deserialize(deserializer).map(Self::from_value)
    }
}

/// One entry of what a consumer accepts: a detail-type from a source at some versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The EventBridge source.
    pub source: &'static str,
    /// The detail-type.
    pub detail_type: &'static str,
    /// The accepted schema versions.
    pub versions: &'static [u32],
}

impl Accepted {
    /// What the versions `V` accept.
    pub fn of<T, V: Versions<T>>() -> Self {
        Self {
            source: V::SOURCE,
            detail_type: V::DETAIL_TYPE,
            versions: V::SUPPORTED,
        }
    }
}

impl fmt::Display for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<String> = self.versions.iter().map(|v| format!("v{v}")).collect();
        write!(f, "{}/{} {}", self.source, self.detail_type, versions.join("|"))
    }
}

/// Several versions of one detail-type that a consumer reads as one working type `T`.
///
/// Implemented for tuples of [`EventDetail`] types that each convert `Into<T>` — write the upcast
/// as a `From` impl. `(OrderPlacedV1, OrderPlacedV2)` accepts both versions; `(OrderCancelledV1,)`
/// accepts one. All members must share one source and detail-type (the first member's are used).
pub trait Versions<T> {
    /// The source of every version.
    const SOURCE: &'static str;
    /// The detail-type of every version.
    const DETAIL_TYPE: &'static str;
    /// The accepted versions.
    const SUPPORTED: &'static [u32];

    /// Decodes `raw`, known to carry `version`, into the working type, with the subject of the
    /// version it arrived at ([`EventDetail::subject`]).
    ///
    /// # Errors
    /// `UnsupportedVersion` when `version` is none of these; `InvalidField` from the strict decode.
    fn decode(raw: &RawEvent, version: u32) -> Result<(Envelope<T>, Option<String>), EnvelopeError>;
}

/// The decoded event's [`EventDetail::subject`], and the event upcast to the working type.
fn upcast_with_subject<D: EventDetail + Into<T>, T>(event: Envelope<D>) -> (Envelope<T>, Option<String>) {
    let subject = event.detail.data.subject().map(str::to_owned);
    (event.map(Into::into), subject)
}

macro_rules! impl_versions {
    ($first:ident $(, $rest:ident)*) => {
        impl<T, $first $(, $rest)*> Versions<T> for ($first, $($rest,)*)
        where
            $first: EventDetail + Into<T>,
            $($rest: EventDetail + Into<T>,)*
        {
            const SOURCE: &'static str = $first::SOURCE;
            const DETAIL_TYPE: &'static str = $first::DETAIL_TYPE;
            const SUPPORTED: &'static [u32] = &[$first::VERSION $(, $rest::VERSION)*];

            fn decode(raw: &RawEvent, version: u32) -> Result<(Envelope<T>, Option<String>), EnvelopeError> {
                if version == $first::VERSION {
                    return raw.decode_exact::<$first>().map(|e| upcast_with_subject(e));
                }
                $(
                    if version == $rest::VERSION {
                        return raw.decode_exact::<$rest>().map(|e| upcast_with_subject(e));
                    }
                )*
                Err(raw.unsupported_version(Self::DETAIL_TYPE, version, Self::SUPPORTED))
            }
        }
    };
}

impl_versions!(A);
impl_versions!(A, B);
impl_versions!(A, B, C);
impl_versions!(A, B, C, E);

/// A consumer's whole set of accepted events, usually generated by [`event_set!`](crate::event_set).
pub trait EventSet: Sized {
    /// Everything the set accepts.
    fn accepted() -> Vec<Accepted>;

    /// True when a member accepts `raw`'s source, detail-type and `schema_version`: what
    /// [`EventSet::from_raw`] routes by, read without decoding (the data may still fail to decode).
    fn accepts(raw: &RawEvent) -> bool;

    /// Routes and decodes one event, with its [`EventDetail::subject`].
    ///
    /// # Errors
    /// `UnknownDetailType` or `SourceMismatch` when no member accepts the event; otherwise the
    /// member's decode error.
    fn from_raw(raw: &RawEvent) -> Result<(Self, Option<String>), EnvelopeError>;
}

/// Declares the events a consumer handles, once: an enum with one variant per detail-type,
/// holding the typed envelope, with its [`EventSet`] and
/// [`GuardedEvent`](crate::idempotency::GuardedEvent) implementations (every working type must
/// be `Serialize`, for the idempotency payload hash).
///
/// ```
/// # use herald::envelope::{EventDetail, Envelope};
/// # #[derive(serde::Serialize, serde::Deserialize)] pub struct PlacedV1 { pub order_id: String }
/// # #[derive(serde::Serialize, serde::Deserialize)] pub struct PlacedV2 { pub order_id: String }
/// # impl EventDetail for PlacedV1 { const SOURCE: &'static str = "shop.orders"; const DETAIL_TYPE: &'static str = "OrderPlaced"; const VERSION: u32 = 1; }
/// # impl EventDetail for PlacedV2 { const SOURCE: &'static str = "shop.orders"; const DETAIL_TYPE: &'static str = "OrderPlaced"; const VERSION: u32 = 2; }
/// # impl From<PlacedV1> for PlacedV2 { fn from(v: PlacedV1) -> Self { PlacedV2 { order_id: v.order_id } } }
/// herald::event_set! {
///     /// What this consumer reacts to.
///     pub enum Incoming {
///         /// Both versions, upcast to v2.
///         Placed(PlacedV2) from (PlacedV1, PlacedV2),
///     }
/// }
/// ```
#[macro_export]
macro_rules! event_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident ( $target:ty ) from $versions:ty ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant($crate::envelope::Envelope<$target>), )+
        }

        impl $crate::envelope::EventSet for $name {
            fn accepted() -> ::std::vec::Vec<$crate::envelope::Accepted> {
                ::std::vec![ $( $crate::envelope::Accepted::of::<$target, $versions>(), )+ ]
            }

            fn accepts(raw: &$crate::envelope::RawEvent) -> bool {
                let version = raw.schema_version().ok();
                $(
                    if raw.is_one_of::<$target, $versions>(version) {
                        return true;
                    }
                )+
                false
            }

            fn from_raw(
                raw: &$crate::envelope::RawEvent,
            ) -> ::std::result::Result<(Self, ::std::option::Option<::std::string::String>), $crate::envelope::EnvelopeError> {
                let version = raw.schema_version().ok();
                $(
                    if raw.is_one_of::<$target, $versions>(version) {
                        return raw
                            .decode_versions_with_subject::<$target, $versions>()
                            .map(|(event, subject)| (Self::$variant(event), subject));
                    }
                )+
                ::std::result::Result::Err(raw.not_accepted(&Self::accepted()))
            }
        }

        impl $crate::idempotency::GuardedEvent for $name {
            fn metadata(&self) -> &$crate::envelope::Metadata {
                match self {
                    $( Self::$variant(event) => &event.detail.metadata, )+
                }
            }

            fn detail_type(&self) -> &str {
                match self {
                    $( Self::$variant(event) => &event.detail_type, )+
                }
            }

            fn data_json(&self) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::__serde_json::Error> {
                match self {
                    $( Self::$variant(event) => $crate::__serde_json::to_vec(&event.detail.data), )+
                }
            }        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(metadata: serde_json::Value) -> RawEvent {
        RawEvent::from_value(serde_json::json!({
            "id": "eb-1", "source": "any.source", "detail-type": "Anything",
            "detail": { "metadata": metadata, "data": { "whatever": [1, 2] } }
        }))
    }

    #[test]
    fn the_metadata_of_any_event_is_read_without_knowing_its_data() -> Result<(), EnvelopeError> {
        // Given an event of a detail-type nobody declared
        let raw = event(serde_json::json!({
            "event_id": "7c1e4b2a-5d3f-4e8b-a916-2b7d9c4e0f11", "schema_version": 3,
            "correlation_id": "3f6c2a9e-8b14-4d7a-9c35-1e2f4a6b8d01",
            "occurred_at": "2026-11-02T10:14:59.987Z", "producer": "someone"
        }));

        // When its metadata is read, then it is all there
        let metadata = raw.metadata()?;
        assert_eq!(metadata.schema_version, 3);
        assert_eq!(metadata.producer, "someone");
        assert_eq!(metadata.causation_id, None);
        Ok(())
    }

    #[test]
    fn metadata_with_a_missing_or_invalid_field_is_refused_naming_the_field_and_the_event() {
        // Given one event without a producer and one with a bad event id
        let missing = event(serde_json::json!({
            "event_id": "7c1e4b2a-5d3f-4e8b-a916-2b7d9c4e0f11", "schema_version": 1,
            "correlation_id": "3f6c2a9e-8b14-4d7a-9c35-1e2f4a6b8d01", "occurred_at": "2026-11-02T10:14:59.987Z"
        }));
        let invalid = event(serde_json::json!({
            "event_id": "not-a-uuid", "schema_version": 1,
            "correlation_id": "3f6c2a9e-8b14-4d7a-9c35-1e2f4a6b8d01",
            "occurred_at": "2026-11-02T10:14:59.987Z", "producer": "p"
        }));

        // When their metadata is read, then each error names the field's path and the event
        for (raw, path) in [
            (missing, "detail.metadata.producer"),
            (invalid, "detail.metadata.event_id"),
        ] {
            let error = raw.metadata().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(path), "{error}");
            assert!(error.contains("eb-1"), "{error}");
        }
    }

    #[test]
    fn a_time_outside_years_1970_to_9999_is_refused_naming_the_field() {
        let event = |at: &str| {
            RawEvent::parse(
                format!(
                    r#"{{"id":"1","detail-type":"T","source":"s","detail":{{"metadata":{{
                        "event_id":"7c1e4b2a-0000-4000-8000-000000000001","schema_version":1,
                        "correlation_id":"7c1e4b2a-0000-4000-8000-000000000002",
                        "occurred_at":"{at}","producer":"p"}},"data":{{}}}}}}"#
                )
                .as_bytes(),
            )
            .and_then(|raw| raw.metadata())
        };
        assert!(event("2026-11-02T10:14:59.987Z").is_ok());
        for at in [
            "-262143-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
        ] {
            let refused = event(at).map(|_| ()).map_err(|e| e.to_string());
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains("occurred_at") && e.contains("outside 1970 to 9999")),
                "{at}: {refused:?}"
            );
        }
    }

    #[test]
    fn the_data_digest_is_of_the_data_alone_whatever_its_key_order_or_white_space() {
        let event = |detail: &str| {
            RawEvent::parse(format!(r#"{{"id":"1","detail-type":"T","source":"s","detail":{detail}}}"#).as_bytes())
        };
        let digests: Vec<String> = [
            r#"{"metadata":{"event_id":"a"},"data":{"b":[1,{"y":2,"x":"é"}],"a":null}}"#,
            r#"{"data":{ "a" : null , "b":[1,{"x":"é","y":2}] },"metadata":{"event_id":"b","redrive":{}}}"#,
            r#"{"metadata":{"event_id":"a"},"data":{"b":[{"y":2,"x":"é"},1],"a":null}}"#,
        ]
        .into_iter()
        .map(|detail| event(detail).map(|e| e.data_digest()).unwrap_or_default())
        .collect();
        assert_eq!(digests[0].len(), 64);
        assert_eq!(digests[0], digests[1], "same data, other keys order, other metadata");
        assert_ne!(digests[0], digests[2], "a list's order is data");
    }

    #[test]
    fn the_data_digest_is_the_sha256_of_the_canonical_text_so_stored_records_stay_comparable_across_releases() {
        // Given data written with unsorted keys, white space, an escape and a non-ASCII letter
        let raw = RawEvent::parse(
            r#"{"detail":{"data":{ "z":"é", "b":{"d":true,"c":null}, "a":[1, 2.5, "x\"y"] }}}"#.as_bytes(),
        );

        // Then its digest is that of `{"a":[1,2.5,"x\"y"],"b":{"c":null,"d":true},"z":"é"}`
        // (sha256sum of that text), as every release has written it into its records
        assert_eq!(
            raw.map(|r| r.data_digest()).unwrap_or_default(),
            "af7a7ec42c0372ff90b655b313605846f0e532420589682e9830e6a791e93f21"
        );
    }
}
