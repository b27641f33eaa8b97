//! Herald: the framework crate for event-driven consumers on AWS EventBridge and Lambda.
//!
//! A map of the parts:
//! - [`envelope`]: the typed EventBridge envelope (`Envelope<D>` with Herald's `Metadata`), the
//!   [`EventDetail`] trait every detail struct implements, decoding with
//!   typed errors that name the event, version upcasting and the [`event_set!`] dispatch macro.
//! - [`publish`]: building outgoing events with lineage filled in, and the [`Publisher`]
//!   that sends them to a bus in batches, retrying only the entries that failed.
//! - [`idempotency`]: the guard that runs each event's reaction once and loses none: claims
//!   with a lease in DynamoDB (or memory), a tower layer, a batch form, a warm-container cache.
//! - [`function`]: what a function says once ([`Function`]: its name, events, `Deps` built from
//!   its [`Env`]) and [`run`], the whole of its `main.rs`.
//! - [`consumer`]: a domain reaction as a Lambda consumer: decode once, guard, react, and log
//!   one outcome line per event inside a span carrying the event's ids.
//! - [`store`]: what every function's own store needs once: the backend it was built for, SDK
//!   errors kept whole, a memory table's lock, typed DynamoDB attribute readers and writers.
//! - [`emf`]: CloudWatch Embedded Metric Format lines (the `UncataloguedEvents` metric).
//! - [`env`]: required environment variables, read once at cold start, from the process or any
//!   lookup.
//! - [`telemetry`]: JSON logs whose every line carries the event's ids and the invocation's
//!   (request id, cold start, function name and version, X-Ray trace id).
//! - [`sensitive`]: [`Sensitive`], a value (an e-mail, a street) that prints as `[redacted]` in
//!   every log line and error message, and serializes as itself.
//! - [`trace`]: the invocation's X-Ray trace header, forwarded on every event it publishes.
//! - [`error`]: the [`Classify`] trait that sorts every error into retryable or not.

pub mod consumer;
pub mod emf;
pub mod env;
pub mod envelope;
pub mod error;
pub mod function;
pub mod idempotency;
pub mod publish;
pub mod sensitive;
pub mod store;
pub mod telemetry;
pub mod trace;

pub use consumer::{Call, Consumer, ConsumerError};
pub use envelope::{Detail, Envelope, EnvelopeError, EventDetail, Metadata, RawEvent};
pub use error::Classify;
pub use function::{ConfigError, Env, Function, IdempotencyKey, RunError, run};
pub use publish::{Emitted, Outgoing, PublishError, Publisher, PublisherConfig};
pub use sensitive::Sensitive;

#[doc(hidden)]
pub use serde_json as __serde_json;
