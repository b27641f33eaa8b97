//! The original event inside a dead letter, and how it goes back on the bus.
//!
//! A [`BusEvent`] holds what PutEvents needs again: source, detail-type, time, resources and
//! the detail. A Herald detail (one whose `metadata.event_id` is a UUID) keeps that
//! `event_id` and gets `metadata.redrive` set to this run's [`RedriveMark`], replacing the mark
//! of an older redrive, whose `attempt` is all that is read of it ([`BusEvent::attempts`]);
//! every other field, known to Herald or not, is sent as it came. Any other detail is sent
//! unchanged.

use chrono::{DateTime, Utc};
use herald::Outgoing;
use herald::envelope::RedriveMark;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// An EventBridge event as a target receives it: the fields PutEvents takes back.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BusEvent {
    /// EventBridge's id of the failed delivery; names events without Herald metadata.
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    time: DateTime<Utc>,
    #[serde(default)]
    resources: Vec<String>,
    detail: Detail,
}

/// A detail, Herald's or anyone's.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Detail {
    /// `{ "metadata": { "event_id": <uuid>, … }, … }`; of the old mark, only its count is read.
    Herald(HeraldDetail<PriorMark>),
    /// Anything else: sent back as the same JSON value.
    Other(Value),
}

/// An older redrive's mark, read only for how many times the event was redriven.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PriorMark {
    /// A mark object; one from before the count was kept counts as the first redrive.
    Counted {
        #[serde(default = "first")]
        attempt: u32,
    },
    /// Anything else under `redrive`: a redrive all the same.
    Other(IgnoredAny),
}

fn first() -> u32 {
    1
}

/// A Herald detail with its `metadata.redrive` typed as `M` and everything else kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(bound(deserialize = "M: Deserialize<'de>", serialize = "M: Serialize"))]
struct HeraldDetail<M> {
    metadata: HeraldMetadata<M>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(bound(deserialize = "M: Deserialize<'de>", serialize = "M: Serialize"))]
struct HeraldMetadata<M> {
    event_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redrive: Option<M>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl BusEvent {
    /// Herald's `metadata.event_id`, when the detail is Herald's.
    pub fn event_id(&self) -> Option<Uuid> {
        match &self.detail {
            Detail::Herald(detail) => Some(detail.metadata.event_id),
            Detail::Other(_) => None,
        }
    }

    /// What names the message's event in this run, so that two dead letters of one event are
    /// sent once: for a Herald detail, its `event_id` and the digest of its `data` (a second
    /// message with the same id and other data is another message, sent too: the consumer's
    /// guard refuses it as a payload mismatch, for a person to see, instead of the redrive
    /// deleting it unsent); for other events, EventBridge's id (or the detail).
    pub fn key(&self) -> Uuid {
        let name = match (&self.detail, &self.id) {
            (Detail::Herald(detail), _) => {
                let data = detail.rest.get("data").unwrap_or(&Value::Null);
                format!("{}#{}", detail.metadata.event_id, herald::envelope::digest(data))
            }
            (detail, None) => format!("{}#{}#{detail:?}", self.source, self.detail_type),
            (Detail::Other(_), Some(id)) => format!("{}#{}#{id}", self.source, self.detail_type),
        };
        Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())
    }

    /// How many times a redrive sent this event before: its mark's `attempt`, 0 when it was
    /// never redriven (or its detail is not Herald's, which carries no mark).
    pub fn attempts(&self) -> u32 {
        match &self.detail {
            Detail::Herald(HeraldDetail {
                metadata: HeraldMetadata {
                    redrive: Some(prior), ..
                },
                ..
            }) => match prior {
                PriorMark::Counted { attempt } => *attempt,
                PriorMark::Other(_) => 1,
            },
            _ => 0,
        }
    }

    /// The event's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The event's detail-type.
    pub fn detail_type(&self) -> &str {
        &self.detail_type
    }

    /// The entry to send: a Herald detail carries `mark`, any other is unchanged.
    ///
    /// # Errors
    /// When the detail cannot be serialized again.
    pub fn into_outgoing(self, mark: &RedriveMark) -> Result<Outgoing, serde_json::Error> {
        let key = self.key();
        let detail = self.detail.into_json(mark)?;
        Ok(Outgoing::from_parts(
            key,
            self.source,
            self.detail_type,
            detail,
            self.resources,
            self.time,
        ))
    }
}

impl Detail {
    /// The detail to send, as JSON: a Herald detail carries `mark`, any other is unchanged.
    fn into_json(self, mark: &RedriveMark) -> Result<String, serde_json::Error> {
        match self {
            Self::Herald(detail) => serde_json::to_string(&HeraldDetail {
                metadata: HeraldMetadata {
                    event_id: detail.metadata.event_id,
                    redrive: Some(mark),
                    rest: detail.metadata.rest,
                },
                rest: detail.rest,
            }),
            Self::Other(value) => serde_json::to_string(&value),
        }
    }
}

/// A new run's name: `redrive-<UTC yyyyMMddTHHmmssZ>-<4 hex>`.
pub(crate) fn run_name(now: DateTime<Utc>) -> String {
    let random = Uuid::new_v4().simple().to_string();
    format!("redrive-{}-{}", now.format("%Y%m%dT%H%M%SZ"), &random[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> RedriveMark {
        RedriveMark {
            run: "redrive-20261123T053000Z-3f2a".into(),
            queue: "inventory-dlq".into(),
            reprocess: true,
            attempt: 2,
            target: Some("shop-inventory".into()),
        }
    }

    fn sent_detail(event: serde_json::Value) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let json = serde_json::from_value::<BusEvent>(event)?.detail.into_json(&mark())?;
        Ok(serde_json::from_str(&json)?)
    }

    #[test]
    fn a_herald_detail_keeps_every_field_and_its_event_id_and_gets_the_runs_mark()
    -> Result<(), Box<dyn std::error::Error>> {
        let event_id = Uuid::new_v4();
        let detail = sent_detail(serde_json::json!({
            "version": "0", "id": "eb-1", "detail-type": "OrderCancelled", "source": "shop.orders",
            "time": "2026-11-23T05:29:00Z", "region": "us-east-1", "resources": [],
            "detail": {
                "metadata": {
                    "event_id": event_id, "schema_version": 1, "correlation_id": event_id,
                    "occurred_at": "2026-11-23T05:29:00Z", "producer": "order-service",
                    "future_field": [1, 2],
                    "redrive": {"run": "redrive-old", "queue": "old"}
                },
                "data": {"order_id": "ord-1", "amount": 19.99},
                "extra": true
            }
        }))?;

        assert_eq!(detail["metadata"]["event_id"], serde_json::json!(event_id));
        assert_eq!(detail["metadata"]["future_field"], serde_json::json!([1, 2]));
        assert_eq!(
            detail["metadata"]["redrive"],
            serde_json::json!({
                "run": "redrive-20261123T053000Z-3f2a", "queue": "inventory-dlq", "reprocess": true,
                "attempt": 2, "target": "shop-inventory"
            })
        );
        assert_eq!(
            detail["data"],
            serde_json::json!({"order_id": "ord-1", "amount": 19.99})
        );
        assert_eq!(detail["extra"], serde_json::json!(true));
        Ok(())
    }

    #[test]
    fn an_event_counts_the_redrives_its_mark_records_and_an_uncounted_mark_counts_as_one()
    -> Result<(), Box<dyn std::error::Error>> {
        let event = |redrive: Option<serde_json::Value>| -> Result<BusEvent, serde_json::Error> {
            let mut metadata = serde_json::json!({"event_id": Uuid::new_v4(), "schema_version": 1});
            if let Some(redrive) = redrive {
                metadata["redrive"] = redrive;
            }
            serde_json::from_value(serde_json::json!({
                "id": "eb-3", "detail-type": "OrderCancelled", "source": "shop.orders",
                "time": "2026-11-23T05:29:00Z", "detail": {"metadata": metadata, "data": {}}
            }))
        };
        assert_eq!(event(None)?.attempts(), 0);
        assert_eq!(
            event(Some(serde_json::json!({"run": "r", "queue": "q"})))?.attempts(),
            1
        );
        assert_eq!(
            event(Some(serde_json::json!({"run": "r", "queue": "q", "attempt": 3})))?.attempts(),
            3
        );
        assert_eq!(event(Some(serde_json::json!("odd")))?.attempts(), 1);
        Ok(())
    }

    #[test]
    fn a_detail_without_herald_metadata_is_sent_unchanged() -> Result<(), Box<dyn std::error::Error>> {
        let original = serde_json::json!({"metadata": {"event_id": "not-a-uuid"}, "data": 1});
        let detail = sent_detail(serde_json::json!({
            "version": "0", "id": "eb-2", "detail-type": "Thing", "source": "other",
            "time": "2026-11-23T05:29:00Z", "region": "us-east-1", "detail": original
        }))?;

        assert_eq!(detail, original);
        Ok(())
    }

    #[test]
    fn a_run_is_named_by_its_utc_start_and_four_hex_digits() -> Result<(), Box<dyn std::error::Error>> {
        let now = DateTime::parse_from_rfc3339("2026-11-23T05:30:00Z")?.with_timezone(&Utc);

        let name = run_name(now);

        let suffix = name.strip_prefix("redrive-20261123T053000Z-").ok_or("wrong prefix")?;
        assert_eq!(suffix.len(), 4);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()));
        Ok(())
    }
}
