//! The template deployed on moto — its bus, rules, dead-letter queues and alarms, read from the
//! template itself — routes every catalogued sample to exactly the functions whose code accepts
//! it: the rules in `infra/template.yaml` and each function's `event_set!` cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use herald::RawEvent;
use herald::envelope::{Accepted, EventSet};
use herald_tests::TestResult;
use herald_tests::aws::{drain_queue, sdk_config};
use herald_tests::shop::deploy;
use herald_tests::template::Template;

fn accepted_by_each_function() -> BTreeMap<&'static str, Vec<Accepted>> {
    BTreeMap::from([
        ("inventory", inventory::handler::InventoryEvent::accepted()),
        ("fulfillment", fulfillment::handler::FulfillmentEvent::accepted()),
        ("notifications", notifications::handler::NotificationsEvent::accepted()),
        ("order-history", order_history::handler::OrderHistoryEvent::accepted()),
        ("campaigns", campaigns::handler::CampaignsEvent::accepted()),
        ("contracts", contracts::handler::ContractsEvent::accepted()),
        ("billing", billing::handler::BillingEvent::accepted()),
    ])
}

fn samples() -> TestResult<Vec<RawEvent>> {
    let mut found = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name.contains(".sample") && name.ends_with(".json") {
                found.push(RawEvent::parse(&std::fs::read(&path)?)?);
            }
        }
    }
    Ok(found)
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

    // Then each function's queue holds exactly the samples its code accepts
    let key = |raw: &RawEvent| raw.ids().event_id.clone().unwrap_or_default();
    for (function, accepted) in accepted_by_each_function() {
        let expected: BTreeSet<String> = samples
            .iter()
            .filter(|raw| {
                let version = raw.schema_version().ok();
                accepted
                    .iter()
                    .any(|a| raw.is(a.source, a.detail_type) && version.is_some_and(|v| a.versions.contains(&v)))
            })
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
    assert_eq!(
        shop.rules.len(),
        accepted_by_each_function().len(),
        "one rule per function"
    );
    Ok(())
}
