//! Running a domain reaction as a Lambda consumer: decode once, guard, react, log one outcome.
//!
//! A function builds its [`Consumer`] once — its idempotency guard and its handler — in one
//! wiring function that its `main.rs` calls before [`Consumer::run`] and its tests call before
//! [`Consumer::handle`]; the handler returns a [`HandlerFuture`] so that function can name the
//! consumer's type. For each invocation the consumer
//! 1. opens a span carrying `event_id`, `correlation_id`, `causation_id`, `detail_type`,
//!    `replay_name` and `redrive_run`, so every log line of the event carries them;
//! 2. decodes the raw event into the function's [`EventSet`] (an [`EnvelopeError`] is never
//!    retryable; an unknown detail-type or version also writes the `UncataloguedEvents` metric,
//!    see [`emf`](crate::emf));
//! 3. runs the handler under the guard. A replay (`replay-name`) or a redrive
//!    (`metadata.redrive`) re-runs an event whose record is FAILED and answers a COMPLETED one
//!    from its record; a reprocess (a replay named `reprocess-…`, a redrive marked `reprocess`)
//!    runs it again under a key of its own (`<event_id>#reprocess#<run>`), once per run;
//! 4. logs one outcome line with the outcome, the duration and, on failure, the error type and
//!    whether it is retryable.
//!
//! [`Consumer::handle`] does all of that without the Lambda runtime, for tests and local runs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::envelope::{EnvelopeError, EventSet, REPROCESS_PREFIX, RawEvent, RedriveMark};
use crate::error::Classify;
use crate::idempotency::{GuardError, Guarded, GuardedEvent, IdempotencyGuard, Invocation, Store};

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
}

impl<E: Classify + fmt::Display> From<ConsumerError<E>> for Diagnostic {
    fn from(error: ConsumerError<E>) -> Self {
        Self {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// One invocation's boxed future, as the runtime's service returns it.
type Handled<R, E> = Pin<Box<dyn Future<Output = Result<Guarded<R>, ConsumerError<E>>> + Send>>;

/// A handler's future, boxed: a function returning its consumer can then write the handler's
/// type as `impl Fn(T) -> HandlerFuture<R, E>` (`impl Fn(T) -> impl Future` is not allowed in a
/// return type). One allocation per event, next to the network calls the handler makes.
pub type HandlerFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

type KeyFn<T> = Arc<dyn Fn(&T) -> Option<String> + Send + Sync>;

/// A domain reaction ready to run: the guard and the handler, built once at cold start.
pub struct Consumer<S, T, H> {
    guard: IdempotencyGuard<S>,
    handler: H,
    key: Option<KeyFn<T>>,
}

impl<S, T, H: Clone> Clone for Consumer<S, T, H> {
    fn clone(&self) -> Self {
        Self {
            guard: self.guard.clone(),
            handler: self.handler.clone(),
            key: self.key.clone(),
        }
    }
}

impl<S, T, H, R, E, Fut> Consumer<S, T, H>
where
    S: Store,
    T: EventSet + GuardedEvent + Send + 'static,
    H: Fn(T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send,
    R: Serialize + DeserializeOwned + Send + 'static,
    E: Classify + fmt::Display + fmt::Debug + Send + 'static,
{
    /// A consumer whose events are keyed by `metadata.event_id`.
    pub fn new(guard: IdempotencyGuard<S>, handler: H) -> Self {
        Self {
            guard,
            handler,
            key: None,
        }
    }

    /// Keys events by what `key` derives from the decoded event instead.
    pub fn with_key(self, key: impl Fn(&T) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            key: Some(Arc::new(key)),
            ..self
        }
    }

    /// The guard, e.g. to read its store in tests.
    pub fn guard(&self) -> &IdempotencyGuard<S> {
        &self.guard
    }

    /// Serves invocations from the Lambda Runtime API until the runtime stops.
    ///
    /// # Errors
    /// When the runtime cannot start or loses the Runtime API.
    pub async fn run(self) -> Result<(), lambda_runtime::Error> {
        lambda_runtime::run(service_fn(move |event: LambdaEvent<RawEvent>| {
            let consumer = self.clone();
            // Boxed: the nested futures of runtime, guard and handler are otherwise too deep a
            // type for the compiler's layout computation in each function's `main`.
            let handled: Handled<R, E> = Box::pin(async move {
                let deadline = i64::try_from(event.context.deadline).ok();
                consumer.handle(event.payload, deadline).await
            });
            handled
        }))
        .await
    }

    /// Handles one raw event, as [`Consumer::run`] does for each invocation.
    ///
    /// # Errors
    /// [`ConsumerError`]: the decode error, or the guard's or handler's error.
    pub async fn handle(&self, raw: RawEvent, deadline_ms: Option<i64>) -> Result<Guarded<R>, ConsumerError<E>> {
        let span = event_span(&raw);
        async move {
            let started = Instant::now();
            let result = self.decode_and_run(raw, deadline_ms).await;
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match &result {
                Ok(guarded) => tracing::info!(outcome = guarded.outcome.as_str(), duration_ms, "event handled"),
                Err(error) => tracing::error!(
                    outcome = "error",
                    error_type = error.error_type(),
                    retryable = error.is_retryable(),
                    error = %error,
                    duration_ms,
                    "event failed"
                ),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn decode_and_run(&self, raw: RawEvent, deadline_ms: Option<i64>) -> Result<Guarded<R>, ConsumerError<E>> {
        let replay = raw.replay_name().map(str::to_owned);
        let route = (
            raw.source().map(str::to_owned),
            raw.detail_type().map(str::to_owned),
            raw.schema_version().ok(),
        );
        let event = raw.decode_set::<T>().inspect_err(|error| {
            if matches!(
                error,
                EnvelopeError::UnknownDetailType { .. } | EnvelopeError::UnsupportedVersion { .. }
            ) {
                self.report_uncatalogued(&route);
            }
        })?;
        let mut invocation = Invocation::of(&event, deadline_ms).map_err(|source| {
            ConsumerError::Guard(GuardError::Payload {
                event_id: event.metadata().event_id.to_string(),
                source,
            })
        })?;
        if let Some(derive) = &self.key {
            invocation = invocation.with_key(derive(&event));
        }
        let redelivery = Redelivery::of(replay.as_deref(), event.metadata().redrive.as_ref());
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
        let handler = self.handler.clone();
        self.guard
            .run(invocation, move || handler(event))
            .await
            .map_err(ConsumerError::Guard)
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

impl<S: Store, T, H> Consumer<S, T, H> {
    /// Writes the `UncataloguedEvents` EMF line and a warning: the event is not in this
    /// function's catalogue (an unknown detail-type or version). The event itself fails as not
    /// retryable, so it goes to the dead-letter queue.
    fn report_uncatalogued(&self, (source, detail_type, version): &(Option<String>, Option<String>, Option<u32>)) {
        let function = self.guard.config().function_name.as_str();
        let (source, detail_type) = (source.as_deref().unwrap_or(""), detail_type.as_deref().unwrap_or(""));
        tracing::warn!(
            function,
            source,
            detail_type,
            version,
            "uncatalogued event: not a detail-type or version this function knows"
        );
        println!(
            "{}",
            crate::emf::uncatalogued_event(
                function,
                source,
                detail_type,
                *version,
                chrono::Utc::now().timestamp_millis()
            )
        );
    }
}

/// The span every log line of one event carries.
fn event_span(raw: &RawEvent) -> tracing::Span {
    let text = |pointer: &str| {
        raw.as_value()
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    };
    tracing::info_span!(
        "event",
        event_id = text("/detail/metadata/event_id"),
        correlation_id = text("/detail/metadata/correlation_id"),
        causation_id = text("/detail/metadata/causation_id"),
        detail_type = raw.detail_type().unwrap_or(""),
        replay_name = raw.replay_name().unwrap_or(""),
        redrive_run = text("/detail/metadata/redrive/run"),
        id = raw.ids().id.as_deref().unwrap_or(""),
    )
}
