//! `herald redrive` end to end: the binary against moto server, configured only by the
//! environment, as an operator runs it.

use std::time::Duration;

use herald_tests::TestResult;
use herald_tests::aws::{BusToQueue, drain_queue, sdk_config};
use herald_tests::dead_letters;
use serde_json::{Value, json};
use uuid::Uuid;

/// Runs `herald redrive ARGS…` against moto; returns (success, stdout, stderr).
async fn herald_redrive(args: &[&str]) -> TestResult<(bool, String, String)> {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("redrive")
        .args(args)
        .env("AWS_ENDPOINT_URL", herald_tests::moto::endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .await?;
    Ok((
        output.status.success(),
        String::from_utf8(output.stdout)?,
        String::from_utf8(output.stderr)?,
    ))
}

/// A Herald OrderCancelled event as a target receives it.
fn cancellation(order_id: &str) -> (Uuid, Value) {
    let event_id = Uuid::new_v4();
    let event = json!({
        "version": "0",
        "id": Uuid::new_v4(),
        "detail-type": "OrderCancelled",
        "source": "shop.orders",
        "account": "123456789012",
        "time": "2026-11-23T05:29:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "metadata": {
                "event_id": event_id,
                "schema_version": 1,
                "correlation_id": event_id,
                "occurred_at": "2026-11-23T05:29:00Z",
                "producer": "order-service"
            },
            "data": {"order_id": order_id, "customer_id": "cus-42", "reason": "customer_request"}
        }
    });
    (event_id, event)
}

#[tokio::test]
async fn herald_redrive_summarises_a_dry_run_by_rule_and_error_then_empties_the_queue_onto_the_bus() -> TestResult {
    // Given a dead-letter queue with three events that failed for two rules of one bus
    let config = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus = BusToQueue::create(&config, &json!({"source": ["shop.orders"]})).await?;
    let dlq_url = dead_letters::create_queue(&sqs, "dlq").await?;
    let rule = |name: &str| dead_letters::rule_arn(&bus.bus_name, name);
    let mut sent = Vec::new();
    for (order, rule_name, code, message) in [
        (
            "ord-1",
            "inventory",
            "SDK_CLIENT_ERROR",
            "Unable to invoke Lambda function",
        ),
        (
            "ord-2",
            "inventory",
            "SDK_CLIENT_ERROR",
            "Unable to invoke Lambda function",
        ),
        ("ord-3", "billing", "THROTTLING", "Lambda throttled the invocation"),
    ] {
        let (event_id, event) = cancellation(order);
        sent.push(event_id);
        dead_letters::dead_letter_from_rule(&sqs, &dlq_url, &event, &rule(rule_name), code, message).await?;
    }

    // When `herald redrive --dry-run` runs
    let (ok, out, err) = herald_redrive(&["--queue", &dlq_url, "--dry-run"]).await?;

    // Then it prints each rule and error with its count and changes nothing
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("dry run"), "{out}");
    assert!(
        out.contains(&format!(
            "     2  {}\n        SDK_CLIENT_ERROR: Unable to invoke Lambda function",
            rule("inventory")
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "     1  {}\n        THROTTLING: Lambda throttled the invocation",
            rule("billing")
        )),
        "{out}"
    );
    assert!(
        sent.iter().all(|id| out.contains(&id.to_string())),
        "every event is listed:\n{out}"
    );
    assert_eq!(dead_letters::queue_depth(&sqs, &dlq_url).await?.0, 3);
    assert!(
        drain_queue(&sqs, &bus.queue_url, 0, Duration::from_secs(5))
            .await?
            .is_empty()
    );

    // When `herald redrive` runs for real
    let (ok, out, err) = herald_redrive(&["--queue", &dlq_url]).await?;

    // Then every event is on the bus and the queue is empty
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("3 messages received: 3 events redriven, 3 messages deleted, 0 messages left"),
        "{out}"
    );
    let delivered = drain_queue(&sqs, &bus.queue_url, 3, Duration::from_secs(10)).await?;
    let mut ids: Vec<String> = delivered
        .iter()
        .filter_map(|e| e.pointer("/detail/metadata/event_id").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    ids.sort();
    let mut expected: Vec<String> = sent.iter().map(Uuid::to_string).collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(dead_letters::queue_depth(&sqs, &dlq_url).await?, (0, 0));
    Ok(())
}
