//! A function as its author writes it: a `Deps` struct that says once what the function needs
//! (its stores, its publisher, its settings), and a handler
//! `async fn handle(deps: &Deps, event: Event) -> Result<Reaction, Error>`.
//!
//! ```ignore
//! impl herald::Function for Deps {
//!     const NAME: &'static str = "order-history";
//!     type Event = OrderHistoryEvent;
//!     type Reaction = Reaction;
//!     type Error = OrderHistoryError;
//!
//!     fn from_env(env: &herald::Env) -> Result<Self, herald::ConfigError> {
//!         let table = env.table("HISTORY_TABLE", "order history", herald::store::Key::partition("customer_id"))?;
//!         Ok(Self { history: HistoryStore::new(table) })
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), herald::RunError> {
//!     herald::run(order_history::handler::handle).await
//! }
//! ```
//!
//! Everything else is the framework's: [`run`] installs the JSON logs, reads the [`Env`] once at
//! cold start, builds the idempotency guard from it (`IDEMPOTENCY_TABLE`, the backend
//! `HERALD_STORES` chooses, [`IdempotencyConfig`]'s settings) and serves the handler through a
//! [`Consumer`]. Tests build the same [`Consumer`] with [`Consumer::from_env`] over an [`Env`] of
//! their own, so what they run is what `main.rs` runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::consumer::Consumer;
use crate::env::MissingVariable;
use crate::envelope::EventSet;
use crate::error::Classify;
use crate::idempotency::{Backend, ChosenStore, DynamoStore, GuardedEvent, IdempotencyConfig, MemoryStore};
use crate::publish::{Publisher, PublisherConfig};
use crate::store::{Key, Table};

/// The variable naming the idempotency table every consumer's guard writes to.
pub const IDEMPOTENCY_TABLE: &str = "IDEMPOTENCY_TABLE";
/// The variable naming the bus a function publishes to.
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
/// How long an idempotency record lives, in seconds ([`IdempotencyConfig::expires_after`]).
pub const IDEMPOTENCY_EXPIRES_AFTER: &str = "IDEMPOTENCY_EXPIRES_AFTER_SECONDS";

/// Optional: sending rounds of one PutEvents entry, the first included
/// ([`PublisherConfig::max_attempts`], default 5).
pub const PUBLISH_MAX_ATTEMPTS: &str = "HERALD_PUBLISH_MAX_ATTEMPTS";

/// Optional: the backoff before the second sending round, in milliseconds, doubled each round
/// ([`PublisherConfig::base_delay`], default 50).
pub const PUBLISH_BASE_DELAY_MS: &str = "HERALD_PUBLISH_BASE_DELAY_MS";
/// How many completed records a warm process caches ([`IdempotencyConfig::cache_capacity`]).
pub const IDEMPOTENCY_CACHE_CAPACITY: &str = "IDEMPOTENCY_CACHE_CAPACITY";
/// How long one attempt of an AWS call may take, in milliseconds, before the SDK gives it up and
/// retries (default [`DEFAULT_ATTEMPT_TIMEOUT`]).
pub const SDK_ATTEMPT_TIMEOUT: &str = "HERALD_SDK_ATTEMPT_TIMEOUT_MS";
/// How long an AWS call may take with all its retries, in milliseconds (default
/// [`DEFAULT_OPERATION_TIMEOUT`]).
pub const SDK_OPERATION_TIMEOUT: &str = "HERALD_SDK_OPERATION_TIMEOUT_MS";
/// One attempt of a DynamoDB or EventBridge call answers in milliseconds; two seconds means it
/// hung, and a retry on a new connection is the way out.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Under the template's 10 s function timeout, so a hung call fails (retryably) inside the
/// invocation instead of the invocation being killed with its claim held.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(8);

/// A function's configuration cannot be read at cold start. Never retryable: the function cannot
/// start until its environment is fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is missing.
    #[error(transparent)]
    Missing(#[from] MissingVariable),
    /// A variable is set but its value is not valid.
    #[error("environment variable {name}={value:?} is not valid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value, as set.
        value: String,
        /// What is wrong, and what it should be.
        reason: String,
    },
}

/// Why [`run`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The function's environment is incomplete or invalid.
    #[error("cold start: {0}")]
    Config(#[from] ConfigError),
    /// The Lambda runtime could not start or lost the Runtime API.
    #[error("lambda runtime: {0}")]
    Runtime(lambda_runtime::Error),
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Whether `lookup` (the process environment) holds credentials that the SDK's environment
/// provider accepts: an access key id and a secret key, neither blank. The default chain answers
/// with exactly these when they are there.
fn credentials_in_environment(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| lookup(name).is_some_and(|value| !value.trim().is_empty());
    set("AWS_ACCESS_KEY_ID") && (set("AWS_SECRET_ACCESS_KEY") || set("SECRET_ACCESS_KEY"))
}

/// What a function reads at cold start: the AWS SDK's configuration, its environment variables,
/// and the [`Backend`] they choose. Built once; every store and client a function builds from it
/// shares the SDK configuration, and every DynamoDB table one DynamoDB client.
#[derive(Clone)]
pub struct Env {
    aws: SdkConfig,
    vars: Lookup,
    backend: Backend,
    /// Built on first use, then cloned (a client is a handle): each client built costs its
    /// configuration, endpoint partitions and a TLS configuration with every root certificate
    /// parsed, at cold start.
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// The process environment and the SDK configuration it gives (region, credentials,
    /// `AWS_ENDPOINT_URL`, as `aws_config` reads them), as `main.rs` runs.
    ///
    /// # Errors
    /// [`ConfigError`] when a timeout setting is not a whole number of milliseconds.
    pub async fn from_process() -> Result<Self, ConfigError> {
        Self::load(crate::env::process).await
    }

    /// The SDK configuration `aws_config` loads, with every call's timeouts set from `vars`
    /// (`HERALD_SDK_ATTEMPT_TIMEOUT_MS`, `HERALD_SDK_OPERATION_TIMEOUT_MS`; the SDK sets none by
    /// default, so a call whose connection hangs would never be retried), and `vars`.
    ///
    /// When the process environment holds credentials (on Lambda it always holds the function
    /// role's), they are the credentials, as the SDK's default chain would answer: it asks the
    /// environment first. The chain itself is not built, so a cold start does not pay for the
    /// providers it would never ask (an STS client for web identity, an IMDS client, each with
    /// its own TLS configuration). Elsewhere (a laptop's profile, SSO) the default chain is kept.
    ///
    /// # Errors
    /// [`ConfigError`] when a timeout setting is not a whole number of milliseconds.
    pub async fn load(vars: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Result<Self, ConfigError> {
        let millis = |text: &str| {
            text.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| format!("{e}: a whole number of milliseconds"))
        };
        let unloaded = Self::new(SdkConfig::builder().build(), vars);
        let attempt = unloaded.parsed(SDK_ATTEMPT_TIMEOUT, DEFAULT_ATTEMPT_TIMEOUT, millis)?;
        let operation = unloaded.parsed(SDK_OPERATION_TIMEOUT, DEFAULT_OPERATION_TIMEOUT, millis)?;
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(attempt)
            .operation_timeout(operation)
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts);
        if credentials_in_environment(&crate::env::process) {
            loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
        }
        let aws = loader.load().await;
        Ok(Self {
            aws,
            dynamodb: OnceLock::new(),
            ..unloaded
        })
    }

    /// An environment of `vars` over `aws`, e.g. a test's tables on moto.
    pub fn new(aws: SdkConfig, vars: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        let backend = Backend::from_lookup(&vars);
        Self {
            aws,
            vars: Arc::new(vars),
            backend,
            dynamodb: OnceLock::new(),
        }
    }

    /// An environment of the given `NAME=value` pairs over `aws`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        aws: SdkConfig,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars: std::collections::BTreeMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self::new(aws, move |name| vars.get(name).cloned())
    }

    /// The SDK configuration every client is built from.
    pub fn aws(&self) -> &SdkConfig {
        &self.aws
    }

    /// Where state is kept: DynamoDB, or memory when `HERALD_STORES=memory` (`herald dev`).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A variable's value, if set and not empty.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.vars)(name).filter(|value| !value.is_empty())
    }

    /// A required variable's value.
    ///
    /// # Errors
    /// [`MissingVariable`] naming it and what it is for, when it is unset or empty.
    pub fn required(&self, name: &'static str, purpose: &'static str) -> Result<String, MissingVariable> {
        self.var(name).ok_or(MissingVariable { name, purpose })
    }

    /// A variable parsed with `parse`, or `default` when unset.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable and `parse`'s reason.
    pub fn parsed<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.var(name) {
            None => Ok(default),
            Some(value) => parse(&value).map_err(|reason| ConfigError::Invalid { name, value, reason }),
        }
    }

    /// The DynamoDB client on this environment's SDK configuration: built once, shared by every
    /// table and store of this environment.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| aws_sdk_dynamodb::Client::new(&self.aws))
            .clone()
    }

    /// A store of the chosen backend over the table named by the variable `table`: `dynamo`
    /// builds it over the table, `memory` in this process (`herald dev`). The variable is
    /// required either way, so a function's environment is the same in both.
    ///
    /// # Errors
    /// [`MissingVariable`] when `table` is unset.
    pub fn store<S>(
        &self,
        table: &'static str,
        purpose: &'static str,
        dynamo: impl FnOnce(aws_sdk_dynamodb::Client, String) -> S,
        memory: impl FnOnce() -> S,
    ) -> Result<S, MissingVariable> {
        let name = self.required(table, purpose)?;
        Ok(match self.backend {
            Backend::Dynamo => dynamo(self.dynamodb(), name),
            Backend::Memory => memory(),
        })
    }

    /// The table named by the variable `table`, with primary key `key`, on the chosen backend:
    /// in DynamoDB, or (`herald dev`) in this process's memory. The variable is required either
    /// way, so a function's environment is the same in both.
    ///
    /// # Errors
    /// [`MissingVariable`] naming `table` and its `purpose` when it is unset.
    pub fn table(&self, table: &'static str, purpose: &'static str, key: Key) -> Result<Table, MissingVariable> {
        let name = self.required(table, purpose)?;
        Ok(match self.backend {
            Backend::Dynamo => Table::dynamo(self.dynamodb(), name, key),
            Backend::Memory => Table::memory(name, key),
        })
    }

    /// A publisher to the bus `EVENT_BUS_NAME` names, with [`PublisherConfig`]'s defaults but
    /// for `HERALD_PUBLISH_MAX_ATTEMPTS` and `HERALD_PUBLISH_BASE_DELAY_MS` when they are set.
    ///
    /// # Errors
    /// [`ConfigError`] when `EVENT_BUS_NAME` is unset or a setting is not a positive number.
    pub fn publisher(&self) -> Result<Publisher, ConfigError> {
        let bus = self.required(EVENT_BUS_NAME, "the bus events are published to")?;
        let defaults = PublisherConfig::for_bus(bus);
        let positive = |text: &str| match text.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("not a positive whole number".to_owned()),
        };
        let max_attempts = self.parsed(PUBLISH_MAX_ATTEMPTS, defaults.max_attempts, positive)?;
        let base_delay = self.parsed(PUBLISH_BASE_DELAY_MS, defaults.base_delay, |text| {
            positive(text).map(|ms| Duration::from_millis(u64::from(ms)))
        })?;
        Ok(Publisher::new(
            aws_sdk_eventbridge::Client::new(&self.aws),
            PublisherConfig {
                max_attempts,
                base_delay,
                ..defaults
            },
        ))
    }

    /// The idempotency guard's store (`IDEMPOTENCY_TABLE`, of the chosen backend) and settings
    /// for `function`: [`IdempotencyConfig::new`]'s defaults, with `expires_after` from
    /// `IDEMPOTENCY_EXPIRES_AFTER_SECONDS` and `cache_capacity` from `IDEMPOTENCY_CACHE_CAPACITY`
    /// when they are set.
    ///
    /// # Errors
    /// [`ConfigError`] when `IDEMPOTENCY_TABLE` is unset or a setting is not a whole number.
    pub fn idempotency(&self, function: &str) -> Result<(ChosenStore, IdempotencyConfig), ConfigError> {
        let defaults = IdempotencyConfig::new(function);
        let whole = |text: &str| text.trim().parse::<u64>().map_err(|e| format!("{e}: a whole number"));
        let expires_after = self.parsed(IDEMPOTENCY_EXPIRES_AFTER, defaults.expires_after, |text| {
            whole(text).map(Duration::from_secs)
        })?;
        let cache_capacity = self.parsed(IDEMPOTENCY_CACHE_CAPACITY, defaults.cache_capacity, |text| {
            whole(text).and_then(|n| usize::try_from(n).map_err(|e| e.to_string()))
        })?;
        let store = self.store(
            IDEMPOTENCY_TABLE,
            "idempotency records",
            |client, table| ChosenStore::Dynamo(DynamoStore::new(client, table)),
            || ChosenStore::Memory(MemoryStore::new()),
        )?;
        Ok((
            store,
            IdempotencyConfig {
                expires_after,
                cache_capacity,
                ..defaults
            },
        ))
    }
}

/// What a function says once about itself; implemented by its `Deps`, the dependencies its
/// handler borrows.
pub trait Function: Send + Sync + Sized + 'static {
    /// The function's name: the prefix of its idempotency keys (the template's `LeadingKeys`
    /// condition names it) and the `function` dimension of its metrics. The package name.
    const NAME: &'static str;
    /// What it consumes: an [`event_set!`](crate::event_set) enum.
    type Event: EventSet + GuardedEvent + Send + 'static;
    /// What the handler answers: stored by the guard and answered to duplicates.
    type Reaction: Serialize + DeserializeOwned + Send + 'static;
    /// The handler's error, each variant retryable or not.
    type Error: Classify + std::fmt::Display + std::fmt::Debug + Send + 'static;

    /// Builds the dependencies once, at cold start.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first missing or invalid variable.
    fn from_env(env: &Env) -> Result<Self, ConfigError>;

    /// How the guard keys its events: by default [`IdempotencyKey::EventId`]. Derive a key
    /// ([`IdempotencyKey::Derived`]) when the same fact can arrive under two event ids.
    const IDEMPOTENCY_KEY: IdempotencyKey<Self::Event> = IdempotencyKey::EventId;
}

/// How a function keys its events for the idempotency guard, declared once as
/// [`Function::IDEMPOTENCY_KEY`]: known before any event arrives, so the consumer can claim an
/// event before decoding it.
#[derive(Debug)]
pub enum IdempotencyKey<E> {
    /// `metadata.event_id`, the default. Read from the raw event, so the consumer claims an
    /// event first and decodes it only once it is to run: a duplicate that the store answers
    /// (a COMPLETED record under the same event id and the same `detail.data`) is never
    /// decoded, and its log lines carry no `subject`.
    EventId,
    /// Derived from the decoded event, e.g. the order id and the detail-type, when the same
    /// fact can arrive under two event ids (`None`: this event is keyed by its
    /// `metadata.event_id`). Every event is then decoded first.
    Derived(fn(&E) -> Option<String>),
}

/// A boxed handler future borrowing the dependencies.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handler `async fn(&D, D::Event) -> Result<D::Reaction, D::Error>`, for every lifetime of
/// the borrow: the bound [`run`] and [`Consumer::from_env`] take. Implemented for every such
/// `async fn`; never implemented by hand.
pub trait Handler<'a, D: Function>: Send + Sync + 'static {
    /// The handler's future for a borrow of `'a`.
    type Future: Future<Output = Result<D::Reaction, D::Error>> + Send + 'a;
    /// Calls the handler.
    fn call(&self, deps: &'a D, event: D::Event) -> Self::Future;
}

impl<'a, D, F, Fut> Handler<'a, D> for F
where
    D: Function,
    F: Fn(&'a D, D::Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<D::Reaction, D::Error>> + Send + 'a,
{
    type Future = Fut;

    fn call(&self, deps: &'a D, event: D::Event) -> Fut {
        self(deps, event)
    }
}

/// The handler as the consumer keeps it: one type per function, whatever the handler's own.
pub(crate) trait DynHandler<D: Function>: Send + Sync {
    fn call<'a>(&'a self, deps: &'a D, event: D::Event) -> BoxFuture<'a, Result<D::Reaction, D::Error>>;
}

pub(crate) struct Erased<H>(pub(crate) H);

impl<D: Function, H> DynHandler<D> for Erased<H>
where
    H: for<'a> Handler<'a, D>,
{
    fn call<'a>(&'a self, deps: &'a D, event: D::Event) -> BoxFuture<'a, Result<D::Reaction, D::Error>> {
        Box::pin(self.0.call(deps, event))
    }
}

/// Runs a function on Lambda: JSON logs, its [`Env`] read from the process, its `Deps` built
/// with [`Function::from_env`], the guard, and `handler` for every event, until the runtime
/// stops. The whole of a function's `main`.
///
/// # Errors
/// [`RunError::Config`] when the environment is incomplete (the Lambda's init fails, naming the
/// variable); [`RunError::Runtime`] when the runtime cannot serve.
pub async fn run<D, H>(handler: H) -> Result<(), RunError>
where
    D: Function,
    H: for<'a> Handler<'a, D>,
{
    crate::telemetry::init();
    let env = Env::from_process().await.inspect_err(|error| {
        tracing::error!(function = D::NAME, error = %error, "cold start failed");
    })?;
    let consumer = Consumer::<D>::from_env(&env, handler).inspect_err(|error| {
        tracing::error!(function = D::NAME, error = %error, "cold start failed");
    })?;
    consumer.run().await.map_err(RunError::Runtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let aws = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Env::from_pairs(aws, pairs.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn credentials_in_the_environment_are_recognised_as_the_sdk_environment_provider_reads_them() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            credentials_in_environment(&move |name: &str| {
                pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
            })
        };
        // Lambda's: a key, a secret and a session token
        assert!(with(&[
            ("AWS_ACCESS_KEY_ID", "ASIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t")
        ]));
        // The environment provider's fallback name for the secret
        assert!(with(&[("AWS_ACCESS_KEY_ID", "AKIA1"), ("SECRET_ACCESS_KEY", "s")]));
        // None, half, or blank: the default chain is kept
        assert!(!with(&[]));
        assert!(!with(&[("AWS_ACCESS_KEY_ID", "AKIA1")]));
        assert!(!with(&[("AWS_SECRET_ACCESS_KEY", "s")]));
        assert!(!with(&[("AWS_ACCESS_KEY_ID", " "), ("AWS_SECRET_ACCESS_KEY", "s")]));
    }

    #[test]
    fn every_store_of_one_environment_shares_one_dynamodb_client() -> Result<(), ConfigError> {
        // Given one environment naming two tables
        let env = env(&[("A_TABLE", "a"), ("B_TABLE", "b")]);

        // When a store is built over each, and over the first from a clone of the environment
        let a = env.store("A_TABLE", "a", |client, _| client, || unreachable!("dynamo backend"))?;
        let b = env.store("B_TABLE", "b", |client, _| client, || unreachable!("dynamo backend"))?;
        let cloned = env
            .clone()
            .store("A_TABLE", "a", |client, _| client, || unreachable!())?;

        // Then all hold the one client (one configuration), built once at cold start
        let config = |client: &aws_sdk_dynamodb::Client| std::ptr::from_ref(client.config());
        assert_eq!(config(&a), config(&b));
        assert_eq!(config(&a), config(&cloned));
        assert_eq!(config(&a), config(&env.dynamodb()));
        Ok(())
    }

    #[test]
    fn in_memory_the_idempotency_store_builds_no_dynamodb_client() -> Result<(), ConfigError> {
        // Given an environment on the memory backend (`herald dev`), and one on DynamoDB
        let memory = env(&[("IDEMPOTENCY_TABLE", "records"), ("HERALD_STORES", "memory")]);
        let dynamo = env(&[("IDEMPOTENCY_TABLE", "records")]);

        // When each builds its idempotency store
        let (in_memory, _) = memory.idempotency("billing")?;
        let (in_dynamo, _) = dynamo.idempotency("billing")?;

        // Then only the DynamoDB one built (and holds) the client
        assert!(matches!(in_memory, ChosenStore::Memory(_)));
        assert!(memory.dynamodb.get().is_none());
        assert!(matches!(in_dynamo, ChosenStore::Dynamo(_)));
        assert!(dynamo.dynamodb.get().is_some());
        Ok(())
    }

    #[test]
    fn the_guard_settings_default_and_are_read_from_the_environment() -> Result<(), ConfigError> {
        // Given one environment with only the table, and one that sets both settings
        let plain = env(&[("IDEMPOTENCY_TABLE", "records")]);
        let tuned = env(&[
            ("IDEMPOTENCY_TABLE", "records"),
            ("IDEMPOTENCY_EXPIRES_AFTER_SECONDS", "1209600"),
            ("IDEMPOTENCY_CACHE_CAPACITY", "0"),
        ]);

        // When each is read
        let (_, defaults) = plain.idempotency("billing")?;
        let (_, settings) = tuned.idempotency("billing")?;

        // Then the first has the documented defaults and the second what it says
        assert_eq!(defaults, IdempotencyConfig::new("billing"));
        assert_eq!(settings.expires_after, Duration::from_secs(1_209_600));
        assert_eq!(settings.cache_capacity, 0);
        assert_eq!(settings.function_name, "billing");
        Ok(())
    }

    #[test]
    fn the_publisher_settings_default_and_are_read_from_the_environment_and_a_bad_one_is_named()
    -> Result<(), ConfigError> {
        // Given the bus alone, the bus with both settings, and one setting that is no number
        let plain = env(&[("EVENT_BUS_NAME", "shop")]).publisher()?;
        let tuned = env(&[
            ("EVENT_BUS_NAME", "shop"),
            ("HERALD_PUBLISH_MAX_ATTEMPTS", "1"),
            ("HERALD_PUBLISH_BASE_DELAY_MS", "10"),
        ])
        .publisher()?;
        let bad = env(&[("EVENT_BUS_NAME", "shop"), ("HERALD_PUBLISH_MAX_ATTEMPTS", "0")])
            .publisher()
            .map(|_| ())
            .map_err(|e| e.to_string());

        // Then the first has the documented defaults, the second what it says, the third is named
        assert_eq!(plain.config(), &PublisherConfig::for_bus("shop"));
        assert_eq!(
            (tuned.config().max_attempts, tuned.config().base_delay),
            (1, Duration::from_millis(10))
        );
        assert!(
            bad.as_ref()
                .is_err_and(|e| e.contains("HERALD_PUBLISH_MAX_ATTEMPTS") && e.contains("positive")),
            "{bad:?}"
        );
        Ok(())
    }

    #[test]
    fn a_missing_table_or_a_bad_setting_is_named() {
        // Given no table, and a table with a setting that is not a number
        let missing = env(&[]);
        let bad = env(&[("IDEMPOTENCY_TABLE", "t"), ("IDEMPOTENCY_CACHE_CAPACITY", "lots")]);

        // When they are read, then each error names the variable
        let missing = missing.idempotency("f").map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            missing,
            Err("environment variable IDEMPOTENCY_TABLE must be set (idempotency records)".to_owned())
        );
        let bad = bad.idempotency("f").map(|_| ()).map_err(|e| e.to_string());
        assert!(
            bad.as_ref()
                .is_err_and(|e| e.starts_with("environment variable IDEMPOTENCY_CACHE_CAPACITY=\"lots\"")),
            "{bad:?}"
        );
    }

    #[test]
    fn the_backend_is_memory_only_when_herald_dev_says_so() {
        assert_eq!(env(&[]).backend(), Backend::Dynamo);
        assert_eq!(env(&[("HERALD_STORES", "memory")]).backend(), Backend::Memory);
        assert_eq!(env(&[("HERALD_STORES", "dynamodb")]).backend(), Backend::Dynamo);
    }
}
