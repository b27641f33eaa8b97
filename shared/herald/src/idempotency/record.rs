//! The record the guard keeps per key, and its three states.

use std::fmt;

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Claimed by an invocation whose lease may still run.
    InProgress,
    /// The handler succeeded; the record may hold its result.
    Completed,
    /// The handler failed in a way no retry can fix; automatic retries are answered at once.
    Failed,
}

impl Status {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "INPROGRESS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "INPROGRESS" => Some(Self::InProgress),
            "COMPLETED" => Some(Self::Completed),
            "FAILED" => Some(Self::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One idempotency record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `<function name>#<idempotency key>`.
    pub key: String,
    /// Where the event stands.
    pub status: Status,
    /// Random token of the claim that wrote this record; completion and release are
    /// conditional on it, so a slow invocation whose lease was taken over cannot overwrite
    /// the new owner's record.
    pub claim_token: String,
    /// SHA-256 (hex) of the event's `detail.data`: the same key with other data is a bug upstream.
    pub payload_hash: String,
    /// Epoch seconds after which the record counts as absent (DynamoDB TTL deletes it lazily).
    pub expires_at: i64,
    /// Epoch milliseconds at which an INPROGRESS claim may be taken over.
    pub lease_until: i64,
    /// The handler's JSON result, for COMPLETED records when it was small enough to store.
    pub result: Option<String>,
    /// The handler's error, for FAILED records.
    pub error: Option<String>,
}

impl Record {
    /// True when the record no longer counts at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at < now_ms.div_euclid(1000)
    }

    /// True when another invocation may claim over this record at `now_ms`: it expired, or it
    /// is INPROGRESS with its lease passed, or its status is one the claim may replace.
    pub fn is_claimable(&self, condition: &ClaimCondition) -> bool {
        self.is_expired(condition.now_ms)
            || (self.status == Status::InProgress && self.lease_until < condition.now_ms)
            || (self.status == Status::Failed && condition.replace_failed)
            || (self.status == Status::Completed && condition.replace_completed)
    }
}

/// The condition of a claim: when an existing record may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimCondition {
    /// The claimer's time, epoch milliseconds; expiry and leases are judged against it.
    pub now_ms: i64,
    /// Replace a FAILED record: redrive or replay after the bug was fixed.
    pub replace_failed: bool,
    /// Replace a COMPLETED record: a deliberate reprocess.
    pub replace_completed: bool,
}
