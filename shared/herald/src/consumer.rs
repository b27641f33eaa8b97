//! Running a domain reaction as a Lambda consumer: decode once, guard, react, log one outcome.
//!
//! A [`Consumer`] is a function's dependencies, its idempotency guard and its handler, built once
//! at cold start by [`Consumer::from_env`] (which [`run`](crate::run) calls for `main.rs`, and tests
//! call over an environment of their own). For each invocation the consumer
//! 1. decodes the raw event into the function's [`EventSet`](crate::envelope::EventSet) (an
//!    [`EnvelopeError`] is never retryable; an unknown detail-type or version also writes the
//!    `UncataloguedEvents` metric, see [`emf`](crate::emf)). A function keyed by event id (the
//!    default [`IdempotencyKey::EventId`]) claims an event its set takes before decoding it, by
//!    the raw `metadata.event_id` and `detail.data`, and decodes it only once the claim holds:
//!    a duplicate the store answers is never decoded, and an event that fails to decode has its
//!    claim released, so it leaves no record;
//! 2. opens a span carrying the event's `event_id`, `correlation_id`, `causation_id`,
//!    `detail_type`, `source`, `schema_version`, `subject` (once it decoded), `replay_name` and
//!    `redrive_run`, and the invocation's `request_id`, `cold_start`, `function_name`,
//!    `function_version` and `xray_trace_id`, so every log line of the event carries them (the
//!    decode error, if any, is logged inside it);
//! 3. runs the handler under the guard. A replay (`replay-name`) or a redrive
//!    (`metadata.redrive`) re-runs an event whose record is FAILED and answers a COMPLETED one
//!    from its record; a reprocess (a replay named `reprocess-…`, a redrive marked `reprocess`)
//!    runs it again under a key of its own (`<event_id>#reprocess#<run>`), once per run; a
//!    redrive whose `target` names another Lambda function than this one
//!    (`AWS_LAMBDA_FUNCTION_NAME`) is answered [`Outcome::ForAnotherConsumer`] before the guard:
//!    nothing runs, nothing is written;
//! 4. writes the `DeferredEvents` metric for a handler error that is deferred
//!    ([`Classify::is_deferred`]: it heals on Lambda's next attempt), which the errors alarm
//!    subtracts, and still fails the invocation so Lambda delivers the event again;
//! 5. answers a delivery whose event another invocation holds (the guard's `AlreadyInProgress`)
//!    as [`Outcome::InProgress`], not as an error: the holder completes it, or fails and is
//!    retried by Lambda, and a duplicate racing it must not count an invocation error that pages;
//! 6. logs one outcome line with the outcome, the duration and, on failure, the error type and
//!    whether it is retryable.
//!
//! [`Consumer::handle`] does all of that without the Lambda runtime, for tests and local runs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

mod buffered;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Deserialize as _;
use tracing::Instrument;

pub use buffered::{
    Answer, BATCH_OUTCOMES, BatchAnswer, Buffering, DEAD_LETTER_QUEUE_URL, DeadLetters, Delivery, ItemOutcome,
    MAX_RECEIVES,
};

use crate::envelope::EventSet;
use crate::envelope::{EnvelopeError, REPROCESS_PREFIX, RawEvent, RedriveMark};
use crate::error::Classify;
use crate::function::{ConfigError, DynHandler, Env, Erased, Function, Handler, IdempotencyKey};
use crate::idempotency::guard::Fingerprint;
use crate::idempotency::{ChosenStore, GuardError, Guarded, GuardedEvent, IdempotencyGuard, Invocation, Outcome};

/// The variable Lambda (and `herald dev`) sets to the function's name.
pub const LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// The variable Lambda (and `herald dev`) sets to the function's version (`$LATEST`, `3`).
pub const LAMBDA_FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";

/// What Lambda says about one invocation besides its event (the Runtime API's headers), as
/// [`Consumer::run`] reads it from `lambda_runtime`'s context; tests and local runs give what
/// they have ([`Call::default`]: nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    /// Lambda's request id.
    pub request_id: Option<String>,
    /// When the invocation times out, epoch milliseconds.
    pub deadline_ms: Option<i64>,
    /// The X-Ray trace header (`Root=…;Parent=…;Sampled=…`), when the invocation is traced.
    pub trace_header: Option<String>,
    /// The invoked function's ARN: a buffered consumer's dead letters name it as their target.
    pub function_arn: Option<String>,
}

/// Why a consumer did not handle an event.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError<E> {
    /// The event could not be decoded into anything the function accepts.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The guard's or the handler's error.
    #[error(transparent)]
    Guard(GuardError<E>),
}

impl<E> ConsumerError<E> {
    /// True when another invocation holds the event (a buffered batch's item is then delivered
    /// again by its queue; a single event is answered [`Outcome::InProgress`] instead).
    pub fn is_in_progress(&self) -> bool {
        matches!(self, Self::Guard(GuardError::AlreadyInProgress { .. }))
    }
}

impl<E: Classify> Classify for ConsumerError<E> {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Envelope(error) => error.is_retryable(),
            Self::Guard(error) => error.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Envelope(error) => error.error_type(),
            Self::Guard(error) => error.error_type(),
        }
    }

    fn is_deferred(&self) -> bool {
        matches!(self, Self::Guard(error) if error.is_deferred())
    }
}

/// How a failed invocation's `errorMessage` starts when its error is not retryable, so that
/// what reads Lambda's record of it later (the redrive function, in a dead-letter queue's
/// invocation records) can tell a failure that a later run may fix from one that fails the same
/// way until the code or the data changes.
pub const NOT_RETRYABLE_PREFIX: &str = "not retryable: ";

impl<E: Classify + fmt::Display> From<ConsumerError<E>> for Diagnostic {
    fn from(error: ConsumerError<E>) -> Self {
        let error_message = match error.is_retryable() {
            true => error.to_string(),
            false => format!("{NOT_RETRYABLE_PREFIX}{error}"),
        };
        Self {
            error_type: error.error_type().to_owned(),
            error_message,
        }
    }
}

/// One invocation's boxed future, as the runtime's service returns it.
type Handled<R, E> = Pin<Box<dyn Future<Output = Result<Answer<R>, ConsumerError<E>>> + Send>>;

/// A function ready to run: its dependencies, its guard and its handler, built once at cold
/// start. Clones share all three.
pub struct Consumer<D: Function> {
    deps: Arc<D>,
    guard: IdempotencyGuard<ChosenStore>,
    handler: Arc<dyn DynHandler<D>>,
    /// The Lambda function this consumer runs as (`AWS_LAMBDA_FUNCTION_NAME`), which a redrive's
    /// `target` is compared with; unknown outside Lambda and `herald dev`.
    function_name: Option<Arc<str>>,
    /// Its version (`AWS_LAMBDA_FUNCTION_VERSION`), for the logs.
    function_version: Option<Arc<str>>,
    /// True until the first invocation: that one is the cold start.
    cold: Arc<AtomicBool>,
    /// Where a buffered batch's events go when they fail for good, and after how many receives.
    buffering: Arc<Buffering>,
}

impl<D: Function> Clone for Consumer<D> {
    fn clone(&self) -> Self {
        Self {
            deps: Arc::clone(&self.deps),
            guard: self.guard.clone(),
            handler: Arc::clone(&self.handler),
            function_name: self.function_name.clone(),
            function_version: self.function_version.clone(),
            cold: Arc::clone(&self.cold),
            buffering: Arc::clone(&self.buffering),
        }
    }
}

impl<D: Function> fmt::Debug for Consumer<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("function", &D::NAME)
            .finish_non_exhaustive()
    }
}

impl<D: Function> Consumer<D> {
    /// The consumer `main.rs` runs: `D` built by [`Function::from_env`], the guard on the
    /// store and settings [`Env::idempotency`] reads, and `handler`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first missing or invalid variable.
    pub fn from_env<H>(env: &Env, handler: H) -> Result<Self, ConfigError>
    where
        H: for<'a> Handler<'a, D>,
    {
        let (store, config) = env.idempotency(D::NAME)?;
        let consumer = Self::new(D::from_env(env)?, IdempotencyGuard::new(store, config), handler);
        Ok(Self {
            function_name: env.var(LAMBDA_FUNCTION_NAME).map(Arc::from),
            function_version: env.var(LAMBDA_FUNCTION_VERSION).map(Arc::from),
            buffering: Arc::new(Buffering::from_env(env)?),
            ..consumer
        })
    }

    /// A consumer of `deps` and `guard` built by hand, e.g. a test's deps with counters.
    pub fn new<H>(deps: D, guard: IdempotencyGuard<ChosenStore>, handler: H) -> Self
    where
        H: for<'a> Handler<'a, D>,
    {
        Self {
            deps: Arc::new(deps),
            guard,
            handler: Arc::new(Erased(handler)),
            function_name: None,
            function_version: None,
            cold: Arc::new(AtomicBool::new(true)),
            buffering: Arc::new(Buffering::default()),
        }
    }

    /// The same consumer sending a buffered batch's failed events to `buffering`'s dead-letter
    /// queue, as [`Consumer::from_env`] does from `HERALD_DEAD_LETTER_QUEUE_URL`.
    #[must_use]
    pub fn with_buffering(&self, buffering: Buffering) -> Self {
        Self {
            buffering: Arc::new(buffering),
            ..self.clone()
        }
    }

    /// The same dependencies and handler under another guard: a warm process that forgot
    /// (a fresh memory store), or one whose records expired.
    #[must_use]
    pub fn with_guard(&self, guard: IdempotencyGuard<ChosenStore>) -> Self {
        Self { guard, ..self.clone() }
    }

    /// The same guard and handler over other dependencies, e.g. a store whose table is missing.
    #[must_use]
    pub fn with_deps(&self, deps: D) -> Self {
        Self {
            deps: Arc::new(deps),
            ..self.clone()
        }
    }

    /// The dependencies the handler borrows, e.g. to read a store in tests.
    pub fn deps(&self) -> &D {
        &self.deps
    }

    /// The guard, e.g. to read its store in tests.
    pub fn guard(&self) -> &IdempotencyGuard<ChosenStore> {
        &self.guard
    }

    /// Serves invocations from the Lambda Runtime API until the runtime stops.
    ///
    /// # Errors
    /// When the runtime cannot start or loses the Runtime API.
    pub async fn run(self) -> Result<(), lambda_runtime::Error> {
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Delivery>| {
            let consumer = self.clone();
            // Boxed: the nested futures of runtime, guard and handler are otherwise too deep a
            // type for the compiler's layout computation in each function's `main`.
            let handled: Handled<D::Reaction, D::Error> = Box::pin(async move {
                let call = Call {
                    request_id: Some(event.context.request_id.clone()),
                    deadline_ms: i64::try_from(event.context.deadline).ok(),
                    trace_header: event.context.xray_trace_id.clone(),
                    function_arn: Some(event.context.invoked_function_arn.clone()),
                };
                match event.payload {
                    Delivery::Event(raw) => consumer.handle_call(raw, call).await.map(Answer::Event),
                    Delivery::Batch(batch) => {
                        let answer = consumer.handle_batch(batch, call).await;
                        Ok(match consumer.buffering.report_outcomes {
                            true => Answer::BatchWithOutcomes(answer),
                            false => Answer::Batch(answer.response),
                        })
                    }
                }
            });
            handled
        }))
        .await
    }

    /// Handles one raw event, as [`Consumer::run`] does for each invocation.
    ///
    /// # Errors
    /// [`ConsumerError`]: the decode error, or the guard's or handler's error.
    pub async fn handle(
        &self,
        raw: RawEvent,
        deadline_ms: Option<i64>,
    ) -> Result<Guarded<D::Reaction>, ConsumerError<D::Error>> {
        self.handle_call(
            raw,
            Call {
                deadline_ms,
                ..Call::default()
            },
        )
        .await
    }

    /// Handles one raw event of the invocation `call`: every log line carries the call's request
    /// id and trace id, and every event the handler publishes carries its trace header.
    ///
    /// # Errors
    /// [`ConsumerError`]: the decode error, or the guard's or handler's error.
    pub async fn handle_call(
        &self,
        raw: RawEvent,
        call: Call,
    ) -> Result<Guarded<D::Reaction>, ConsumerError<D::Error>> {
        let started = Instant::now();
        let fields = self.begin(&call);
        let cold_start = fields.cold_start;
        // A duplicate this container completed is answered before it is decoded.
        let fingerprint = if self.guard.caches() { raw.fingerprint() } else { None };
        if let Some((guarded, subject)) = fingerprint.as_ref().and_then(|f| self.guard.answer_known(f)) {
            let result = Ok(guarded);
            event_span(&raw, subject.as_deref(), &fields).in_scope(|| {
                self.conclude(
                    &raw,
                    &result,
                    started.elapsed(),
                    cold_start,
                    &crate::emf::Recorded::new(),
                );
            });
            return result;
        }
        let deadline_ms = call.deadline_ms;
        // Keyed by its event id, an event is claimed before it is decoded, so that a duplicate
        // the store answers is never decoded; its span records the subject once it is decoded.
        // Any other is decoded first, before the span opens, so that the span names its subject
        // from its first line on.
        let path = match self.claimable(&raw) {
            Some(claimable) => Path::ClaimFirst(claimable),
            None => Path::DecodeFirst(raw.decode_set_with_subject::<D::Event>()),
        };
        let subject = match &path {
            Path::DecodeFirst(Ok((_, subject))) => subject.as_deref(),
            _ => None,
        };
        let span = event_span(&raw, subject, &fields);
        let subject = subject.map(str::to_owned);
        // Boxed: wrapped in the trace scope, the nested futures of guard and handler are otherwise
        // too deep a type for the compiler's layout computation in callers that nest it further.
        // Boxed before it is instrumented, so that the large future is moved once, not twice.
        let handled = Box::pin(async move {
            let run = async {
                match path {
                    Path::ClaimFirst(claimable) => self.run_claiming(&raw, claimable, deadline_ms, fingerprint).await,
                    Path::DecodeFirst(decoded) => {
                        let known = fingerprint.map(|f| (f, subject));
                        self.run_decoded(&raw, decoded.map(|(event, _)| event), deadline_ms, known)
                            .await
                    }
                }
            };
            let (result, recorded) = crate::emf::collecting(run).await;
            self.conclude(&raw, &result, started.elapsed(), cold_start, &recorded);
            result
        })
        .instrument(span);
        crate::trace::scope(call.trace_header, handled).await
    }

    /// What claiming `raw` before decoding it needs, when it can be: the function keys by
    /// event id, some member of its event set takes the event's source, detail-type and
    /// version, and its `event_id` and redrive mark read as the decoded event would hold them.
    /// Otherwise `None`: the event is decoded first, and a bad one fails on its own error.
    fn claimable(&self, raw: &RawEvent) -> Option<Claimable> {
        if !matches!(D::IDEMPOTENCY_KEY, IdempotencyKey::EventId) || !<D::Event as EventSet>::accepts(raw) {
            return None;
        }
        // The decoded `event_id` is a `Uuid`: the key is its printed form, whatever the spelling.
        let event_id = uuid::Uuid::parse_str(raw.ids().event_id.as_deref()?).ok()?.to_string();
        let redrive = match raw.metadata_value()?.get("redrive") {
            Some(mark) => Option::<RedriveMark>::deserialize(mark).ok()?,
            None => None,
        };
        Some(Claimable { event_id, redrive })
    }

    /// The guard's invocation of `raw` with the replay or redrive it says it is (`redrive`:
    /// its mark), or the answer it gets without the guard: a redrive for another consumer.
    fn redelivered(
        &self,
        raw: &RawEvent,
        mut invocation: Invocation,
        redrive: Option<&RedriveMark>,
    ) -> Result<Invocation, Guarded<D::Reaction>> {
        // A redrive from another consumer's dead-letter queue is not for this one: the event it
        // holds reached every rule, but only the consumer that failed it runs it again.
        if let (Some(mark), Some(function)) = (redrive, &self.function_name)
            && mark.is_for_another_than(function)
        {
            tracing::info!(
                run = %mark.run,
                target = mark.target.as_deref().unwrap_or_default(),
                "a redrive for another consumer: ignored"
            );
            return Err(Guarded {
                outcome: Outcome::ForAnotherConsumer,
                result: None,
            });
        }
        let redelivery = Redelivery::of(raw.replay_name(), redrive);
        // A replay or a redrive is a deliberate re-delivery after a fix: a FAILED record may run again.
        invocation.replace_failed = redelivery.is_some();
        // A reprocess runs completed events again, once per replay or redrive run: its own key.
        if let Some(Redelivery { reprocess: true, scope }) = &redelivery {
            invocation.key = invocation.key.map(|key| format!("{key}#reprocess#{scope}"));
        }
        if let Some(redelivery) = &redelivery {
            tracing::info!(
                run = %redelivery.scope,
                reprocess = redelivery.reprocess,
                "redelivered by a replay or redrive"
            );
        }
        Ok(invocation)
    }

    /// What the guard needs to run `raw`, decoded as `decoded`, or the answer it gets without
    /// the guard (a redrive for another consumer).
    fn prepare(
        &self,
        raw: &RawEvent,
        decoded: Result<D::Event, EnvelopeError>,
        deadline_ms: Option<i64>,
    ) -> Result<Prepared<D>, ConsumerError<D::Error>> {
        let event = decoded.map_err(|error| self.undecodable(raw, error))?;
        let mut invocation = Invocation::hashed(&event, raw.data_digest(), deadline_ms);
        if let IdempotencyKey::Derived(derive) = D::IDEMPOTENCY_KEY
            && let Some(key) = derive(&event)
        {
            invocation = invocation.with_key(Some(key));
        }
        Ok(
            match self.redelivered(raw, invocation, event.metadata().redrive.as_ref()) {
                Ok(invocation) => Prepared::Run(invocation, event),
                Err(answered) => Prepared::Answered(answered),
            },
        )
    }

    /// The consumer's error for an event that could not be decoded; an unknown detail-type or
    /// version is also reported as uncatalogued.
    fn undecodable(&self, raw: &RawEvent, error: EnvelopeError) -> ConsumerError<D::Error> {
        if matches!(
            error,
            EnvelopeError::UnknownDetailType { .. } | EnvelopeError::UnsupportedVersion { .. }
        ) {
            self.report_uncatalogued(raw);
        }
        ConsumerError::Envelope(error)
    }

    /// Runs `raw`, decoded as `decoded`, under the guard.
    /// `known`: the raw event's fingerprint and subject, remembered once its record is completed
    /// so that a duplicate is answered before it is decoded.
    async fn run_decoded(
        &self,
        raw: &RawEvent,
        decoded: Result<D::Event, EnvelopeError>,
        deadline_ms: Option<i64>,
        known: Option<(Fingerprint, Option<String>)>,
    ) -> Result<Guarded<D::Reaction>, ConsumerError<D::Error>> {
        let (invocation, event) = match self.prepare(raw, decoded, deadline_ms)? {
            Prepared::Answered(guarded) => return Ok(guarded),
            Prepared::Run(invocation, event) => (invocation, event),
        };
        let remembered = remembered(known, &invocation);
        let result = self.guard_run(invocation, event).await;
        self.settled(raw, result, deadline_ms, remembered).await
    }

    /// Runs `raw` under the guard, claimed by its event id before it is decoded: decoded only
    /// once the claim holds, and never when the store answers it (a duplicate of a COMPLETED
    /// record, a FAILED one, one in progress). If it then fails to decode, the claim is
    /// released: nothing is recorded for a bad event, and each delivery fails on its own error.
    async fn run_claiming(
        &self,
        raw: &RawEvent,
        claimable: Claimable,
        deadline_ms: Option<i64>,
        fingerprint: Option<Fingerprint>,
    ) -> Result<Guarded<D::Reaction>, ConsumerError<D::Error>> {
        let Claimable { event_id, redrive } = claimable;
        let invocation = Invocation::keyed(event_id, raw.data_digest(), deadline_ms);
        let invocation = match self.redelivered(raw, invocation, redrive.as_ref()) {
            Ok(invocation) => invocation,
            Err(answered) => return Ok(answered),
        };
        // Its subject is known once it is decoded, if it is.
        let mut remembered = remembered(fingerprint.map(|f| (f, None)), &invocation);
        let mut subject = None;
        let (deps, handler) = (&*self.deps, &*self.handler);
        let decode = || {
            let (event, named) = raw.decode_set_with_subject::<D::Event>()?;
            if let Some(named) = &named {
                tracing::Span::current().record("subject", named.as_str());
            }
            subject = named;
            Ok(event)
        };
        let result = self
            .guard
            .run_prepared(invocation, decode, move |event| handler.call(deps, event))
            .await
            .map_err(|error| self.undecodable(raw, error))?;
        if let Some(remembered) = &mut remembered {
            remembered.subject = subject;
        }
        self.settled(raw, result, deadline_ms, remembered).await
    }

    /// The consumer's answer from the guard's `result` for `raw`: an earlier release's record
    /// is recognised (see [`Consumer::again_as_earlier_release`]), a completion is remembered
    /// for a later duplicate to be answered before it is decoded, and an event another
    /// invocation holds is answered [`Outcome::InProgress`].
    async fn settled(
        &self,
        raw: &RawEvent,
        mut result: Result<Guarded<D::Reaction>, GuardError<D::Error>>,
        deadline_ms: Option<i64>,
        remembered: Option<Remembered>,
    ) -> Result<Guarded<D::Reaction>, ConsumerError<D::Error>> {
        if let Err(GuardError::PayloadMismatch { stored, .. }) = &result
            // Boxed: this rare path's future (a decode and a whole guarded run) is kilobytes, and
            // inline it would make every event's future that much larger, copied on every move.
            && let Some(again) = Box::pin(self.again_as_earlier_release(raw, stored, deadline_ms)).await
        {
            result = again;
        }
        // Only a completed record is cached, so only its event can be answered from it later.
        if let (Ok(_), Some(known)) = (&result, remembered) {
            self.guard
                .remember_known(known.fingerprint, &known.key, known.payload_hash, known.subject);
        }
        result.or_else(|error| match error {
            // Another invocation holds the event: it completes it, or fails and is retried
            // (Lambda retries a failed asynchronous invocation, then dead-letters it) and
            // takes the claim over once its lease ends. Answering this delivery as an error
            // would count an invocation error (paging) for a race that loses nothing.
            GuardError::AlreadyInProgress { lease_until, .. } => {
                tracing::info!(lease_until, "another invocation holds the event: left to it");
                Ok(Guarded {
                    outcome: Outcome::InProgress,
                    result: None,
                })
            }
            error => Err(ConsumerError::Guard(error)),
        })
    }
}

/// How one event is run: claimed first, or decoded first.
enum Path<S> {
    /// Keyed by its event id: claimed before it is decoded.
    ClaimFirst(Claimable),
    /// Decoded first (its subject too), then claimed.
    DecodeFirst(Result<(S, Option<String>), EnvelopeError>),
}

/// What claiming an event before decoding it needs, read from the raw event.
struct Claimable {
    /// `metadata.event_id`, as the decoded event prints it.
    event_id: String,
    /// `metadata.redrive`, decoded alone.
    redrive: Option<RedriveMark>,
}

/// A raw event remembered once its record is completed: its fingerprint, the key and payload
/// hash its record holds, and the subject its log lines name.
struct Remembered {
    fingerprint: Fingerprint,
    key: String,
    payload_hash: String,
    subject: Option<String>,
}

/// What to remember of an event run as `invocation` when it completes, if it has a
/// fingerprint (`known`, with its subject) and a key.
fn remembered(known: Option<(Fingerprint, Option<String>)>, invocation: &Invocation) -> Option<Remembered> {
    let (fingerprint, subject) = known?;
    Some(Remembered {
        fingerprint,
        key: invocation.key.clone()?,
        payload_hash: invocation.payload_hash.clone(),
        subject,
    })
}

impl<D: Function> Consumer<D> {
    /// Runs the handler on `event` under the guard.
    async fn guard_run(
        &self,
        invocation: Invocation,
        event: D::Event,
    ) -> Result<Guarded<D::Reaction>, GuardError<D::Error>> {
        let deps = &*self.deps;
        let handler = &*self.handler;
        self.guard.run(invocation, move || handler.call(deps, event)).await
    }

    /// `raw` run under the guard again, accepting `stored` as its payload hash, when `stored` (the
    /// hash of the record its claim conflicted with) is the one earlier releases wrote for it:
    /// the SHA-256 of its typed data as serialized, from before the guard compared the data as
    /// received. Such a record is the same event, not a mismatch. `None` when it is not (a true
    /// [`GuardError::PayloadMismatch`]). Decoded again and hashed only after such a conflict, so
    /// no other event serializes its typed copy.
    pub(super) async fn again_as_earlier_release(
        &self,
        raw: &RawEvent,
        stored: &str,
        deadline_ms: Option<i64>,
    ) -> Option<Result<Guarded<D::Reaction>, GuardError<D::Error>>> {
        // The first run took the decoded event: decoded again, it is the same event.
        let event = raw.decode_set::<D::Event>().ok()?;
        if Invocation::of(&event, None).ok()?.payload_hash != stored {
            return None;
        }
        match self.prepare(raw, Ok(event), deadline_ms).ok()? {
            Prepared::Run(invocation, event) => {
                let invocation = Invocation {
                    legacy_hash: Some(stored.to_owned()),
                    ..invocation
                };
                Some(self.guard_run(invocation, event).await)
            }
            Prepared::Answered(guarded) => Some(Ok(guarded)),
        }
    }

    /// Starts an invocation: takes the cold-start flag (true for the process's first), samples
    /// its traces, and gives what every log line of it says about it.
    fn begin<'a>(&'a self, call: &'a Call) -> CallFields<'a> {
        crate::telemetry::sample_invocation();
        CallFields {
            call,
            cold_start: self.cold.swap(false, Ordering::Relaxed),
            function_name: self.function_name.as_deref().unwrap_or(D::NAME),
            function_version: self.function_version.as_deref().unwrap_or(""),
        }
    }
}

/// What [`Consumer::prepare`] found: run the handler under the guard, or answer without it.
enum Prepared<D: Function> {
    /// The invocation to guard and the event to hand the handler.
    Run(Invocation, D::Event),
    /// The answer, nothing to run.
    Answered(Guarded<D::Reaction>),
}

impl<D: Function> Consumer<D> {
    /// Logs an event's one outcome line (inside its span) and writes its EMF lines: `Events` by
    /// outcome, `HandlingTime`, `ColdStart` on the first, the handler's metrics, and
    /// `DeferredEvents` for a deferral.
    fn conclude(
        &self,
        raw: &RawEvent,
        result: &Result<Guarded<D::Reaction>, ConsumerError<D::Error>>,
        elapsed: std::time::Duration,
        cold_start: bool,
        recorded: &crate::emf::Recorded,
    ) {
        let detail_type = raw.detail_type().unwrap_or_default();
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(guarded) => tracing::info!(
                outcome = guarded.outcome.as_str(),
                action = action_of(guarded.result.as_ref()).as_deref(),
                duration_ms,
                "event handled"
            ),
            Err(error) if error.is_in_progress() => {
                tracing::info!(duration_ms, "another invocation holds the event: delivered again later");
            }
            Err(error) if error.is_deferred() => {
                tracing::warn!(
                    outcome = "deferred",
                    error_type = error.error_type(),
                    error = %error,
                    duration_ms,
                    "event deferred: delivered again"
                );
                crate::emf::emit(&crate::emf::deferred_event(
                    D::NAME,
                    detail_type,
                    error.error_type(),
                    chrono::Utc::now().timestamp_millis(),
                ));
            }
            Err(error) => tracing::error!(
                outcome = "error",
                error_type = error.error_type(),
                retryable = error.is_retryable(),
                error = %error,
                duration_ms,
                "event failed"
            ),
        }
        let outcome = match result {
            Ok(guarded) => guarded.outcome.as_str(),
            Err(error) if error.is_in_progress() => Outcome::InProgress.as_str(),
            Err(error) if error.is_deferred() => "deferred",
            Err(_) => "error",
        };
        let lines = crate::emf::invocation_lines(
            D::NAME,
            detail_type,
            outcome,
            elapsed.as_secs_f64() * 1_000.0,
            cold_start,
            recorded,
            chrono::Utc::now().timestamp_millis(),
        );
        for line in lines {
            crate::emf::emit(&line);
        }
    }
}

/// A deliberate re-delivery: an archive replay (`replay-name`) or a DLQ redrive
/// (`metadata.redrive`).
struct Redelivery {
    /// The replay name or the redrive run.
    scope: String,
    /// Run again even where the event completed: a replay named [`REPROCESS_PREFIX`]`…`, or a
    /// redrive marked `reprocess`.
    reprocess: bool,
}

impl Redelivery {
    fn of(replay_name: Option<&str>, redrive: Option<&RedriveMark>) -> Option<Self> {
        match (replay_name, redrive) {
            (Some(name), _) => Some(Self {
                scope: name.to_owned(),
                reprocess: name.starts_with(REPROCESS_PREFIX),
            }),
            (None, Some(mark)) => Some(Self {
                scope: mark.run.clone(),
                reprocess: mark.reprocess,
            }),
            (None, None) => None,
        }
    }
}

impl<D: Function> Consumer<D> {
    /// Writes the `UncataloguedEvents` EMF line and a warning: the event is not in this
    /// function's catalogue (an unknown detail-type or version). The event itself fails as not
    /// retryable, so it goes to the dead-letter queue.
    fn report_uncatalogued(&self, raw: &RawEvent) {
        let function = D::NAME;
        let (source, detail_type) = (raw.source().unwrap_or(""), raw.detail_type().unwrap_or(""));
        let version = raw.schema_version().ok();
        tracing::warn!(
            function,
            source,
            detail_type,
            version,
            "uncatalogued event: not a detail-type or version this function knows"
        );
        crate::emf::emit(&crate::emf::uncatalogued_event(
            function,
            source,
            detail_type,
            version,
            chrono::Utc::now().timestamp_millis(),
        ));
    }
}

/// The `action` of a reaction that says what it did in one (`{"action": "reserved", …}`), as
/// the outcome line logs it and `herald dev` and `herald trace` print it.
fn action_of<R: serde::Serialize>(reaction: Option<&R>) -> Option<String> {
    match serde_json::to_value(reaction?).ok()? {
        serde_json::Value::Object(mut fields) => match fields.remove("action")? {
            serde_json::Value::String(action) => Some(action),
            _ => None,
        },
        _ => None,
    }
}

/// What every log line says about the invocation, as Powertools' Logger does.
struct CallFields<'a> {
    call: &'a Call,
    cold_start: bool,
    function_name: &'a str,
    function_version: &'a str,
}

/// The span every log line of one event carries: the event's ids, its `subject` and the
/// invocation's ids. Ids an event does not have (a cause, a replay, a redrive, a trace) are left
/// out of its lines rather than written empty.
fn event_span(raw: &RawEvent, subject: Option<&str>, invocation: &CallFields<'_>) -> tracing::Span {
    // `None` records nothing (tracing's `Option` value), so an absent id is left out.
    fn present(text: Option<&str>) -> Option<&str> {
        text.filter(|t| !t.is_empty())
    }
    // `detail.metadata` looked up once, not once per field: this runs for every event.
    let metadata = raw.metadata_value();
    let text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(serde_json::Value::as_str);
    let redrive_run = metadata
        .and_then(|m| m.get("redrive"))
        .and_then(|redrive| redrive.get("run"))
        .and_then(serde_json::Value::as_str);
    let schema_version = metadata
        .and_then(|m| m.get("schema_version"))
        .and_then(serde_json::Value::as_u64);
    tracing::info_span!(
        "event",
        event_id = text("event_id").unwrap_or(""),
        correlation_id = text("correlation_id").unwrap_or(""),
        causation_id = present(text("causation_id")),
        detail_type = raw.detail_type().unwrap_or(""),
        source = raw.source().unwrap_or(""),
        schema_version,
        subject = present(subject),
        replay_name = present(raw.replay_name()),
        redrive_run = present(redrive_run),
        id = raw.ids().id.as_deref().unwrap_or(""),
        request_id = invocation.call.request_id.as_deref().unwrap_or(""),
        cold_start = invocation.cold_start,
        function_name = invocation.function_name,
        function_version = invocation.function_version,
        xray_trace_id = present(invocation.call.trace_header.as_deref().map(crate::trace::root)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_is_told_whether_a_failure_may_succeed_later_in_the_error_message() {
        // Given an event that is not JSON (never retryable), and a claim another invocation holds
        let bad = RawEvent::parse(b"{not json")
            .err()
            .map(ConsumerError::<EnvelopeError>::Envelope);
        let busy = ConsumerError::<EnvelopeError>::Guard(GuardError::AlreadyInProgress {
            event_id: "e-1".into(),
            key: "k".into(),
            lease_until: 0,
        });

        // When each becomes Lambda's error response
        let bad = bad.map(Diagnostic::from);
        let busy = Diagnostic::from(busy);

        // Then only the one that can never succeed says so, before its own message
        assert!(bad.is_some_and(
            |d| d.error_message.starts_with(NOT_RETRYABLE_PREFIX) && d.error_type == "Envelope.MalformedJson"
        ),);
        assert!(
            !busy.error_message.starts_with(NOT_RETRYABLE_PREFIX),
            "{}",
            busy.error_message
        );
    }
}
