//! Archive replays against moto (patched by `scripts/moto_server.py` to replay as AWS does: in
//! the background, within the time window, only to the rules in `FilterArns`): a replay reaches
//! only the chosen rule's target, an unknown rule or a dry run starts nothing, the window leaves
//! out events received outside it, and a cancelled replay stops.

use std::time::Duration;

use aws_sdk_eventbridge::types::ReplayState;
use chrono::{DateTime, TimeDelta, Utc};
use herald_ops::OpsError;
use herald_ops::replay::{ReplayPlan, ReplayRequest, Replayer};
use herald_tests::TestResult;
use herald_tests::archive::ArchivedBus;
use herald_tests::aws::unique;

const SOURCE: &str = "herald.replay-test";
const POLL: Duration = Duration::from_millis(50);

/// A request for the archive's events since `from`, to the rules named.
fn request(bus: &ArchivedBus, from: DateTime<Utc>, rules: &[&str]) -> ReplayRequest {
    ReplayRequest {
        archive: bus.archive_arn.clone(),
        from,
        to: Utc::now(),
        rules: rules.iter().map(|r| (*r).to_owned()).collect(),
        name: Some(unique("replay")),
        reprocess: false,
    }
}

fn numbers(bodies: &[serde_json::Value]) -> Vec<u64> {
    let mut numbers: Vec<u64> = bodies.iter().filter_map(|b| b["detail"]["n"].as_u64()).collect();
    numbers.sort_unstable();
    numbers
}

/// Starts `plan` and follows it to its end, never cancelling.
async fn run(replayer: &Replayer, plan: &ReplayPlan) -> TestResult {
    replayer.start(plan).await?;
    let status = replayer
        .follow(&plan.name, POLL, |_| {}, std::future::pending())
        .await?;
    assert_eq!(status.state, ReplayState::Completed);
    Ok(())
}

#[tokio::test]
async fn a_replay_to_one_rule_reaches_only_that_rules_target() -> TestResult {
    // Given a bus with an archive and two rules, whose queues received 5 events once
    let bus = ArchivedBus::create(SOURCE).await?;
    let from = Utc::now() - TimeDelta::seconds(1);
    bus.put(0..5).await?;
    assert_eq!(bus.drain(&bus.rule_a, 5).await?.len(), 5);
    assert_eq!(bus.drain(&bus.rule_b, 5).await?.len(), 5);
    let replayer = Replayer::new(bus.events.clone());

    // When the archive is replayed over the window to rule A only, followed to its end
    let plan = replayer.plan(&request(&bus, from, &[&bus.rule_a.name])).await?;
    let mut seen = Vec::new();
    replayer.start(&plan).await?;
    let status = replayer
        .follow(&plan.name, POLL, |s| seen.push(s.clone()), std::future::pending())
        .await?;

    // Then queue A receives the 5 events again, marked with the replay's name, and queue B nothing
    assert_eq!(status.state, ReplayState::Completed);
    assert!((status.fraction - 1.0).abs() < f64::EPSILON);
    assert!(seen.iter().all(|s| s.name == plan.name), "{seen:?}");
    let again = bus.drain(&bus.rule_a, 5).await?;
    assert_eq!(numbers(&again), vec![0, 1, 2, 3, 4]);
    assert!(
        again.iter().all(|b| b["replay-name"] == plan.name.as_str()),
        "{again:?}"
    );
    assert_eq!(bus.drain(&bus.rule_b, 0).await?, Vec::<serde_json::Value>::new());
    // And the replay was filtered to rule A's ARN on the archive's bus
    let described = bus.events.describe_replay().replay_name(&plan.name).send().await?;
    let destination = described.destination().ok_or("no destination")?;
    assert_eq!(destination.arn(), bus.bus_arn);
    assert_eq!(destination.filter_arns(), std::slice::from_ref(&bus.rule_a.arn));
    assert_eq!(described.event_source_arn(), Some(bus.archive_arn.as_str()));
    Ok(())
}

#[tokio::test]
async fn an_unknown_rule_is_refused_before_any_replay_starts() -> TestResult {
    // Given an archive with events
    let bus = ArchivedBus::create(SOURCE).await?;
    let from = Utc::now() - TimeDelta::seconds(1);
    bus.put(0..2).await?;
    let replayer = Replayer::new(bus.events.clone());

    // When a replay names a rule that is not on the archive's bus
    let request = request(&bus, from, &[&bus.rule_a.name, "no-such-rule"]);
    let refused = replayer.plan(&request).await;

    // Then it is refused, naming the rule and the bus, and no replay exists
    match refused {
        Err(OpsError::UnknownRule { rule, bus: bus_arn }) => {
            assert_eq!(rule, "no-such-rule");
            assert_eq!(bus_arn, bus.bus_arn);
        }
        other => return Err(format!("expected UnknownRule, got {other:?}").into()),
    }
    let name = request.name.as_deref().ok_or("request without a name")?;
    assert_eq!(bus.replays_named(name).await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_dry_run_resolves_everything_and_creates_no_replay() -> TestResult {
    // Given an archive with 3 events and two rules on its bus
    let bus = ArchivedBus::create(SOURCE).await?;
    let from = Utc::now() - TimeDelta::seconds(1);
    bus.put(0..3).await?;
    let replayer = Replayer::new(bus.events.clone());

    // When a replay to both rules is planned, but not started
    let request = ReplayRequest {
        reprocess: true,
        ..request(&bus, from, &[&bus.rule_a.name, &bus.rule_b.name])
    };
    let plan = replayer.plan(&request).await?;

    // Then the plan names the archive, its bus, both rules' ARNs and the archive's size…
    assert_eq!(plan.archive_arn, bus.archive_arn);
    assert_eq!(plan.bus_arn, bus.bus_arn);
    let rules: Vec<(&str, &str)> = plan.rules.iter().map(|r| (r.name.as_str(), r.arn.as_str())).collect();
    assert_eq!(
        rules,
        [
            (bus.rule_a.name.as_str(), bus.rule_a.arn.as_str()),
            (bus.rule_b.name.as_str(), bus.rule_b.arn.as_str())
        ]
    );
    assert_eq!(plan.archive_events, 3);
    assert!(
        plan.name.starts_with(herald::envelope::REPROCESS_PREFIX),
        "{}",
        plan.name
    );
    let text = plan.to_string();
    assert!(text.contains(&bus.rule_b.arn) && text.contains("3 events"), "{text}");
    // …and nothing was started
    assert_eq!(bus.replays_named(&plan.name).await?, 0);
    assert_eq!(
        bus.drain(&bus.rule_a, 3).await?.len(),
        3,
        "only the original deliveries"
    );
    Ok(())
}

#[tokio::test]
async fn the_time_window_leaves_out_events_received_outside_it() -> TestResult {
    // Given an archive with events 0..3, then, a while later, events 3..6
    let bus = ArchivedBus::create(SOURCE).await?;
    bus.put(0..3).await?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let between = Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    bus.put(3..6).await?;
    assert_eq!(bus.drain(&bus.rule_a, 6).await?.len(), 6);
    let replayer = Replayer::new(bus.events.clone());

    // When only the later part of the time is replayed
    let plan = replayer.plan(&request(&bus, between, &[&bus.rule_a.name])).await?;
    run(&replayer, &plan).await?;

    // Then only the later events arrive again
    assert_eq!(numbers(&bus.drain(&bus.rule_a, 3).await?), vec![3, 4, 5]);
    Ok(())
}

#[tokio::test]
async fn a_cancelled_replay_stops_and_says_so() -> TestResult {
    // Given an archive with 60 events: 3 s of replay on moto
    let bus = ArchivedBus::create(SOURCE).await?;
    let from = Utc::now() - TimeDelta::seconds(1);
    bus.put(0..60).await?;
    assert_eq!(bus.drain(&bus.rule_a, 60).await?.len(), 60);
    let replayer = Replayer::new(bus.events.clone());
    let plan = replayer.plan(&request(&bus, from, &[&bus.rule_a.name])).await?;
    replayer.start(&plan).await?;

    // When the follower is told to cancel once the replay runs
    let mut states = Vec::new();
    let ended = replayer
        .follow(
            &plan.name,
            POLL,
            |s| states.push(s.state.clone()),
            tokio::time::sleep(Duration::from_millis(700)),
        )
        .await;

    // Then it follows the replay to CANCELLED, and fewer than the 60 events were replayed
    assert!(
        matches!(&ended, Err(OpsError::ReplayCancelled { name, .. }) if name == &plan.name),
        "{ended:?}"
    );
    assert!(states.contains(&ReplayState::Running), "{states:?}");
    assert_eq!(states.last(), Some(&ReplayState::Cancelled));
    let status = replayer.status(&plan.name).await?;
    assert_eq!(status.state, ReplayState::Cancelled);
    let replayed = bus.drain(&bus.rule_a, 0).await?.len();
    assert!(replayed < 60, "{replayed} events replayed despite the cancel");
    Ok(())
}
