//! The guard as a tower [`Layer`] around a `lambda_runtime` service.
//!
//! ```text
//! let guard = IdempotencyGuard::new(DynamoStore::new(dynamodb, table), IdempotencyConfig::new("inventory"));
//! let service = ServiceBuilder::new().layer(IdempotencyLayer::new(guard)).service(service_fn(handler));
//! lambda_runtime::run(service).await
//! ```
//!
//! The inner service takes `LambdaEvent<T>` with a typed event `T` (an `Envelope<D>` or an
//! [`event_set!`](crate::event_set) enum); the guarded service answers [`Guarded<R>`] and fails
//! with [`GuardError<E>`], which converts into Lambda's `Diagnostic` with the error's type.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use lambda_runtime::tower::{Layer, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::guard::{GuardError, Guarded, GuardedEvent, IdempotencyGuard, Invocation};
use super::store::Store;
use crate::error::Classify;

/// Derives an idempotency key from a typed event; `None` when it cannot.
pub type KeyFn<T> = Arc<dyn Fn(&T) -> Option<String> + Send + Sync>;

/// Wraps a service so each event runs at most once.
pub struct IdempotencyLayer<S, T> {
    guard: IdempotencyGuard<S>,
    key: Option<KeyFn<T>>,
}

impl<S, T> Clone for IdempotencyLayer<S, T> {
    fn clone(&self) -> Self {
        Self {
            guard: self.guard.clone(),
            key: self.key.clone(),
        }
    }
}

impl<S, T> fmt::Debug for IdempotencyLayer<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("custom_key", &self.key.is_some())
            .finish()
    }
}

impl<S, T> IdempotencyLayer<S, T> {
    /// Keys events by `metadata.event_id`.
    pub fn new(guard: IdempotencyGuard<S>) -> Self {
        Self { guard, key: None }
    }

    /// Keys events by what `key` derives from the typed event instead.
    pub fn with_key(self, key: impl Fn(&T) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            key: Some(Arc::new(key)),
            ..self
        }
    }
}

impl<Svc, S, T> Layer<Svc> for IdempotencyLayer<S, T> {
    type Service = IdempotencyService<Svc, S, T>;

    fn layer(&self, inner: Svc) -> Self::Service {
        IdempotencyService {
            inner,
            guard: self.guard.clone(),
            key: self.key.clone(),
        }
    }
}

/// A service wrapped by [`IdempotencyLayer`].
pub struct IdempotencyService<Svc, S, T> {
    inner: Svc,
    guard: IdempotencyGuard<S>,
    key: Option<KeyFn<T>>,
}

impl<Svc: Clone, S, T> Clone for IdempotencyService<Svc, S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            guard: self.guard.clone(),
            key: self.key.clone(),
        }
    }
}

impl<Svc, S, T, R, E> Service<LambdaEvent<T>> for IdempotencyService<Svc, S, T>
where
    Svc: Service<LambdaEvent<T>, Response = R, Error = E> + Clone + Send + 'static,
    Svc::Future: Send + 'static,
    S: Store,
    T: GuardedEvent + Send + 'static,
    R: Serialize + DeserializeOwned + Send + 'static,
    E: Classify + fmt::Display + Send + 'static,
{
    type Response = Guarded<R>;
    type Error = GuardError<E>;
    type Future = Pin<Box<dyn Future<Output = Result<Guarded<R>, GuardError<E>>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(GuardError::Handler)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        // The service that was polled ready handles this call; a fresh clone waits for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let guard = self.guard.clone();
        let key = self.key.clone();
        Box::pin(async move {
            let deadline = i64::try_from(event.context.deadline).ok();
            let invocation = Invocation::of(&event.payload, deadline).map_err(|source| GuardError::Payload {
                event_id: event.payload.metadata().event_id.to_string(),
                source,
            })?;
            let invocation = match &key {
                Some(derive) => invocation.with_key(derive(&event.payload)),
                None => invocation,
            };
            guard.run(invocation, move || inner.call(event)).await
        })
    }
}
