//! Everything that can go wrong in redrive, each variant retryable or not.

use herald::Classify;
use herald_ops::OpsError;

/// Redrive's errors.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// The invocation is not a CloudWatch "Alarm State Change" event. Not retryable.
    #[error("event {id}: not a CloudWatch Alarm State Change event: {reason}")]
    NotAnAlarmEvent {
        /// EventBridge's `id`, or `<unreadable>`.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The alarm is not one of `REDRIVE_QUEUES`: the rule and the configuration disagree. Not
    /// retryable; the event goes to redrive's own dead-letter queue.
    #[error("event {id}: alarm `{alarm}` watches no configured queue (REDRIVE_QUEUES names {known})")]
    UnknownAlarm {
        /// EventBridge's `id`.
        id: String,
        /// The alarm.
        alarm: String,
        /// The alarms configured.
        known: String,
    },
    /// The redrive itself failed. Retryable as the failure says; a retry is safe.
    #[error("event {id}: redrive of {queue} failed: {source}")]
    Redrive {
        /// EventBridge's `id`.
        id: String,
        /// The queue URL.
        queue: String,
        /// What failed.
        source: OpsError,
    },
}

impl Classify for RedriveError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::NotAnAlarmEvent { .. } | Self::UnknownAlarm { .. } => false,
            Self::Redrive { source, .. } => source.is_retryable(),
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::NotAnAlarmEvent { .. } => "Redrive.NotAnAlarmEvent",
            Self::UnknownAlarm { .. } => "Redrive.UnknownAlarm",
            Self::Redrive { source, .. } => source.error_type(),
        }
    }
}

impl From<RedriveError> for lambda_runtime::Diagnostic {
    fn from(error: RedriveError) -> Self {
        Self {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}
