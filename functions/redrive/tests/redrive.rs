//! Redrive against moto server, built by its own wiring: the catalog's alarm-state-change sample
//! (inventory's errors alarm back to OK) empties inventory's dead-letter queue onto the bus and
//! leaves billing's alone; an alarm going off moves nothing; every log line of an invocation
//! names it as a consumer's lines do.

use std::collections::BTreeMap;
use std::time::Duration;

use herald::telemetry::Invocation;
use herald_tests::TestResult;
use herald_tests::aws::{BusToQueue, drain_queue, sdk_config};
use herald_tests::dead_letters::{create_queue, dead_letter_from_rule, queue_depth, rule_arn};
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::logs::Lines;
use redrive::config::Config;
use redrive::wiring::Redrive;
use serde_json::json;
use tracing::instrument::WithSubscriber as _;

const ALARM: &str = "aws.cloudwatch/CloudWatch Alarm State Change/v1.sample.json";

/// Two consumers' dead-letter queues holding one failed event each, and the bus they came from,
/// whose rule feeds a queue the test reads.
struct World {
    redrive: Redrive,
    sqs: aws_sdk_sqs::Client,
    bus: BusToQueue,
    inventory_dlq: String,
    billing_dlq: String,
    event_ids: BTreeMap<&'static str, String>,
}

async fn world() -> TestResult<World> {
    let sdk = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let bus = BusToQueue::create(&sdk, &json!({"source": ["shop.orders"]})).await?;
    let inventory_dlq = create_queue(&sqs, "inventory-dlq").await?;
    let billing_dlq = create_queue(&sqs, "billing-dlq").await?;
    let mut event_ids = BTreeMap::new();
    for (name, queue, sample) in [
        ("inventory", &inventory_dlq, "shop.orders/OrderCancelled/v1.sample.json"),
        ("billing", &billing_dlq, "shop.orders/OrderPlaced/v1.sample.json"),
    ] {
        let event = fresh_sample(sample)?;
        let rule = rule_arn(&bus.bus_name, &format!("shop-{name}"));
        dead_letter_from_rule(
            &sqs,
            queue,
            event.as_value(),
            &rule,
            "SDK_CLIENT_ERROR",
            "Lambda failed",
        )
        .await?;
        event_ids.insert(name, event.ids().event_id.clone().unwrap_or_default());
    }
    let env = BTreeMap::from([
        (
            "REDRIVE_QUEUES",
            format!("shop-inventory-errors={inventory_dlq},shop-billing-errors={billing_dlq}"),
        ),
        ("EVENT_BUS_NAME", bus.bus_name.clone()),
    ]);
    let config = Config::from_lookup(&|name| env.get(name).cloned())?;
    Ok(World {
        redrive: Redrive::new(&sdk, config),
        sqs,
        bus,
        inventory_dlq,
        billing_dlq,
        event_ids,
    })
}

#[tokio::test]
async fn the_sample_alarm_recovery_redrives_inventorys_queue_and_only_that_one() -> TestResult {
    let world = world().await?;

    // When the catalog's sample arrives: shop-inventory-errors went from ALARM to OK
    let reaction = world.redrive.handle(sample_json(ALARM)?).await?;

    // Then inventory's queue was redriven, its event is back on the bus, keeping its event_id
    assert_eq!(
        (reaction.action, reaction.received, reaction.redriven, reaction.left),
        ("redriven", 1, 1, 0)
    );
    assert_eq!(reaction.queue.as_deref(), Some(world.inventory_dlq.as_str()));
    let delivered = drain_queue(&world.sqs, &world.bus.queue_url, 1, Duration::from_secs(10)).await?;
    assert_eq!(
        delivered[0]["detail"]["metadata"]["event_id"].as_str(),
        world.event_ids.get("inventory").map(String::as_str)
    );
    assert_eq!(delivered[0]["detail-type"], "OrderCancelled");
    assert!(delivered[0]["detail"]["metadata"]["redrive"]["run"].is_string());
    assert_eq!(queue_depth(&world.sqs, &world.inventory_dlq).await?, (0, 0));

    // …and billing's queue, whose alarm did not change, still holds its event
    assert_eq!(queue_depth(&world.sqs, &world.billing_dlq).await?, (1, 0));
    Ok(())
}

#[tokio::test]
async fn an_alarm_going_off_redrives_nothing() -> TestResult {
    let world = world().await?;
    let mut going_off = sample_json(ALARM)?;
    going_off["detail"]["state"]["value"] = json!("ALARM");
    going_off["detail"]["previousState"]["value"] = json!("OK");

    let reaction = world.redrive.handle(going_off).await?;

    assert_eq!((reaction.action, reaction.received), ("ignored", 0));
    assert_eq!(queue_depth(&world.sqs, &world.inventory_dlq).await?, (1, 0));
    assert_eq!(queue_depth(&world.sqs, &world.billing_dlq).await?, (1, 0));
    Ok(())
}

#[tokio::test]
async fn every_log_line_of_a_redrive_names_its_invocation_as_a_consumers_lines_do() -> TestResult {
    // Given the redrive function deployed as shop-dev-redrive version 3, its logs in memory
    let world = world().await?;
    let lines = Lines::default();
    let invocation = Invocation {
        request_id: "req-redrive-1".to_owned(),
        cold_start: true,
        function_name: "shop-dev-redrive".to_owned(),
        function_version: "3".to_owned(),
        trace_header: Some("Root=1-6752a1f0-3c5d7e9f1a2b4c6d8e0f1a2b;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
    };

    // When inventory's alarm recovers in a traced invocation
    let reaction = world
        .redrive
        .handle_invocation(sample_json(ALARM)?, &invocation)
        .with_subscriber(lines.subscriber())
        .await?;

    // Then it redrove, and every line it logged names the request, the cold start, the
    // function, its version, the trace and the alarm
    assert_eq!(reaction.action, "redriven");
    let lines = lines.json()?;
    assert!(lines.iter().any(|l| l["message"] == "redriven"), "{lines:#?}");
    for line in &lines {
        let span = &line["span"];
        assert_eq!(span["request_id"], "req-redrive-1", "{line}");
        assert_eq!(span["cold_start"], true, "{line}");
        assert_eq!(span["function_name"], "shop-dev-redrive", "{line}");
        assert_eq!(span["function_version"], "3", "{line}");
        assert_eq!(span["xray_trace_id"], "1-6752a1f0-3c5d7e9f1a2b4c6d8e0f1a2b", "{line}");
        assert!(span["alarm"].as_str().is_some_and(|a| !a.is_empty()), "{line}");
    }
    Ok(())
}
