//! The guard: claim, run, complete — and every answer to a duplicate.
//!
//! ```text
//! cache hit (COMPLETED, same data)            → cached result, 0 store calls
//! put(INPROGRESS, lease) succeeds             → prepare the event (`run_prepared`: decode it)
//!     preparing fails                         → delete(claim), its error: nothing recorded
//!     Ok(result)                              → update(COMPLETED, result)           2 calls
//!     Err(retryable)                          → delete(claim): the retry runs again
//!     Err(non-retryable)                      → update(FAILED, error): retries are answered at once
//! put conflicts with the live record          →                                     1 call
//!     different payload hash                  → PayloadMismatch (non-retryable)
//!     COMPLETED                               → the stored result, handler not run
//!     FAILED                                  → PreviouslyFailed (non-retryable)
//!     INPROGRESS, lease running               → AlreadyInProgress (retryable)
//! ```
//!
//! **Crashes.** A claim's lease ends at the invocation's deadline minus a margin; after that a
//! redelivery takes over, so a record is never stuck INPROGRESS. Completion and release are
//! conditional on the claim's token, so an invocation that lost its lease can never overwrite
//! the new owner's record: exactly one run's completion is recorded.
//!
//! **What the lease rules allow.** If the handler's effects happened but the completion could
//! not be written (the invocation died, or DynamoDB still failed after the SDK's retries), the
//! record stays INPROGRESS until its lease ends. A redelivery before then is told
//! `AlreadyInProgress`; a redelivery after then runs the handler again. That second run is the
//! only way a side effect can repeat, so handlers whose effects must never repeat make those
//! effects conditional on their own keys too (as Herald's functions do). A completion that fails
//! after the handler succeeded is logged and the result is still returned: failing the invocation
//! would only make Lambda deliver the event again sooner.

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clock::{Clock, SystemClock};
use super::config::{IdempotencyConfig, MissingKey};
use super::record::{ClaimCondition, Record, Status};
use super::store::{Claim, Store, StoreError, Update};
use crate::envelope::{Envelope, Metadata};
use crate::error::Classify;

/// What the guard needs to know about an event.
pub trait GuardedEvent {
    /// The event's metadata (for the default key and for logs).
    fn metadata(&self) -> &Metadata;

    /// The event's detail-type, for logs.
    fn detail_type(&self) -> &str;

    /// `detail.data` as JSON, for the payload hash.
    ///
    /// # Errors
    /// When the data cannot be serialized.
    fn data_json(&self) -> Result<Vec<u8>, serde_json::Error>;
}

impl<D: Serialize> GuardedEvent for Envelope<D> {
    fn metadata(&self) -> &Metadata {
        &self.detail.metadata
    }

    fn detail_type(&self) -> &str {
        &self.detail_type
    }

    fn data_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.detail.data)
    }
}

/// One guarded run: the key, the payload hash and the deadline, computed before the handler
/// takes the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The idempotency key, without the function prefix; `None` when none could be derived.
    pub key: Option<String>,
    /// The event's `metadata.event_id`, for logs and errors.
    pub event_id: String,
    /// SHA-256 (hex) of `detail.data`: by [`Invocation::of`], of the typed data; a consumer
    /// hashes the data as received instead ([`RawEvent::data_digest`](crate::RawEvent::data_digest),
    /// [`Invocation::hashed`]).
    pub payload_hash: String,
    /// The typed data's hash, which records written before the raw digest hold; a record with
    /// it is the same event, not a mismatch. A consumer sets it only after a claim conflicted
    /// with such a record.
    pub legacy_hash: Option<String>,
    /// The invocation's deadline, epoch milliseconds (Lambda's `Context.deadline`).
    pub deadline_ms: Option<i64>,
    /// Run again an event whose record is FAILED (redrive or replay after a fix).
    pub replace_failed: bool,
    /// Run again an event whose record is COMPLETED (a deliberate reprocess).
    pub replace_completed: bool,
}

impl Invocation {
    /// The default invocation of `event`: keyed by `metadata.event_id`.
    ///
    /// # Errors
    /// When the event's data cannot be serialized for hashing.
    pub fn of(event: &impl GuardedEvent, deadline_ms: Option<i64>) -> Result<Self, serde_json::Error> {
        let typed_hash = hex(&Sha256::digest(event.data_json()?));
        Ok(Self::hashed(event, typed_hash, deadline_ms))
    }

    /// The invocation of `event` keyed by `metadata.event_id` and compared by `payload_hash`. A
    /// consumer passes [`RawEvent::data_digest`](crate::RawEvent::data_digest), the data as
    /// received, and no typed hash: records of earlier releases, which hold the typed hash, are
    /// recognised by the consumer when a claim reports them as [`GuardError::PayloadMismatch`],
    /// so every other event skips serializing its typed copy.
    pub fn hashed(event: &impl GuardedEvent, payload_hash: String, deadline_ms: Option<i64>) -> Self {
        Self::keyed(event.metadata().event_id.to_string(), payload_hash, deadline_ms)
    }

    /// The invocation of the event whose `metadata.event_id` is `event_id` (as a decoded
    /// event's id prints: a lower-case hyphenated UUID), keyed by it and compared by
    /// `payload_hash`: what a consumer claims before it decodes the event.
    pub fn keyed(event_id: String, payload_hash: String, deadline_ms: Option<i64>) -> Self {
        Self {
            key: Some(event_id.clone()),
            event_id,
            payload_hash,
            legacy_hash: None,
            deadline_ms,
            replace_failed: false,
            replace_completed: false,
        }
    }

    /// The same invocation compared by `digest`, the raw `detail.data`'s
    /// ([`RawEvent::data_digest`](crate::RawEvent::data_digest)); the typed hash it had is still
    /// accepted from older records.
    pub fn hashing_raw_data(self, digest: String) -> Self {
        Self {
            legacy_hash: Some(self.payload_hash),
            payload_hash: digest,
            ..self
        }
    }

    /// True when a record's `stored` hash is this event's: its hash, or its legacy one.
    pub fn is_same_payload(&self, stored: &str) -> bool {
        stored == self.payload_hash || self.legacy_hash.as_deref() == Some(stored)
    }

    /// The same invocation under a key derived by the consumer (e.g. order id + detail-type).
    pub fn with_key(self, key: Option<String>) -> Self {
        Self { key, ..self }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// How the guard answered an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// First delivery: claimed and ran.
    Claimed,
    /// Took over an expired record or an INPROGRESS one whose lease had passed, and ran.
    ExpiredTakeover,
    /// Replaced a FAILED or COMPLETED record on purpose (redrive, replay, reprocess), and ran.
    Reprocessed,
    /// COMPLETED in the store: the stored result, handler not run.
    Duplicate,
    /// COMPLETED in this container's cache: the result, no store call.
    Cached,
    /// Another invocation holds a live claim: the guard answers `AlreadyInProgress` (retryable),
    /// which a [`Consumer`](crate::Consumer) turns into this outcome, leaving the event to the
    /// holder.
    InProgress,
    /// The handler failed for good (an error outcome).
    Failed,
    /// No key could be derived and the configuration allows running unguarded.
    Unguarded,
    /// A redrive for another consumer (`metadata.redrive.target`): nothing ran, nothing was
    /// written. Answered by the consumer before the guard.
    ForAnotherConsumer,
}

impl Outcome {
    /// The outcome's name in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::ExpiredTakeover => "expired-takeover",
            Self::Reprocessed => "reprocessed",
            Self::Duplicate => "duplicate",
            Self::Cached => "cached",
            Self::InProgress => "in-progress",
            Self::Failed => "failed",
            Self::Unguarded => "unguarded",
            Self::ForAnotherConsumer => "for-another-consumer",
        }
    }

    /// True when the handler ran in this invocation.
    pub fn ran(self) -> bool {
        matches!(
            self,
            Self::Claimed | Self::ExpiredTakeover | Self::Reprocessed | Self::Unguarded
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A guarded run's answer: how the event was handled and the handler's result, which a
/// duplicate gets from the store (absent when it was too large to store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guarded<R> {
    /// How the guard answered.
    pub outcome: Outcome,
    /// The handler's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<R>,
}

/// Why a guarded run did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum GuardError<E> {
    /// The handler failed; retryable as the handler's error says.
    #[error(transparent)]
    Handler(E),
    /// Another invocation holds a live claim on the event.
    #[error(
        "event {event_id}: {key} is being handled by another invocation until {lease_until} (epoch ms); retry later"
    )]
    AlreadyInProgress {
        /// The record key.
        key: String,
        /// The event's `metadata.event_id`.
        event_id: String,
        /// When that claim's lease ends, epoch milliseconds.
        lease_until: i64,
    },
    /// The key was handled before with other data: the producer reused an id.
    #[error(
        "event {event_id}: {key} was already handled with different data (stored hash {stored}, received {received})"
    )]
    PayloadMismatch {
        /// The record key.
        key: String,
        /// The event's `metadata.event_id`.
        event_id: String,
        /// Hash stored with the record.
        stored: String,
        /// Hash of this event's data.
        received: String,
    },
    /// No idempotency key could be derived and the configuration rejects such events.
    #[error("event {event_id}: no idempotency key could be derived; refusing to run unguarded")]
    MissingKey {
        /// The event's `metadata.event_id`.
        event_id: String,
    },
    /// The event failed for good before; it is answered without running again.
    #[error("event {event_id}: {key} failed before and is not run again: {error}")]
    PreviouslyFailed {
        /// The record key.
        key: String,
        /// The event's `metadata.event_id`.
        event_id: String,
        /// The error recorded then.
        error: String,
    },
    /// The event's data could not be hashed.
    #[error("event {event_id}: data could not be serialized for its payload hash: {source}")]
    Payload {
        /// The event's `metadata.event_id`.
        event_id: String,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The store failed to claim, after the SDK's retries; nothing ran.
    #[error("event {event_id}: {source}")]
    Store {
        /// The event's `metadata.event_id`.
        event_id: String,
        /// The store's error.
        source: StoreError,
    },
    /// The handler panicked (a batch item: the panic is caught so that the batch's other events
    /// still settle). A bug, not a passing fault: recorded FAILED, never retried as it is.
    #[error("event {event_id}: the handler panicked: {message}")]
    Panicked {
        /// The event's `metadata.event_id`.
        event_id: String,
        /// The panic's message.
        message: String,
    },
    /// A batch reached its invocation's deadline before this event's handler finished or
    /// started; its claim's lease ends with the invocation, so the queue's next delivery runs it.
    #[error("event {event_id}: the invocation's deadline came before its handler finished; delivered again later")]
    OutOfTime {
        /// The event's `metadata.event_id`.
        event_id: String,
    },
}

impl<E: Classify> Classify for GuardError<E> {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Handler(error) => error.is_retryable(),
            Self::AlreadyInProgress { .. } | Self::Store { .. } | Self::OutOfTime { .. } => true,
            Self::PayloadMismatch { .. }
            | Self::MissingKey { .. }
            | Self::PreviouslyFailed { .. }
            | Self::Payload { .. }
            | Self::Panicked { .. } => false,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Handler(error) => error.error_type(),
            Self::AlreadyInProgress { .. } => "Idempotency.AlreadyInProgress",
            Self::PayloadMismatch { .. } => "Idempotency.PayloadMismatch",
            Self::MissingKey { .. } => "Idempotency.MissingKey",
            Self::PreviouslyFailed { .. } => "Idempotency.PreviouslyFailed",
            Self::Payload { .. } => "Idempotency.Payload",
            Self::Store { .. } => "Idempotency.Store",
            Self::Panicked { .. } => "Handler.Panicked",
            Self::OutOfTime { .. } => "Batch.OutOfTime",
        }
    }

    fn is_deferred(&self) -> bool {
        matches!(self, Self::Handler(error) if error.is_deferred())
    }
}

impl<E: Classify + fmt::Display> From<GuardError<E>> for lambda_runtime::Diagnostic {
    fn from(error: GuardError<E>) -> Self {
        Self {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// A COMPLETED record as the cache keeps it.
#[derive(Debug, Clone)]
struct Cached {
    payload_hash: String,
    expires_at: i64,
    result: Option<String>,
}

/// The idempotency guard. Cheap to clone (one `Arc`); build it once at cold start.
#[derive(Debug)]
pub struct IdempotencyGuard<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for IdempotencyGuard<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

#[derive(Debug)]
struct Inner<S> {
    store: S,
    config: IdempotencyConfig,
    clock: Arc<dyn Clock>,
    /// COMPLETED records seen by this container: a warm duplicate costs no store call.
    cache: Option<Mutex<LruCache<String, Cached>>>,
    /// Raw events this container answered from a COMPLETED record, by fingerprint: a warm
    /// duplicate is answered before it is decoded (see [`IdempotencyGuard::answer_known`]).
    known: Option<Mutex<LruCache<Fingerprint, Known>>>,
}

/// A raw event's fingerprint (see [`RawEvent::fingerprint`](crate::RawEvent::fingerprint)).
pub type Fingerprint = u128;

/// What a fingerprinted raw event was keyed and hashed as, and the subject it named.
#[derive(Debug, Clone)]
struct Known {
    record_key: String,
    payload_hash: String,
    subject: Option<String>,
}

/// What a claim decided for one event, before the handler runs.
pub(super) enum Decision<R, E> {
    /// Run the handler under this claim.
    Run(Record, Outcome),
    /// Answer without running.
    Answer(Result<Guarded<R>, GuardError<E>>),
}

impl<S: Store> IdempotencyGuard<S> {
    /// A guard over `store` with the system clock.
    pub fn new(store: S, config: IdempotencyConfig) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    /// A guard reading time from `clock` (tests move a [`ManualClock`](super::ManualClock)).
    pub fn with_clock(store: S, config: IdempotencyConfig, clock: Arc<dyn Clock>) -> Self {
        let cache = NonZeroUsize::new(config.cache_capacity).map(|n| Mutex::new(LruCache::new(n)));
        let known = NonZeroUsize::new(config.cache_capacity).map(|n| Mutex::new(LruCache::new(n)));
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                clock,
                cache,
                known,
            }),
        }
    }

    /// Whether this guard keeps completed records in memory ([`IdempotencyConfig::cache_capacity`]).
    pub fn caches(&self) -> bool {
        self.inner.cache.is_some()
    }

    /// The answer for a raw event this container saw before, without decoding it: when the raw
    /// event with this `fingerprint` (the same event) was answered from or written as a COMPLETED record that the cache still
    /// holds under the same payload hash. Decoding, keying and hashing are functions of those
    /// fields alone, so the full path would reach the same record and give this answer. Also
    /// the subject that event named, for its log lines.
    pub fn answer_known<R: DeserializeOwned>(&self, fingerprint: &Fingerprint) -> Option<(Guarded<R>, Option<String>)> {
        let known = {
            let mut known = self
                .inner
                .known
                .as_ref()?
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            known.get(fingerprint)?.clone()
        };
        let invocation = Invocation {
            key: None,
            event_id: String::new(),
            payload_hash: known.payload_hash,
            legacy_hash: None,
            deadline_ms: None,
            replace_failed: false,
            replace_completed: false,
        };
        match self.cached_answer::<R, std::convert::Infallible>(&known.record_key, &invocation)? {
            Ok(guarded) => Some((guarded, known.subject)),
            Err(_) => None,
        }
    }

    /// Remembers that the raw event with `fingerprint` was keyed `key` (without the function
    /// prefix) and hashed `payload_hash`, once its record is COMPLETED in the cache.
    pub fn remember_known(&self, fingerprint: Fingerprint, key: &str, payload_hash: String, subject: Option<String>) {
        if let Some(known) = &self.inner.known {
            let record_key = self.inner.config.record_key(key);
            let mut known = known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            known.put(
                fingerprint,
                Known {
                    record_key,
                    payload_hash,
                    subject,
                },
            );
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &IdempotencyConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Runs `handler` at most once per key (see the module docs for every path).
    ///
    /// # Errors
    /// [`GuardError`]: the handler's error, or the guard's answer to a duplicate or a failure.
    pub async fn run<R, E, F, Fut>(&self, invocation: Invocation, handler: F) -> Result<Guarded<R>, GuardError<E>>
    where
        R: Serialize + DeserializeOwned,
        E: Classify + fmt::Display,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        match self
            .run_prepared(invocation, || Ok::<(), std::convert::Infallible>(()), |()| handler())
            .await
        {
            Ok(answer) => answer,
            Err(never) => match never {},
        }
    }

    /// Runs `handler` at most once per key, as [`IdempotencyGuard::run`] does, on what `prepare`
    /// makes of the event. `prepare` is called only once the handler is to run (the event is
    /// claimed, or unkeyed and allowed to run unguarded), so a duplicate is answered without
    /// it: a consumer claims an event by its raw `event_id` and decodes it here. When `prepare`
    /// fails, the claim is deleted, so no record is left for the key, and its error is
    /// answered: an event that could not be read never ran, and its next delivery is read
    /// again and fails the same way.
    ///
    /// # Errors
    /// The outer `Err`: `prepare`'s error, after the claim is released. The inner one: as
    /// [`IdempotencyGuard::run`].
    pub async fn run_prepared<T, P, R, E, Prep, F, Fut>(
        &self,
        invocation: Invocation,
        prepare: Prep,
        handler: F,
    ) -> Result<Result<Guarded<R>, GuardError<E>>, P>
    where
        R: Serialize + DeserializeOwned,
        E: Classify + fmt::Display,
        Prep: FnOnce() -> Result<T, P>,
        F: FnOnce(T) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let Some(key) = invocation.key.as_deref().map(|k| self.inner.config.record_key(k)) else {
            if let Some(refused) = self.refuse_unkeyed(&invocation) {
                return Ok(Err(refused));
            }
            let prepared = prepare()?;
            return Ok(unguarded(handler(prepared).await));
        };
        if let Some(answer) = self.cached_answer(&key, &invocation) {
            return Ok(answer);
        }
        let now = self.inner.clock.now_ms();
        let record = self.claim_record(key, &invocation, now);
        let claim = match self.inner.store.put(&record, &condition(&invocation, now)).await {
            Ok(claim) => claim,
            Err(source) => {
                return Ok(Err(GuardError::Store {
                    event_id: invocation.event_id.clone(),
                    source,
                }));
            }
        };
        match self.decide(record, claim, &invocation, now) {
            Decision::Answer(answer) => Ok(answer),
            Decision::Run(record, outcome) => {
                let prepared = match prepare() {
                    Ok(prepared) => prepared,
                    Err(error) => {
                        self.release(&record, &invocation).await;
                        return Err(error);
                    }
                };
                let result = handler(prepared).await;
                self.settle_one(self.settlement(&record, &result), &invocation).await;
                Ok(result
                    .map(|value| Guarded {
                        outcome,
                        result: Some(value),
                    })
                    .map_err(GuardError::Handler))
            }
        }
    }

    pub(super) async fn run_unkeyed<R, E, F, Fut>(
        &self,
        invocation: &Invocation,
        handler: F,
    ) -> Result<Guarded<R>, GuardError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        match self.refuse_unkeyed(invocation) {
            Some(refused) => Err(refused),
            None => unguarded(handler().await),
        }
    }

    /// The answer to an event without an idempotency key when the configuration rejects such
    /// events; `None` when it runs them unguarded. Logged either way.
    fn refuse_unkeyed<E>(&self, invocation: &Invocation) -> Option<GuardError<E>> {
        match self.inner.config.missing_key {
            MissingKey::Reject => {
                tracing::warn!(event_id = %invocation.event_id, outcome = "missing-key", "no idempotency key; rejected");
                Some(GuardError::MissingKey {
                    event_id: invocation.event_id.clone(),
                })
            }
            MissingKey::RunUnguarded => {
                tracing::warn!(event_id = %invocation.event_id, outcome = "unguarded", "no idempotency key; running unguarded");
                None
            }
        }
    }

    pub(super) fn claim_record(&self, key: String, invocation: &Invocation, now: i64) -> Record {
        let config = &self.inner.config;
        let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let lease_until = match invocation.deadline_ms {
            // With less than the margin left, a lease ending before `now` would not exclude a
            // concurrent duplicate at all: end it at the deadline itself.
            Some(deadline) if deadline.saturating_sub(millis(config.lease_margin)) > now => {
                deadline.saturating_sub(millis(config.lease_margin))
            }
            Some(deadline) => deadline,
            None => now.saturating_add(millis(config.default_lease)),
        };
        let expires_in = i64::try_from(config.expires_after.as_secs()).unwrap_or(i64::MAX);
        Record {
            key,
            status: Status::InProgress,
            claim_token: claim_token(),
            payload_hash: invocation.payload_hash.clone(),
            expires_at: now.div_euclid(1000).saturating_add(expires_in),
            lease_until,
            result: None,
            error: None,
        }
    }

    /// Turns a claim's answer into a decision, logging it at debug (the consumer's outcome line
    /// says the outcome at info, once per event).
    pub(super) fn decide<R, E>(&self, ours: Record, claim: Claim, invocation: &Invocation, now: i64) -> Decision<R, E>
    where
        R: DeserializeOwned,
    {
        let event_id = invocation.event_id.clone();
        let decision = match claim {
            Claim::Claimed { replaced: None } => Decision::Run(ours, Outcome::Claimed),
            Claim::Claimed { replaced: Some(old) } => {
                let outcome = if old.is_expired(now) || old.status == Status::InProgress {
                    Outcome::ExpiredTakeover
                } else {
                    Outcome::Reprocessed
                };
                Decision::Run(ours, outcome)
            }
            // Our own claim, written by an SDK retry whose first attempt did land.
            Claim::Conflict(existing) if existing.claim_token == ours.claim_token => {
                Decision::Run(ours, Outcome::Claimed)
            }
            Claim::Conflict(existing) if !invocation.is_same_payload(&existing.payload_hash) => {
                Decision::Answer(Err(GuardError::PayloadMismatch {
                    key: existing.key,
                    event_id,
                    stored: existing.payload_hash,
                    received: ours.payload_hash,
                }))
            }
            Claim::Conflict(existing) => match existing.status {
                Status::Completed => {
                    self.remember(&existing);
                    Decision::Answer(Ok(Guarded {
                        outcome: Outcome::Duplicate,
                        result: self.stored_result(&existing.key, existing.result.as_deref()),
                    }))
                }
                Status::Failed => Decision::Answer(Err(GuardError::PreviouslyFailed {
                    key: existing.key,
                    event_id,
                    error: existing.error.unwrap_or_default(),
                })),
                Status::InProgress => Decision::Answer(Err(GuardError::AlreadyInProgress {
                    key: existing.key,
                    event_id,
                    lease_until: existing.lease_until,
                })),
            },
        };
        let outcome = match &decision {
            Decision::Run(_, outcome) => *outcome,
            Decision::Answer(Ok(guarded)) => guarded.outcome,
            Decision::Answer(Err(GuardError::AlreadyInProgress { .. })) => Outcome::InProgress,
            Decision::Answer(Err(_)) => Outcome::Failed,
        };
        let key = invocation.key.as_deref().unwrap_or_default();
        tracing::debug!(key, event_id = %invocation.event_id, outcome = outcome.as_str(), "idempotency decision");
        decision
    }

    /// The write that settles a run: COMPLETED with the result, FAILED with the error, or the
    /// release of the claim after a retryable failure, so the retry runs at once.
    pub(super) fn settlement<R: Serialize, E: Classify + fmt::Display>(
        &self,
        claim: &Record,
        result: &Result<R, E>,
    ) -> Settlement {
        match result {
            Ok(value) => {
                let stored = match serde_json::to_string(value) {
                    Ok(json) if json.len() <= self.inner.config.max_result_bytes => Some(json),
                    Ok(json) => {
                        tracing::warn!(
                            key = %claim.key,
                            bytes = json.len(),
                            limit = self.inner.config.max_result_bytes,
                            "result too large to store; duplicates will get no result"
                        );
                        None
                    }
                    Err(error) => {
                        tracing::warn!(key = %claim.key, %error, "result not serializable; duplicates will get no result");
                        None
                    }
                };
                Settlement::Write(Record {
                    status: Status::Completed,
                    result: stored,
                    ..claim.clone()
                })
            }
            Err(error) if error.is_retryable() => Settlement::Release(claim.clone()),
            Err(error) => Settlement::Write(Record {
                status: Status::Failed,
                error: Some(error.to_string()),
                ..claim.clone()
            }),
        }
    }

    async fn settle_one(&self, settlement: Settlement, invocation: &Invocation) {
        match settlement {
            Settlement::Write(record) => {
                let update = self.inner.store.update(&record).await;
                self.after_update(&record, update, invocation);
            }
            Settlement::Release(claim) => self.release(&claim, invocation).await,
        }
    }

    /// Deletes a claim after a retryable failure. A claim already gone (its lease taken over)
    /// is fine; a release that fails only makes the retry wait for the lease to end.
    pub(super) async fn release(&self, claim: &Record, invocation: &Invocation) {
        if let Err(error) = self.inner.store.delete(&claim.key, &claim.claim_token).await {
            tracing::warn!(key = %claim.key, event_id = %invocation.event_id, %error, "claim not released; a retry waits for the lease to end");
        }
    }

    /// Logs what a settling write found, and caches a completion.
    pub(super) fn after_update(&self, record: &Record, update: Result<Update, StoreError>, invocation: &Invocation) {
        match update {
            Ok(Update::Done) => self.remember(record),
            // An SDK retry of our own write that had landed.
            Ok(Update::Lost(Some(current)))
                if current.claim_token == record.claim_token && current.status == record.status =>
            {
                self.remember(record);
            }
            Ok(Update::Lost(current)) => tracing::warn!(
                key = %record.key,
                event_id = %invocation.event_id,
                now_held_by = current.as_ref().map(|c| c.status.as_str()).unwrap_or("nobody"),
                "claim lost before it was settled: the lease passed and another invocation took over"
            ),
            Err(error) => tracing::warn!(
                key = %record.key,
                event_id = %invocation.event_id,
                %error,
                "completion not confirmed by the store; if it was not written, a redelivery after the lease ends runs the handler again"
            ),
        }
    }

    pub(super) fn cached_answer<R: DeserializeOwned, E>(
        &self,
        key: &str,
        invocation: &Invocation,
    ) -> Option<Result<Guarded<R>, GuardError<E>>> {
        if invocation.replace_completed {
            return None;
        }
        let cache = self.inner.cache.as_ref()?;
        let now_s = self.inner.clock.now_ms().div_euclid(1000);
        let hit = {
            let mut cache = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match cache.get(key) {
                Some(hit) if hit.expires_at >= now_s && invocation.is_same_payload(&hit.payload_hash) => hit.clone(),
                // A different payload or an expired record: let the store decide.
                _ => return None,
            }
        };
        tracing::debug!(key = invocation.key.as_deref().unwrap_or_default(), event_id = %invocation.event_id, outcome = "cached", "idempotency decision");
        Some(Ok(Guarded {
            outcome: Outcome::Cached,
            result: self.stored_result(key, hit.result.as_deref()),
        }))
    }

    fn remember(&self, record: &Record) {
        if record.status != Status::Completed {
            return;
        }
        if let Some(cache) = &self.inner.cache {
            let mut cache = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.put(
                record.key.clone(),
                Cached {
                    payload_hash: record.payload_hash.clone(),
                    expires_at: record.expires_at,
                    result: record.result.clone(),
                },
            );
        }
    }

    fn stored_result<R: DeserializeOwned>(&self, key: &str, stored: Option<&str>) -> Option<R> {
        let stored = stored?;
        match serde_json::from_str(stored) {
            Ok(result) => Some(result),
            Err(error) => {
                tracing::warn!(key, %error, "stored result no longer fits the handler's result type; answering without it");
                None
            }
        }
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }
}

/// A handler's answer when it ran without a key: [`Outcome::Unguarded`].
fn unguarded<R, E>(result: Result<R, E>) -> Result<Guarded<R>, GuardError<E>> {
    result
        .map(|value| Guarded {
            outcome: Outcome::Unguarded,
            result: Some(value),
        })
        .map_err(GuardError::Handler)
}

/// A token no other claim holds, in any process: a random (v4) UUID drawn once per process, its
/// low bits XORed with a per-process counter. The claims of one process differ by the counter;
/// two processes' tokens coincide only if their random draws fall within a counter's range of
/// each other (122 random bits: never, in practice). It takes no system call per claim, where a
/// fresh v4 UUID reads the kernel's random source each time.
fn claim_token() -> String {
    static BASE: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let (high, low) = *BASE.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair());
    // Below 2^62, the counter leaves the variant bits (the top two of `low`) as they are.
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & ((1 << 62) - 1);
    uuid::Uuid::from_u64_pair(high, low ^ count).to_string()
}

/// How a run is settled in the store.
pub(super) enum Settlement {
    /// Write the COMPLETED or FAILED record.
    Write(Record),
    /// Delete the claim.
    Release(Record),
}

/// The claim condition of an invocation at `now`.
pub(super) fn condition(invocation: &Invocation, now: i64) -> ClaimCondition {
    ClaimCondition {
        now_ms: now,
        replace_failed: invocation.replace_failed,
        replace_completed: invocation.replace_completed,
    }
}

#[cfg(test)]
mod tests {
    use super::claim_token;

    #[test]
    fn every_claim_of_a_process_gets_its_own_token_shaped_as_a_random_uuid() {
        let tokens: Vec<String> = (0..1000).map(|_| claim_token()).collect();
        let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), tokens.len());
        for token in &tokens {
            let parsed = uuid::Uuid::parse_str(token).map(|u| (u.get_version_num(), u.get_variant()));
            assert_eq!(parsed.ok(), Some((4, uuid::Variant::RFC4122)), "{token}");
        }
    }
}
