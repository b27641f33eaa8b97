//! The idempotency guard: every event's reaction runs once, and no event is lost.
//!
//! EventBridge and Lambda deliver at least once. The guard keeps one record per
//! `<function name>#<idempotency key>` (the key defaults to `metadata.event_id`, never to a code
//! path) and answers every delivery after the first from that record.
//!
//! - [`guard`]: the decision logic, with the full path table and the crash and lease rules.
//! - [`batch`]: the same for a batch of SQS-buffered events, answering with `batchItemFailures`.
//! - [`layer`]: the guard as a tower `Layer` around a `lambda_runtime` service.
//! - [`store`]: the four-method storage seam; [`dynamodb`] and [`memory`] implement it.
//! - [`record`]: the record and its states; [`config`]: the one immutable configuration;
//!   [`clock`]: where time comes from; [`chosen`]: DynamoDB or memory, chosen at cold start.

pub mod batch;
pub mod chosen;
pub mod clock;
pub mod config;
pub mod dynamodb;
pub mod guard;
pub mod layer;
pub mod memory;
pub mod record;
pub mod store;

pub use batch::{BatchItem, BatchReport};
pub use chosen::{Backend, ChosenStore, STORES_VARIABLE};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AttributeNames, IdempotencyConfig, MissingKey};
pub use dynamodb::DynamoStore;
pub use guard::{GuardError, Guarded, GuardedEvent, IdempotencyGuard, Invocation, Outcome};
pub use layer::{IdempotencyLayer, IdempotencyService, KeyFn};
pub use memory::MemoryStore;
pub use record::{ClaimCondition, Record, Status};
pub use store::{Claim, Store, StoreError, Update};
