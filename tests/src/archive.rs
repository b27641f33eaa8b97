//! An EventBridge bus with an archive and two rules, each sending to its own SQS queue, for
//! the replay tests: put numbered events, drain what a rule's queue received, count replays.

use std::time::Duration;

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Target};

use crate::TestResult;
use crate::aws::{drain_queue, queue_arn, sdk_config, unique};

/// A bus with an archive, and two rules matching the same events, each with its own queue.
pub struct ArchivedBus {
    /// The `source` of the events [`ArchivedBus::put`] puts, which both rules match.
    pub source: String,
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// The bus.
    pub bus_name: String,
    /// Its ARN.
    pub bus_arn: String,
    /// The archive of every event on the bus.
    pub archive_arn: String,
    /// One rule.
    pub rule_a: Rule,
    /// Another, matching the same events.
    pub rule_b: Rule,
}

/// A rule of the bus and the queue it sends to.
pub struct Rule {
    /// The rule's name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Its target queue.
    pub queue_url: String,
}

impl ArchivedBus {
    /// A fresh bus, archive and two rules matching `source`.
    ///
    /// # Errors
    /// When moto refuses.
    pub async fn create(source: &str) -> TestResult<Self> {
        let config = sdk_config().await;
        let events = aws_sdk_eventbridge::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let bus_name = unique("replay-bus");
        let bus_arn = events
            .create_event_bus()
            .name(&bus_name)
            .send()
            .await?
            .event_bus_arn()
            .ok_or("CreateEventBus returned no ARN")?
            .to_owned();
        let archive_arn = events
            .create_archive()
            .archive_name(unique("replay-archive"))
            .event_source_arn(&bus_arn)
            .send()
            .await?
            .archive_arn()
            .ok_or("CreateArchive returned no ARN")?
            .to_owned();
        let rule_a = Rule::create(&events, &sqs, &bus_name, source).await?;
        let rule_b = Rule::create(&events, &sqs, &bus_name, source).await?;
        Ok(Self {
            source: source.to_owned(),
            events,
            sqs,
            bus_name,
            bus_arn,
            archive_arn,
            rule_a,
            rule_b,
        })
    }

    /// Puts events `numbers` (as `detail.n`) on the bus; the archive records them.
    ///
    /// # Errors
    /// When PutEvents fails.
    pub async fn put(&self, numbers: std::ops::Range<u32>) -> TestResult {
        let entries = numbers
            .map(|n| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(&self.source)
                    .detail_type("ReplayTested")
                    .detail(serde_json::json!({ "n": n }).to_string())
                    .build()
            })
            .collect::<Vec<_>>();
        for batch in entries.chunks(10) {
            let output = self
                .events
                .put_events()
                .set_entries(Some(batch.to_vec()))
                .send()
                .await?;
            if output.failed_entry_count() != 0 {
                return Err(format!("PutEvents failed: {:?}", output.entries()).into());
            }
        }
        Ok(())
    }

    /// What `rule`'s queue received, waiting for `expected` messages (10 s at most).
    ///
    /// # Errors
    /// When SQS fails.
    pub async fn drain(&self, rule: &Rule, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        drain_queue(&self.sqs, &rule.queue_url, expected, Duration::from_secs(10)).await
    }

    /// How many replays have exactly this name.
    ///
    /// # Errors
    /// When EventBridge fails.
    pub async fn replays_named(&self, name: &str) -> TestResult<usize> {
        let listed = self.events.list_replays().name_prefix(name).send().await?;
        Ok(listed
            .replays()
            .iter()
            .filter(|r| r.replay_name() == Some(name))
            .count())
    }
}

impl Rule {
    async fn create(
        events: &aws_sdk_eventbridge::Client,
        sqs: &aws_sdk_sqs::Client,
        bus_name: &str,
        source: &str,
    ) -> TestResult<Self> {
        let queue_url = sqs
            .create_queue()
            .queue_name(unique("replay-queue"))
            .send()
            .await?
            .queue_url()
            .ok_or("CreateQueue returned no URL")?
            .to_owned();
        let name = unique("replay-rule");
        let arn = events
            .put_rule()
            .name(&name)
            .event_bus_name(bus_name)
            .event_pattern(serde_json::json!({ "source": [source] }).to_string())
            .send()
            .await?
            .rule_arn()
            .ok_or("PutRule returned no ARN")?
            .to_owned();
        events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus_name)
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(queue_arn(sqs, &queue_url).await?)
                    .build()?,
            )
            .send()
            .await?;
        Ok(Self { name, arn, queue_url })
    }
}
