//! The guard's one immutable configuration, with a documented default for every option.

use std::time::Duration;

/// What to do with an event for which no idempotency key can be derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Fail with a non-retryable [`GuardError::MissingKey`](super::GuardError::MissingKey). Default.
    #[default]
    Reject,
    /// Run the handler without protection and log a warning.
    RunUnguarded,
}

/// Names of the idempotency table's attributes. The defaults match `infra/template.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeNames {
    /// Partition key: `<function name>#<idempotency key>`. Default: `id`.
    pub key: String,
    /// `INPROGRESS`, `COMPLETED` or `FAILED`. Default: `status`.
    pub status: String,
    /// DynamoDB TTL attribute, epoch seconds. Default: `expires_at`.
    pub expires_at: String,
    /// End of the claim's lease, epoch milliseconds. Default: `lease_until`.
    pub lease_until: String,
    /// Random token of the claim, so an invocation only ever completes or releases its own claim.
    /// Default: `claim_token`.
    pub claim_token: String,
    /// SHA-256 of the event's `detail.data`. Default: `payload_hash`.
    pub payload_hash: String,
    /// The handler's serialized result, for COMPLETED records. Default: `result`.
    pub result: String,
    /// The handler's error message, for FAILED records. Default: `error`.
    pub error: String,
}

impl Default for AttributeNames {
    fn default() -> Self {
        Self {
            key: "id".to_owned(),
            status: "status".to_owned(),
            expires_at: "expires_at".to_owned(),
            lease_until: "lease_until".to_owned(),
            claim_token: "claim_token".to_owned(),
            payload_hash: "payload_hash".to_owned(),
            result: "result".to_owned(),
            error: "error".to_owned(),
        }
    }
}

/// How the guard behaves. Built once at cold start; the guard keeps it behind an `Arc` and
/// never changes it, so two handlers can never silently share or re-configure one guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// Prefix of every key, so functions sharing a table never see each other's records.
    /// No default: use the Lambda function's logical name, not anything derived from code paths.
    pub function_name: String,
    /// How long a record lives (its DynamoDB TTL); a redelivery after that runs again.
    /// Default: 1 hour.
    pub expires_after: Duration,
    /// The lease of a claim ends this long before the invocation's deadline, so a redelivery
    /// after a timeout can take over at once instead of waiting for the record to expire. The
    /// price: a handler still running in its last `lease_margin` can be overlapped by that
    /// redelivery (only its completion or the new owner's is recorded, never both). `0` ends the
    /// lease exactly at the deadline; an invocation with less than the margin left gets a lease
    /// to its deadline. Default: 1 s.
    pub lease_margin: Duration,
    /// Lease used when no deadline is known (the plain function form without one). Default: 60 s.
    pub default_lease: Duration,
    /// Results larger than this (serialized JSON) are not stored; duplicates then get no result.
    /// Default: 256 KiB, well under DynamoDB's 400 KB item limit.
    pub max_result_bytes: usize,
    /// Entries in the in-process cache of COMPLETED records; 0 turns the cache off. Default: 1024.
    pub cache_capacity: usize,
    /// What to do when no key can be derived. Default: [`MissingKey::Reject`].
    pub missing_key: MissingKey,
    /// Attribute names of the table. Default: [`AttributeNames::default`].
    pub attributes: AttributeNames,
}

impl IdempotencyConfig {
    /// The defaults, for the named function.
    pub fn new(function_name: impl Into<String>) -> Self {
        Self {
            function_name: function_name.into(),
            expires_after: Duration::from_secs(3600),
            lease_margin: Duration::from_secs(1),
            default_lease: Duration::from_secs(60),
            max_result_bytes: 256 * 1024,
            cache_capacity: 1024,
            missing_key: MissingKey::Reject,
            attributes: AttributeNames::default(),
        }
    }

    /// The full key of a record: `<function name>#<idempotency key>`.
    pub fn record_key(&self, idempotency_key: &str) -> String {
        format!("{}#{idempotency_key}", self.function_name)
    }
}
