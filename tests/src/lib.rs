//! Test support for Herald's end-to-end tests: real AWS APIs, served locally by moto server.
//!
//! - [`moto`]: one moto server per test run, on a free loopback port.
//! - [`aws`]: SDK configuration pointed at it, unique resource names so tests run in parallel,
//!   and helpers that wire a bus to a queue and read what arrived.
//! - [`dynamodb`]: idempotency tables and a DynamoDB call counter.
//! - [`faults`]: an SDK HTTP client that injects throttling, 5xx, timeouts and lost responses.
//! - [`functions`]: the seven functions' tables, created on moto as the tests deploy them.
//! - [`shop`]: the template's bus, rules, dead-letter queues and alarms deployed on moto,
//!   each Lambda target replaced by a stand-in queue.
//! - [`template`]: `infra/template.yaml` as CloudFormation JSON, via SAM's translator.
//! - [`fixtures`]: events and handler errors shared by the idempotency tests.
//! - [`world`]: what every function's tests build around it: tables, the guard, a bus whose
//!   rule feeds a queue, working and broken publishers, `herald dev`'s memory environment.
//! - [`archive`]: a bus with an archive and two rules, for the replay tests.
//! - [`dead_letters`]: dead-letter queues filled as EventBridge fills them, for redrive.
//! - [`logs`]: a function's JSON log lines captured in memory.
//! - [`buffer`]: Lambda's SQS event source mapping played on a moto queue, for buffered
//!   consumers' batches.

pub mod archive;
pub mod aws;
pub mod buffer;
pub mod dead_letters;
pub mod dynamodb;
pub mod faults;
pub mod fixtures;
pub mod functions;
pub mod logs;
pub mod moto;
pub mod shop;
pub mod template;
pub mod world;

/// What every test returns: `?` on any error, with its message in the failure.
pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
