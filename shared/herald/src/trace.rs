//! The X-Ray trace an invocation belongs to, carried across bus hops.
//!
//! With active tracing (the generated template sets `Tracing: Active` on every function), Lambda
//! hands each invocation its trace header (`Root=1-…;Parent=…;Sampled=1`, the Runtime API's
//! `Lambda-Runtime-Trace-Id`, which `lambda_runtime` gives as `Context::xray_trace_id`).
//! [`Consumer`](crate::Consumer) runs the handler inside [`scope`] with it, and
//! [`Publisher`](crate::Publisher) puts [`current`] on every `PutEvents` entry as its
//! `TraceHeader`: EventBridge passes it on to the targets its rules invoke, so the next
//! function's invocation continues the same trace and one order's trace spans every hop.
//!
//! The header is passed through as Lambda gave it; only its `Root` is read, for the
//! `xray_trace_id` of every log line ([`root`]).

use std::future::Future;

tokio::task_local! {
    static HEADER: Option<String>;
}

/// Runs `work` with `header` as the current trace header.
///
/// A plain function returning tokio's scope future, not an `async fn`: rustc keeps an `async
/// fn`'s argument and the future it awaits in separate fields, so wrapping the consumer's whole
/// event future that way made it twice as large, and copied whole on every move.
pub fn scope<F: Future>(header: Option<String>, work: F) -> impl Future<Output = F::Output> {
    HEADER.scope(header, work)
}

/// The trace header of the invocation being handled, if Lambda traces it.
pub fn current() -> Option<String> {
    HEADER.try_with(Clone::clone).ok().flatten()
}

/// The trace id of a header: its `Root` (`1-5759e988-bd862e3fe1be46a994272793`), as Powertools
/// logs it; a header without fields is taken as the id itself.
pub fn root(header: &str) -> &str {
    header
        .split(';')
        .find_map(|field| field.trim().strip_prefix("Root="))
        .unwrap_or(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_id_is_the_headers_root() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        assert_eq!(root(header), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(
            root("1-5759e988-bd862e3fe1be46a994272793"),
            "1-5759e988-bd862e3fe1be46a994272793"
        );
    }

    #[tokio::test]
    async fn the_header_is_current_inside_its_scope_only() {
        let inside = scope(Some("Root=1-a-b".to_owned()), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("Root=1-a-b"));
        assert_eq!(current(), None);
    }
}
