//! How every Herald error says whether trying again can help.
//!
//! A consumer's error decides where its event goes: a retryable error is returned to Lambda (or
//! EventBridge) so the event is delivered again; a non-retryable one is recorded and sent to the
//! dead-letter queue at once, because the same input would fail the same way forever.

/// Implemented by every error enum in Herald and in the functions built on it.
pub trait Classify {
    /// True when the same event may succeed if delivered again (throttling, a timeout, a
    /// dependency that is down); false when it never will (bad input, a broken invariant).
    fn is_retryable(&self) -> bool;

    /// A stable, dotted name for the error kind, used as Lambda's `errorType` and in logs.
    fn error_type(&self) -> &'static str;

    /// True for a retryable failure that is expected to heal by itself on Lambda's next attempt,
    /// because the event arrived before one it depends on (a payment before its order): a race
    /// of unordered delivery, not an outage. The consumer counts it as `DeferredEvents` (see
    /// [`emf`](crate::emf)), which the generated errors alarm subtracts from Lambda's `Errors`:
    /// it does not page and does not set off a redrive. If it never heals, Lambda's retries end
    /// in the dead-letter queue, whose alarm pages. Default: false.
    fn is_deferred(&self) -> bool {
        false
    }
}
