//! Redrive's decision for one CloudWatch "Alarm State Change" event:
//!
//! | the alarm's change | configured in `REDRIVE_QUEUES` | what happens |
//! |---|---|---|
//! | ALARM → OK (the consumer recovered) | yes | its dead-letter queue is redriven, at most `REDRIVE_MAX_MESSAGES` |
//! | ALARM → OK | no | `UnknownAlarm`, not retryable: the rule and the configuration disagree |
//! | anything else (→ ALARM, → INSUFFICIENT_DATA, INSUFFICIENT_DATA → OK) | — | nothing: not a recovery |
//! | not an alarm state change at all | — | `NotAnAlarmEvent`, not retryable |

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::RedriveError;

/// The event's `source`.
pub const SOURCE: &str = "aws.cloudwatch";
/// The event's `detail-type`.
pub const DETAIL_TYPE: &str = "CloudWatch Alarm State Change";

/// A CloudWatch alarm state change, as EventBridge delivers it (the parts redrive reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AlarmStateChange {
    /// EventBridge's `id`.
    pub id: String,
    /// Always [`SOURCE`].
    pub source: String,
    /// Always [`DETAIL_TYPE`].
    pub detail_type: String,
    /// The alarm and its states.
    pub detail: AlarmDetail,
}

/// `detail` of an alarm state change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmDetail {
    /// The alarm's name.
    pub alarm_name: String,
    /// The state it is in now.
    pub state: AlarmState,
    /// The state it left.
    pub previous_state: AlarmState,
}

/// One state of an alarm.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AlarmState {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub value: AlarmValue,
    /// CloudWatch's explanation.
    #[serde(default)]
    pub reason: String,
}

/// An alarm's state value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmValue {
    /// Within its threshold.
    Ok,
    /// Breaching.
    Alarm,
    /// Not enough data to tell.
    InsufficientData,
}

/// What to do about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Redrive `queue`: `alarm` recovered.
    Redrive {
        /// The alarm.
        alarm: String,
        /// Its dead-letter queue's URL.
        queue: String,
    },
    /// Nothing to do.
    Ignore {
        /// The alarm.
        alarm: String,
        /// Why not.
        reason: String,
    },
}

/// What redrive answers for an invocation (and logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaction {
    /// The alarm.
    pub alarm: String,
    /// `redriven` or `ignored`.
    pub action: &'static str,
    /// The queue redriven.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Why nothing was done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Messages received from the queue.
    pub received: usize,
    /// Events the bus accepted again.
    pub redriven: usize,
    /// Messages left in the queue (not accepted, unreadable, or no bus).
    pub left: usize,
}

/// Reads an invocation's payload as an alarm state change.
///
/// # Errors
/// [`RedriveError::NotAnAlarmEvent`] naming the event's `id` and what is wrong.
pub fn parse(payload: serde_json::Value) -> Result<AlarmStateChange, RedriveError> {
    #[derive(Deserialize)]
    struct Id {
        #[serde(default)]
        id: Option<String>,
    }
    let id = serde_json::from_value::<Id>(payload.clone())
        .ok()
        .and_then(|i| i.id)
        .unwrap_or_else(|| "<unreadable>".to_owned());
    let event: AlarmStateChange = serde_json::from_value(payload).map_err(|e| RedriveError::NotAnAlarmEvent {
        id: id.clone(),
        reason: e.to_string(),
    })?;
    if event.source != SOURCE || event.detail_type != DETAIL_TYPE {
        return Err(RedriveError::NotAnAlarmEvent {
            id,
            reason: format!("it is {}/{}", event.source, event.detail_type),
        });
    }
    Ok(event)
}

/// Decides what to do about `event`.
///
/// # Errors
/// [`RedriveError::UnknownAlarm`] when a recovered alarm watches no configured queue.
pub fn decide(config: &Config, event: &AlarmStateChange) -> Result<Decision, RedriveError> {
    let alarm = event.detail.alarm_name.clone();
    let (from, to) = (event.detail.previous_state.value, event.detail.state.value);
    if (from, to) != (AlarmValue::Alarm, AlarmValue::Ok) {
        return Ok(Decision::Ignore {
            alarm,
            reason: format!("{from:?} → {to:?} is not a recovery"),
        });
    }
    match config.queues.get(&alarm) {
        Some(queue) => Ok(Decision::Redrive {
            alarm,
            queue: queue.clone(),
        }),
        None => Err(RedriveError::UnknownAlarm {
            id: event.id.clone(),
            alarm,
            known: config.queues.keys().cloned().collect::<Vec<_>>().join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config() -> Config {
        Config {
            queues: BTreeMap::from([("shop-inventory-errors".to_owned(), "https://q/inventory".to_owned())]),
            bus_name: "shop-dev".into(),
            max_messages: 10,
            max_attempts: 3,
        }
    }

    fn event(alarm: &str, from: &str, to: &str) -> serde_json::Value {
        serde_json::json!({
            "version": "0", "id": "e-1", "detail-type": DETAIL_TYPE, "source": SOURCE,
            "account": "123456789012", "time": "2026-11-23T05:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"alarmName": alarm, "state": {"value": to, "reason": "r"}, "previousState": {"value": from}}
        })
    }

    #[test]
    fn a_recovered_alarm_redrives_its_queue() -> Result<(), RedriveError> {
        let event = parse(event("shop-inventory-errors", "ALARM", "OK"))?;
        assert_eq!(
            decide(&config(), &event)?,
            Decision::Redrive {
                alarm: "shop-inventory-errors".into(),
                queue: "https://q/inventory".into()
            }
        );
        Ok(())
    }

    #[test]
    fn an_alarm_going_off_or_unsure_is_not_a_recovery() -> Result<(), RedriveError> {
        for (from, to) in [
            ("OK", "ALARM"),
            ("ALARM", "INSUFFICIENT_DATA"),
            ("INSUFFICIENT_DATA", "OK"),
        ] {
            let event = parse(event("shop-inventory-errors", from, to))?;
            assert!(
                matches!(decide(&config(), &event)?, Decision::Ignore { .. }),
                "{from} → {to}"
            );
        }
        Ok(())
    }

    #[test]
    fn an_unconfigured_alarm_is_refused_for_good_naming_the_event_and_the_alarm() -> Result<(), RedriveError> {
        let event = parse(event("shop-billing-errors", "ALARM", "OK"))?;
        let error = decide(&config(), &event).err().ok_or(RedriveError::NotAnAlarmEvent {
            id: "test".into(),
            reason: "expected an error".into(),
        })?;
        assert!(!herald::Classify::is_retryable(&error));
        assert_eq!(
            error.to_string(),
            "event e-1: alarm `shop-billing-errors` watches no configured queue (REDRIVE_QUEUES names shop-inventory-errors)"
        );
        Ok(())
    }

    #[test]
    fn something_else_than_an_alarm_event_is_refused_naming_its_id() {
        let mut other = event("x", "ALARM", "OK");
        other["source"] = serde_json::json!("shop.orders");
        let error = parse(other).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            error,
            "event e-1: not a CloudWatch Alarm State Change event: it is shop.orders/CloudWatch Alarm State Change"
        );
        let error = parse(serde_json::json!({"id": "e-2", "detail": 1}))
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.starts_with("event e-2: not a CloudWatch Alarm State Change event: ")));
    }
}
