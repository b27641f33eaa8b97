//! Herald: the framework crate for event-driven consumers on AWS EventBridge and Lambda.
//!
//! A map of the parts:
//! - [`envelope`]: the typed EventBridge envelope (`Envelope<D>` with Herald's `Metadata`), the
//!   [`EventDetail`](envelope::EventDetail) trait every detail struct implements, decoding with
//!   typed errors that name the event, version upcasting and the [`event_set!`] dispatch macro.
//! - [`publish`]: building outgoing events with lineage filled in, and the [`Publisher`](publish::Publisher)
//!   that sends them to a bus in batches, retrying only the entries that failed.
//! - [`idempotency`]: the guard that runs each event's reaction once and loses none: claims
//!   with a lease in DynamoDB (or memory), a tower layer, a batch form, a warm-container cache.
//! - [`error`]: the [`Classify`](error::Classify) trait that sorts every error into retryable or not.

pub mod envelope;
pub mod error;
pub mod idempotency;
pub mod publish;

pub use envelope::{Detail, Envelope, EnvelopeError, EventDetail, Metadata, RawEvent};
pub use error::Classify;
pub use publish::{Outgoing, PublishError, Publisher, PublisherConfig};
