//! What a function's invocation tells the logs and the bus, as a Powertools user expects it:
//! every log line of the invocation carries Lambda's request id, whether it was the cold start,
//! the function's name and version and the X-Ray trace id; and every event the handler publishes
//! carries the invocation's trace header, so EventBridge continues the trace in the functions it
//! invokes next. Shown with inventory, which publishes, built as `main.rs` builds it.

use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_eventbridge::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_eventbridge::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_eventbridge::error::BoxError;
use aws_sdk_eventbridge::operation::put_events::PutEventsInput;
use herald::{Call, Publisher, PublisherConfig};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::logs::Lines;
use herald_tests::world::{FunctionWorld, Stores};
use inventory::handler::Deps;
use serde_json::Value;
use tracing::instrument::WithSubscriber as _;

const TRACE: &str = "Root=1-6752a1f0-3c5d7e9f1a2b4c6d8e0f1a2b;Parent=53995c3f42cd8ad8;Sampled=1";

/// Records the `TraceHeader` of every PutEvents entry.
#[derive(Debug, Default, Clone)]
struct TraceHeaders(Arc<Mutex<Vec<Option<String>>>>);

impl Intercept for TraceHeaders {
    fn name(&self) -> &'static str {
        "TraceHeaders"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context.input().downcast_ref::<PutEventsInput>() {
            let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            seen.extend(input.entries().iter().map(|e| e.trace_header().map(str::to_owned)));
        }
        Ok(())
    }
}

#[tokio::test]
async fn every_log_line_and_every_published_event_of_an_invocation_carry_its_request_trace_and_function() -> TestResult
{
    // Given inventory deployed as shop-dev-inventory version 7, stock for ord-1001, its bus
    // client recording trace headers, and its logs written to memory
    let world = FunctionWorld::<Deps>::new(
        Stores::Memory,
        inventory::handler::handle,
        &[
            ("STOCK_SEED", "SKU-LAPTOP-14=5,SKU-MOUSE-01=10"),
            ("AWS_LAMBDA_FUNCTION_NAME", "shop-dev-inventory"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
        ],
    )
    .await?;
    let headers = TraceHeaders::default();
    let events = aws_sdk_eventbridge::config::Builder::from(&world.moto.sdk)
        .interceptor(headers.clone())
        .build();
    let publisher = Publisher::new(
        aws_sdk_eventbridge::Client::from_conf(events),
        PublisherConfig::for_bus(world.bus.name()),
    );
    let consumer = world.publishing_through(publisher, |deps, publisher| Deps { publisher, ..deps });
    let lines = Lines::default();
    let subscriber = lines.subscriber();

    // When ord-1001 is delivered in a traced invocation (the cold start), then again (warm)
    let placed = fresh_sample("shop.orders/OrderPlaced/v1.sample.json")?;
    for request in ["req-1", "req-2"] {
        let call = Call {
            request_id: Some(request.to_owned()),
            trace_header: Some(TRACE.to_owned()),
            ..Call::default()
        };
        consumer
            .handle_call(placed.clone(), call)
            .with_subscriber(subscriber.clone())
            .await?;
    }

    // Then every line of each invocation names its request, the function and the trace, and
    // only the first says cold start; the first names the order it is about (its subject, read
    // once the event is claimed and decoded), the duplicate, which the store answered without
    // decoding it, does not
    let lines = lines.json()?;
    for (request, cold, subject) in [("req-1", true, Value::from("ord-1001")), ("req-2", false, Value::Null)] {
        let of_request: Vec<&Value> = lines.iter().filter(|l| l["span"]["request_id"] == request).collect();
        assert!(!of_request.is_empty(), "no line of {request}: {lines:#?}");
        for line in of_request {
            let span = &line["span"];
            assert_eq!(span["cold_start"], cold, "{line}");
            assert_eq!(span["subject"], subject, "{line}");
            assert_eq!(span["function_name"], "shop-dev-inventory", "{line}");
            assert_eq!(span["function_version"], "7", "{line}");
            assert_eq!(span["xray_trace_id"], "1-6752a1f0-3c5d7e9f1a2b4c6d8e0f1a2b", "{line}");
            assert_eq!(
                span["event_id"],
                placed.as_value()["detail"]["metadata"]["event_id"],
                "{line}"
            );
        }
    }
    // And StockReserved went to the bus with the invocation's trace header
    let sent = headers.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(sent, [Some(TRACE.to_owned())]);
    assert_eq!(world.bus.emitted(1).await?.len(), 1);
    Ok(())
}
