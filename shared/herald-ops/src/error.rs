//! The crate's one error type, [`OpsError`]: what stopped a replay or a redrive as a whole.
//! Single messages or entries that cannot be redriven are not errors of the run: they stay in
//! their queue and are listed in the run's report.

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use herald::Classify;

/// Error codes with which AWS says the same call may pass later.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "RequestThrottled",
    "ServiceUnavailable",
    "LimitExceededException",
    "ConcurrentModificationException",
];

impl OpsError {
    /// An AWS call (SQS or EventBridge: the SDKs share their error types) that failed as a
    /// whole: retryable for throttling, limits, 5xx and transport failures, not otherwise.
    pub(crate) fn aws<E>(operation: &'static str, target: &str, error: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let retryable = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => {
                service.raw().status().is_server_error()
                    || service.err().code().is_some_and(|code| RETRYABLE_CODES.contains(&code))
            }
            _ => false,
        };
        Self::Aws {
            operation,
            target: target.to_owned(),
            message: DisplayErrorContext(error).to_string(),
            retryable,
        }
    }
}

/// Why a replay or a redrive could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    // -- shared ------------------------------------------------------------------------------
    /// An AWS call failed as a whole.
    #[error("{operation} {target}: {message}")]
    Aws {
        /// The API operation, e.g. `ReceiveMessage`.
        operation: &'static str,
        /// What it was called on: a queue URL, an archive ARN, a rule name.
        target: String,
        /// The SDK's error, with its source chain.
        message: String,
        /// True when the same call may succeed later (throttling, 5xx, timeouts).
        retryable: bool,
    },
    // -- redrive (redrive.rs) --------------------------------------------------------------------
    /// The queue URL names no queue.
    #[error("`{url}` is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")]
    QueueUrl {
        /// The URL as given.
        url: String,
    },
    // -- replay (replay.rs) ----------------------------------------------------------------------
    /// The replay window ends before it starts, or is empty.
    #[error("the replay window {from} .. {to} is empty: its start must be before its end")]
    EmptyReplayWindow {
        /// The window's start, RFC 3339.
        from: String,
        /// The window's end, RFC 3339.
        to: String,
    },
    /// EventBridge would refuse the replay's name, or it would change what consumers do.
    #[error("replay name `{name}` is not valid: {reason}")]
    InvalidReplayName {
        /// The name, reprocess prefix included.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No archive has that ARN or name in the client's account and region.
    #[error("archive {archive} does not exist")]
    UnknownArchive {
        /// The archive as given.
        archive: String,
    },
    /// The archive's ARN names another account or region than the client reaches.
    #[error("archive {requested} is not in the account and region of the AWS configuration, which has {found}")]
    ArchiveElsewhere {
        /// The ARN as given.
        requested: String,
        /// The ARN of the archive with that name in the client's account and region.
        found: String,
    },
    /// A rule to replay to is not on the archive's bus: nothing was started.
    #[error("rule {rule} does not exist on event bus {bus}: no replay was started")]
    UnknownRule {
        /// The rule's name.
        rule: String,
        /// The archive's bus ARN.
        bus: String,
    },
    /// A replay with that name exists already (names are unique per account and region).
    #[error("a replay named {name} exists already: choose another name")]
    ReplayExists {
        /// The replay's name.
        name: String,
    },
    /// No replay has that name.
    #[error("replay {name} does not exist")]
    UnknownReplay {
        /// The replay's name.
        name: String,
    },
    /// EventBridge ended the replay as FAILED.
    #[error("replay {name} FAILED: {reason}")]
    ReplayFailed {
        /// The replay's name.
        name: String,
        /// EventBridge's `StateReason`.
        reason: String,
    },
    /// The replay was cancelled before it completed.
    #[error("replay {name} was cancelled; events replayed up to: {replayed_up_to}")]
    ReplayCancelled {
        /// The replay's name.
        name: String,
        /// The receive time of the last event replayed, RFC 3339, or `none`.
        replayed_up_to: String,
    },
}

impl Classify for OpsError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Aws { retryable, .. } => *retryable,
            Self::QueueUrl { .. } => false,
            Self::EmptyReplayWindow { .. }
            | Self::InvalidReplayName { .. }
            | Self::UnknownArchive { .. }
            | Self::ArchiveElsewhere { .. }
            | Self::UnknownRule { .. }
            | Self::ReplayExists { .. }
            | Self::UnknownReplay { .. }
            | Self::ReplayFailed { .. }
            | Self::ReplayCancelled { .. } => false,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Aws { .. } => "Ops.Aws",
            Self::QueueUrl { .. } => "Ops.QueueUrl",
            Self::EmptyReplayWindow { .. } => "Ops.EmptyReplayWindow",
            Self::InvalidReplayName { .. } => "Ops.InvalidReplayName",
            Self::UnknownArchive { .. } => "Ops.UnknownArchive",
            Self::ArchiveElsewhere { .. } => "Ops.ArchiveElsewhere",
            Self::UnknownRule { .. } => "Ops.UnknownRule",
            Self::ReplayExists { .. } => "Ops.ReplayExists",
            Self::UnknownReplay { .. } => "Ops.UnknownReplay",
            Self::ReplayFailed { .. } => "Ops.ReplayFailed",
            Self::ReplayCancelled { .. } => "Ops.ReplayCancelled",
        }
    }
}
