//! Archive replays to chosen rules: a new consumer catches up, a fixed one runs again.
//!
//! A replay sends an archive's events received between two times back to the archive's bus, and
//! with `Destination.FilterArns` only to the rules named, so consumers that already handled the
//! events see nothing. The work is split so that a caller can show and confirm each step:
//!
//! 1. [`Replayer::plan`] resolves the request (the archive's bus, each rule's ARN on that bus,
//!    the replay's name) and changes nothing: it is the dry run, and refuses an unknown rule
//!    before any replay exists;
//! 2. [`Replayer::start`] starts the replay (`StartReplay`);
//! 3. [`Replayer::follow`] polls `DescribeReplay` until the replay completed, failed or was
//!    cancelled, reporting progress, and cancels it (`CancelReplay`) when the caller's future
//!    resolves: the caller decides what cancels (Ctrl-C, a deadline).
//!
//! Replayed events keep their `id` in `metadata.event_id` and carry `replay-name`: consumers
//! re-run only events whose idempotency record is FAILED, unless the name starts with
//! [`REPROCESS_PREFIX`], which makes them run completed events again, once per replay (see
//! [`herald::consumer`]).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::primitives::DateTime as AwsTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
use chrono::{DateTime, SecondsFormat, Utc};
use herald::envelope::REPROCESS_PREFIX;

use crate::OpsError;

/// The longest replay name EventBridge accepts.
pub const MAX_NAME_LEN: usize = 64;

/// What to replay, as the operator asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    /// The archive: its ARN (`arn:aws:events:REGION:ACCOUNT:archive/NAME`) or its name.
    pub archive: String,
    /// Replay the events the archive received at or after this time…
    pub from: DateTime<Utc>,
    /// …and at or before this one.
    pub to: DateTime<Utc>,
    /// Names of rules on the archive's bus that receive the events; empty means every rule of
    /// the bus, consumers that already handled the events included.
    pub rules: Vec<String>,
    /// The replay's name; `herald-<UTC yyyyMMddTHHmmss>` when absent.
    pub name: Option<String>,
    /// Make consumers run completed events again (the name gets [`REPROCESS_PREFIX`]).
    pub reprocess: bool,
}

/// A rule the replay sends to, resolved on the archive's bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRule {
    /// The rule's name.
    pub name: String,
    /// The rule's ARN, as passed in `Destination.FilterArns`.
    pub arn: String,
}

/// A resolved replay: everything [`Replayer::start`] sends, and what a dry run shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayPlan {
    /// The replay's name, reprocess prefix included.
    pub name: String,
    /// The archive's ARN (`EventSourceArn`).
    pub archive_arn: String,
    /// The bus the archive records, where the events go back to (`Destination.Arn`).
    pub bus_arn: String,
    /// Start of the window (`EventStartTime`).
    pub from: DateTime<Utc>,
    /// End of the window (`EventEndTime`).
    pub to: DateTime<Utc>,
    /// The rules that receive the events; empty means every rule of the bus.
    pub rules: Vec<PlannedRule>,
    /// Whether consumers run completed events again.
    pub reprocess: bool,
    /// Events in the whole archive, not only the window (`DescribeArchive`'s `EventCount`).
    pub archive_events: i64,
    /// Bytes in the whole archive (`SizeBytes`).
    pub archive_bytes: i64,
}

impl fmt::Display for ReplayPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "replay   {}", self.name)?;
        writeln!(
            f,
            "archive  {} ({} events, {} bytes in all)",
            self.archive_arn, self.archive_events, self.archive_bytes
        )?;
        writeln!(f, "bus      {}", self.bus_arn)?;
        writeln!(f, "window   {} .. {}", rfc3339(self.from), rfc3339(self.to))?;
        if self.rules.is_empty() {
            writeln!(f, "rules    every rule of the bus")?;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let label = if i == 0 { "rules" } else { "" };
            writeln!(f, "{label:<8} {} {}", rule.name, rule.arn)?;
        }
        if self.reprocess {
            write!(f, "consumers run every event again, completed ones included")
        } else {
            write!(f, "consumers run again only events whose record is FAILED")
        }
    }
}

/// Where a replay is, from `DescribeReplay`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayStatus {
    /// The replay's name.
    pub name: String,
    /// STARTING, RUNNING, CANCELLING, COMPLETED, CANCELLED or FAILED.
    pub state: ReplayState,
    /// How far through the window the replay is, from 0 to 1: (last replayed − from) / (to − from).
    pub fraction: f64,
    /// The receive time of the last event replayed so far.
    pub last_replayed: Option<DateTime<Utc>>,
    /// Why the replay is in its state (`StateReason`), mostly set when it FAILED.
    pub reason: Option<String>,
}

impl ReplayStatus {
    /// True once the replay can no longer change: COMPLETED, FAILED or CANCELLED.
    pub fn is_final(&self) -> bool {
        matches!(
            self.state,
            ReplayState::Completed | ReplayState::Failed | ReplayState::Cancelled
        )
    }
}

impl fmt::Display for ReplayStatus {
    /// One line, e.g. `replay NAME: RUNNING, replayed up to 2026-11-23T10:00:00Z (42%)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay {}: {}", self.name, self.state.as_str())?;
        if let Some(last) = self.last_replayed {
            write!(
                f,
                ", replayed up to {}",
                last.to_rfc3339_opts(SecondsFormat::Secs, true)
            )?;
        }
        // Floor: 100% only once everything was replayed.
        write!(f, " ({:.0}%)", (self.fraction * 100.0).floor())?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

/// Plans, starts, follows and cancels archive replays with one EventBridge client.
#[derive(Debug, Clone)]
pub struct Replayer {
    events: aws_sdk_eventbridge::Client,
}

impl Replayer {
    /// A replayer using `events`, built once by the caller.
    pub fn new(events: aws_sdk_eventbridge::Client) -> Self {
        Self { events }
    }

    /// Resolves `request` without changing anything: the archive's bus and counts, each rule's
    /// ARN on that bus, and the replay's final name.
    ///
    /// # Errors
    /// An empty window, an invalid name, an unknown archive, a rule that is not on the archive's
    /// bus ([`OpsError::UnknownRule`]), or a failed AWS call.
    pub async fn plan(&self, request: &ReplayRequest) -> Result<ReplayPlan, OpsError> {
        let (from, to) = (millis(request.from), millis(request.to));
        if from >= to {
            return Err(OpsError::EmptyReplayWindow {
                from: rfc3339(from),
                to: rfc3339(to),
            });
        }
        let name = replay_name(request.name.as_deref(), request.reprocess, Utc::now())?;
        let archive_name = archive_name(&request.archive)?;
        let archive = self
            .events
            .describe_archive()
            .archive_name(archive_name)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_resource_not_found_exception() => OpsError::UnknownArchive {
                    archive: request.archive.clone(),
                },
                _ => OpsError::aws("DescribeArchive", archive_name, e),
            })?;
        let archive_arn = required("DescribeArchive", archive_name, "ArchiveArn", archive.archive_arn())?;
        if request.archive.starts_with("arn:") && request.archive != archive_arn {
            return Err(OpsError::ArchiveElsewhere {
                requested: request.archive.clone(),
                found: archive_arn,
            });
        }
        let bus_arn = required(
            "DescribeArchive",
            archive_name,
            "EventSourceArn",
            archive.event_source_arn(),
        )?;
        let mut rules: Vec<PlannedRule> = Vec::with_capacity(request.rules.len());
        for rule in &request.rules {
            if rules.iter().any(|r| &r.name == rule) {
                continue;
            }
            let arn = self.rule_arn(rule, &bus_arn).await?;
            rules.push(PlannedRule {
                name: rule.clone(),
                arn,
            });
        }
        Ok(ReplayPlan {
            name,
            archive_arn,
            bus_arn,
            from,
            to,
            rules,
            reprocess: request.reprocess,
            archive_events: archive.event_count(),
            archive_bytes: archive.size_bytes(),
        })
    }

    async fn rule_arn(&self, rule: &str, bus_arn: &str) -> Result<String, OpsError> {
        let described = self
            .events
            .describe_rule()
            .name(rule)
            .event_bus_name(bus_arn)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_resource_not_found_exception() => OpsError::UnknownRule {
                    rule: rule.to_owned(),
                    bus: bus_arn.to_owned(),
                },
                _ => OpsError::aws("DescribeRule", rule, e),
            })?;
        required("DescribeRule", rule, "Arn", described.arn())
    }

    /// Starts the replay `plan` describes; it then runs in the background.
    ///
    /// # Errors
    /// [`OpsError::ReplayExists`] when the name is taken, or a failed AWS call.
    pub async fn start(&self, plan: &ReplayPlan) -> Result<(), OpsError> {
        let destination = ReplayDestination::builder()
            .arn(&plan.bus_arn)
            .set_filter_arns((!plan.rules.is_empty()).then(|| plan.rules.iter().map(|r| r.arn.clone()).collect()))
            .build()
            .map_err(|e| OpsError::Aws {
                operation: "StartReplay",
                target: plan.name.clone(),
                message: DisplayErrorContext(e).to_string(),
                retryable: false,
            })?;
        self.events
            .start_replay()
            .replay_name(&plan.name)
            .event_source_arn(&plan.archive_arn)
            .event_start_time(aws_time(plan.from))
            .event_end_time(aws_time(plan.to))
            .destination(destination)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_resource_already_exists_exception() => OpsError::ReplayExists {
                    name: plan.name.clone(),
                },
                _ => OpsError::aws("StartReplay", &plan.name, e),
            })?;
        tracing::debug!(replay_name = %plan.name, archive = %plan.archive_arn, rules = plan.rules.len(), "replay started");
        Ok(())
    }

    /// Where the replay `name` is now.
    ///
    /// # Errors
    /// [`OpsError::UnknownReplay`], or a failed AWS call.
    pub async fn status(&self, name: &str) -> Result<ReplayStatus, OpsError> {
        let described = self
            .events
            .describe_replay()
            .replay_name(name)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_resource_not_found_exception() => {
                    OpsError::UnknownReplay { name: name.to_owned() }
                }
                _ => OpsError::aws("DescribeReplay", name, e),
            })?;
        let state = described
            .state()
            .cloned()
            .ok_or_else(|| missing("DescribeReplay", name, "State"))?;
        let last_replayed = described.event_last_replayed_time().and_then(chrono_time);
        let window = described
            .event_start_time()
            .and_then(chrono_time)
            .zip(described.event_end_time().and_then(chrono_time));
        let fraction = match (&state, window, last_replayed) {
            (ReplayState::Completed, _, _) => 1.0,
            (_, Some((from, to)), Some(last)) if to > from => {
                ((last - from).as_seconds_f64() / (to - from).as_seconds_f64()).clamp(0.0, 1.0)
            }
            _ => 0.0,
        };
        Ok(ReplayStatus {
            name: name.to_owned(),
            state,
            fraction,
            last_replayed,
            reason: described.state_reason().filter(|r| !r.is_empty()).map(str::to_owned),
        })
    }

    /// Asks EventBridge to cancel the replay `name`; it then goes through CANCELLING to
    /// CANCELLED. A replay that already finished is left as it is.
    ///
    /// # Errors
    /// [`OpsError::UnknownReplay`], or a failed AWS call.
    pub async fn cancel(&self, name: &str) -> Result<(), OpsError> {
        match self.events.cancel_replay().replay_name(name).send().await {
            Ok(_) => {
                tracing::debug!(replay_name = %name, "replay cancel requested");
                Ok(())
            }
            // Finished between the caller's decision and this call: its final state tells.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_illegal_status_exception()) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Err(OpsError::UnknownReplay { name: name.to_owned() })
            }
            Err(e) => Err(OpsError::aws("CancelReplay", name, e)),
        }
    }

    /// Polls the replay `name` every `poll_interval`, calling `on_progress` with each status,
    /// until it is COMPLETED, FAILED or CANCELLED. When `cancel` resolves first, cancels the
    /// replay and keeps following it to its end.
    ///
    /// # Errors
    /// [`OpsError::ReplayFailed`] with EventBridge's reason, [`OpsError::ReplayCancelled`], or a
    /// failed AWS call (the replay then goes on without being followed).
    pub async fn follow(
        &self,
        name: &str,
        poll_interval: Duration,
        mut on_progress: impl FnMut(&ReplayStatus),
        cancel: impl Future<Output = ()>,
    ) -> Result<ReplayStatus, OpsError> {
        tokio::pin!(cancel);
        let mut cancel_requested = false;
        loop {
            let status = self.status(name).await?;
            on_progress(&status);
            match status.state {
                ReplayState::Completed => return Ok(status),
                ReplayState::Failed => {
                    return Err(OpsError::ReplayFailed {
                        name: name.to_owned(),
                        reason: status.reason.unwrap_or_else(|| "no reason given".to_owned()),
                    });
                }
                ReplayState::Cancelled => {
                    return Err(OpsError::ReplayCancelled {
                        name: name.to_owned(),
                        replayed_up_to: status.last_replayed.map_or_else(|| "none".to_owned(), rfc3339),
                    });
                }
                _ => {}
            }
            if cancel_requested {
                tokio::time::sleep(poll_interval).await;
                continue;
            }
            tokio::select! {
                () = &mut cancel => {
                    cancel_requested = true;
                    self.cancel(name).await?;
                }
                () = tokio::time::sleep(poll_interval) => {}
            }
        }
    }
}

/// The replay's name: the one given or `herald-<UTC yyyyMMddTHHmmss>` at `now`, with
/// [`REPROCESS_PREFIX`] when reprocessing, checked against EventBridge's rules.
fn replay_name(given: Option<&str>, reprocess: bool, now: DateTime<Utc>) -> Result<String, OpsError> {
    let base = given.map_or_else(|| format!("herald-{}", now.format("%Y%m%dT%H%M%S")), str::to_owned);
    let name = match (reprocess, base.starts_with(REPROCESS_PREFIX)) {
        (true, false) => format!("{REPROCESS_PREFIX}{base}"),
        (false, true) => {
            return Err(OpsError::InvalidReplayName {
                name: base,
                reason: format!(
                    "a name starting with `{REPROCESS_PREFIX}` makes consumers run completed events again: \
                     ask for a reprocess instead"
                ),
            });
        }
        _ => base,
    };
    let reason = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.len() > MAX_NAME_LEN {
        Some(format!(
            "it has {} characters, at most {MAX_NAME_LEN} are allowed",
            name.len()
        ))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .map(|c| format!("`{c}` is not allowed: only letters, digits, `.`, `-` and `_`"))
    };
    match reason {
        Some(reason) => Err(OpsError::InvalidReplayName { name, reason }),
        None => Ok(name),
    }
}

/// The archive's name, from its ARN (`…:archive/NAME`) or as given.
fn archive_name(archive: &str) -> Result<&str, OpsError> {
    let name = if archive.starts_with("arn:") {
        archive.split_once(":archive/").map_or("", |(_, name)| name)
    } else {
        archive
    };
    if name.is_empty() || name.contains('/') {
        return Err(OpsError::UnknownArchive {
            archive: archive.to_owned(),
        });
    }
    Ok(name)
}

fn required(
    operation: &'static str,
    target: &str,
    field: &'static str,
    value: Option<&str>,
) -> Result<String, OpsError> {
    value
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| missing(operation, target, field))
}

fn missing(operation: &'static str, target: &str, field: &'static str) -> OpsError {
    OpsError::Aws {
        operation,
        target: target.to_owned(),
        message: format!("the response has no {field}"),
        retryable: false,
    }
}

fn aws_time(time: DateTime<Utc>) -> AwsTime {
    AwsTime::from_millis(time.timestamp_millis())
}

/// `time` as EventBridge keeps it: to the millisecond.
fn millis(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time)
}

fn chrono_time(time: &AwsTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).map_or_else(|e| panic!("{text}: {e}"), |t| t.with_timezone(&Utc))
    }

    #[test]
    fn a_replay_without_a_name_is_named_after_the_utc_time() {
        let name = replay_name(None, false, at("2026-11-23T05:41:07Z"));

        assert_eq!(name.ok().as_deref(), Some("herald-20261123T054107"));
    }

    #[test]
    fn a_reprocess_prefixes_the_name_once() {
        let now = at("2026-11-23T05:41:07Z");

        assert_eq!(
            replay_name(None, true, now).ok().as_deref(),
            Some("reprocess-herald-20261123T054107")
        );
        assert_eq!(
            replay_name(Some("fix-42"), true, now).ok().as_deref(),
            Some("reprocess-fix-42")
        );
        assert_eq!(
            replay_name(Some("reprocess-fix-42"), true, now).ok().as_deref(),
            Some("reprocess-fix-42")
        );
    }

    #[test]
    fn a_reprocess_name_without_asking_for_a_reprocess_is_refused() {
        let refused = replay_name(Some("reprocess-oops"), false, Utc::now());

        assert!(
            matches!(refused, Err(OpsError::InvalidReplayName { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn names_eventbridge_would_refuse_are_refused_with_the_reason() {
        let now = Utc::now();
        let long = "a".repeat(MAX_NAME_LEN + 1);
        let longest = "a".repeat(MAX_NAME_LEN);
        // The prefix counts: 60 characters are too many once `reprocess-` is added.
        let prefixed = "b".repeat(60);

        for (name, reprocess) in [
            ("", false),
            (long.as_str(), false),
            ("a b", false),
            ("é", false),
            (prefixed.as_str(), true),
        ] {
            let refused = replay_name(Some(name), reprocess, now);
            assert!(
                matches!(refused, Err(OpsError::InvalidReplayName { .. })),
                "{name}: {refused:?}"
            );
        }
        assert_eq!(replay_name(Some(&longest), false, now).ok(), Some(longest));
        assert!(replay_name(Some("ok.Name_1-2"), false, now).is_ok());
    }

    #[test]
    fn an_archive_is_named_by_its_arn_or_its_name() {
        assert_eq!(
            archive_name("arn:aws:events:us-east-1:123456789012:archive/orders").ok(),
            Some("orders")
        );
        assert_eq!(archive_name("orders").ok(), Some("orders"));
        assert!(archive_name("arn:aws:events:us-east-1:123456789012:rule/orders").is_err());
        assert!(archive_name("").is_err());
    }

    #[test]
    fn a_status_line_says_state_progress_and_reason() {
        let mut status = ReplayStatus {
            name: "r1".to_owned(),
            state: ReplayState::Running,
            fraction: 0.42,
            last_replayed: Some(at("2026-11-23T05:00:00Z")),
            reason: None,
        };

        assert_eq!(
            status.to_string(),
            "replay r1: RUNNING, replayed up to 2026-11-23T05:00:00Z (42%)"
        );
        status.state = ReplayState::Failed;
        status.reason = Some("archive is gone".to_owned());
        assert!(status.is_final());
        assert!(status.to_string().ends_with("(42%): archive is gone"), "{status}");
    }

    #[test]
    fn a_plan_shows_archive_bus_window_and_rules() {
        let plan = ReplayPlan {
            name: "r1".to_owned(),
            archive_arn: "arn:aws:events:us-east-1:1:archive/a".to_owned(),
            bus_arn: "arn:aws:events:us-east-1:1:event-bus/b".to_owned(),
            from: at("2026-11-23T04:00:00Z"),
            to: at("2026-11-23T05:00:00Z"),
            rules: vec![
                PlannedRule {
                    name: "ra".to_owned(),
                    arn: "arn:aws:events:us-east-1:1:rule/b/ra".to_owned(),
                },
                PlannedRule {
                    name: "rb".to_owned(),
                    arn: "arn:aws:events:us-east-1:1:rule/b/rb".to_owned(),
                },
            ],
            reprocess: false,
            archive_events: 7,
            archive_bytes: 900,
        };

        let text = plan.to_string();

        for expected in [
            "replay   r1",
            "archive  arn:aws:events:us-east-1:1:archive/a (7 events, 900 bytes in all)",
            "bus      arn:aws:events:us-east-1:1:event-bus/b",
            "window   2026-11-23T04:00:00.000Z .. 2026-11-23T05:00:00.000Z",
            "rules    ra arn:aws:events:us-east-1:1:rule/b/ra",
            "         rb arn:aws:events:us-east-1:1:rule/b/rb",
            "only events whose record is FAILED",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
    }
}
