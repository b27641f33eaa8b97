//! The template deployed on moto — its bus, rules, dead-letter queues and alarms, read from the
//! template itself — routes every catalogued sample to exactly the functions that declare they
//! consume it (each function's tests hold its `event_set!` to that declaration, so rules and code
//! cannot drift apart).
//! And CloudWatch's alarm-state-change event, on the default bus, reaches the redrive function
//! only when one of the deployed consumers' errors alarms returns to OK.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use herald::RawEvent;
use herald_tests::TestResult;
use herald_tests::aws::{drain_queue, sdk_config};
use herald_tests::fixtures::{catalog_samples, sample_json};
use herald_tests::functions::FUNCTIONS;
use herald_tests::shop::deploy;
use herald_tests::template::Template;

/// The catalog's samples of Herald events: AWS's own (`aws.*`) come from AWS on the default
/// bus (see the last test).
fn samples() -> TestResult<Vec<RawEvent>> {
    Ok(catalog_samples()?
        .into_iter()
        .map(|(_, raw)| raw)
        .filter(|raw| !raw.source().is_some_and(|s| s.starts_with("aws.")))
        .collect())
}

#[tokio::test]
async fn every_sample_reaches_exactly_the_functions_that_accept_it() -> TestResult {
    // Given the template's bus, rules, queues and alarms on moto
    let config = sdk_config().await;
    let template = Template::load()?;
    let shop = deploy(&config, template).await?;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);

    // When every catalogued sample is put on the bus
    let samples = samples()?;
    for sample in &samples {
        let value = sample.as_value();
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&shop.bus_name)
            .source(sample.source().ok_or("no source")?)
            .detail_type(sample.detail_type().ok_or("no detail-type")?)
            .detail(value["detail"].to_string())
            .build();
        let output = events.put_events().entries(entry).send().await?;
        assert_eq!(output.failed_entry_count(), 0);
    }

    // Then each function's queue holds exactly the samples it declares it consumes (and every
    // function's own tests hold its code to its declaration: herald_tests::world::FunctionWorld)
    let key = |raw: &RawEvent| raw.ids().event_id.clone().unwrap_or_default();
    for spec in FUNCTIONS.iter() {
        let function = spec.name;
        let expected: BTreeSet<String> = samples
            .iter()
            .filter(|raw| spec.consumes.iter().any(|c| c.matches(raw)))
            .map(key)
            .collect();
        assert!(!expected.is_empty(), "{function} consumes no sample");
        let url = shop
            .function_queues
            .get(function)
            .ok_or(format!("no queue for {function}"))?;
        let received: Vec<String> = drain_queue(&sqs, url, expected.len(), Duration::from_secs(15))
            .await?
            .into_iter()
            .map(|body| key(&RawEvent::from_value(body)))
            .collect();
        assert_eq!(received.len(), expected.len(), "{function}: each accepted sample once");
        assert_eq!(received.into_iter().collect::<BTreeSet<_>>(), expected, "{function}");
    }
    for (id, url) in &shop.queues {
        assert!(
            drain_queue(&sqs, url, 0, Duration::from_millis(300)).await?.is_empty(),
            "{id} must be empty"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_uncatalogued_version_detail_type_or_source_on_the_bus_waits_in_the_unrouted_queue() -> TestResult {
    // Given the template deployed on moto
    let config = sdk_config().await;
    let template = Template::load()?;
    let shop = deploy(&config, template).await?;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let unrouted_queue = shop
        .queues
        .get("UnroutedEventsQueue")
        .ok_or("no unrouted queue deployed")?;

    // When the order service starts publishing OrderPlaced v3, an OrderShipped nobody
    // catalogued, and a source nobody knows, next to a catalogued OrderPlaced v1
    let placed = RawEvent::from_value(sample_json("shop.orders/OrderPlaced/v1.sample.json")?);
    let mut put = Vec::new();
    for (source, detail_type, version, event_id) in [
        ("shop.orders", "OrderPlaced", 3, "00000000-0000-4000-8000-000000000301"),
        ("shop.orders", "OrderShipped", 1, "00000000-0000-4000-8000-000000000302"),
        (
            "shop.warehouse",
            "PalletMoved",
            1,
            "00000000-0000-4000-8000-000000000303",
        ),
        ("shop.orders", "OrderPlaced", 1, "00000000-0000-4000-8000-000000000304"),
    ] {
        let mut detail = placed.as_value()["detail"].clone();
        detail["metadata"]["schema_version"] = version.into();
        detail["metadata"]["event_id"] = event_id.into();
        put.push(
            PutEventsRequestEntry::builder()
                .event_bus_name(&shop.bus_name)
                .source(source)
                .detail_type(detail_type)
                .detail(detail.to_string())
                .build(),
        );
    }
    let output = events.put_events().set_entries(Some(put)).send().await?;
    assert_eq!(output.failed_entry_count(), 0);

    // Then the three no consumer can take wait in the unrouted queue (whose depth the template's
    // alarm watches; moto emits no SQS metrics to evaluate it), and the catalogued one does not
    let received: BTreeSet<String> = drain_queue(&sqs, unrouted_queue, 3, Duration::from_secs(15))
        .await?
        .into_iter()
        .map(|body| RawEvent::from_value(body).ids().event_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        received,
        BTreeSet::from([
            "00000000-0000-4000-8000-000000000301".to_owned(),
            "00000000-0000-4000-8000-000000000302".to_owned(),
            "00000000-0000-4000-8000-000000000303".to_owned(),
        ])
    );
    Ok(())
}

#[tokio::test]
async fn the_templates_alarms_exist_on_moto_with_their_actions() -> TestResult {
    // Given the template deployed on moto
    let config = sdk_config().await;
    let template = Template::load()?;
    let shop = deploy(&config, template).await?;

    // When its alarms are listed
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let described = cloudwatch
        .describe_alarms()
        .alarm_name_prefix(&shop.stack_name)
        .send()
        .await?;

    // Then every alarm of the template exists, notifying on ALARM and on OK
    let alarms = described.metric_alarms();
    assert_eq!(alarms.len(), template.of_type("AWS::CloudWatch::Alarm").count());
    assert_eq!(alarms.len(), shop.alarms.len());
    for alarm in alarms {
        assert_eq!(alarm.alarm_actions().len(), 1, "{:?}", alarm.alarm_name());
        assert_eq!(alarm.ok_actions(), alarm.alarm_actions(), "{:?}", alarm.alarm_name());
    }
    let unrouted = template
        .of_type("AWS::Events::Rule")
        .filter(|(id, _)| id.starts_with("UnroutedEventsRule"))
        .count();
    assert!(unrouted >= 1, "no unrouted rule");
    assert_eq!(
        shop.rules.len(),
        FUNCTIONS.len() + 1 + unrouted,
        "one rule per function, redrive's, and the unrouted net"
    );
    Ok(())
}

#[tokio::test]
async fn an_errors_alarm_returning_to_ok_reaches_the_redrive_function_on_the_default_bus() -> TestResult {
    // Given the template deployed on moto, and the catalog's alarm sample naming the deployed
    // stack's inventory errors alarm
    let config = sdk_config().await;
    let shop = deploy(&config, Template::load()?).await?;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let mut recovered = sample_json("aws.cloudwatch/CloudWatch Alarm State Change/v1.sample.json")?;
    recovered["detail"]["alarmName"] = serde_json::json!(format!("{}-inventory-errors", shop.stack_name));
    let mut going_off = recovered.clone();
    going_off["detail"]["state"]["value"] = serde_json::json!("ALARM");
    going_off["detail"]["previousState"]["value"] = serde_json::json!("OK");
    let mut other_alarm = recovered.clone();
    other_alarm["detail"]["alarmName"] = serde_json::json!(format!("{}-redrive-errors", shop.stack_name));

    // When CloudWatch puts the three on the default bus
    for (n, event) in [&recovered, &going_off, &other_alarm].into_iter().enumerate() {
        let mut detail = event["detail"].clone();
        detail["n"] = serde_json::json!(n);
        let entry = PutEventsRequestEntry::builder()
            .source("aws.cloudwatch")
            .detail_type("CloudWatch Alarm State Change")
            .detail(detail.to_string())
            .build();
        let output = events.put_events().entries(entry).send().await?;
        assert_eq!(output.failed_entry_count(), 0);
    }

    // Then only the recovery reached redrive, and no shop function saw any of them
    let redrive = shop.function_queues.get("redrive").ok_or("no queue for redrive")?;
    let received = drain_queue(&sqs, redrive, 1, Duration::from_secs(10)).await?;
    let numbers: Vec<&serde_json::Value> = received.iter().map(|b| &b["detail"]["n"]).collect();
    assert_eq!(numbers, [&serde_json::json!(0)]);
    for (function, url) in shop.function_queues.iter().filter(|(f, _)| *f != "redrive") {
        assert!(
            drain_queue(&sqs, url, 0, Duration::from_millis(300)).await?.is_empty(),
            "{function} must not receive alarm events"
        );
    }
    Ok(())
}
