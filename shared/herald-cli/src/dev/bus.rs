//! A local EventBridge `PutEvents` endpoint (AWS JSON 1.1 protocol, `AWSEvents.PutEvents`).
//!
//! Functions point `AWS_ENDPOINT_URL_EVENTBRIDGE` at it; every entry they publish becomes an
//! EventBridge event (new `id`, `time`, the entry's source, detail-type and detail) and waits in
//! the bus until `herald dev` routes it to the functions whose rules match it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// Events published and not yet routed.
#[derive(Debug, Clone, Default)]
pub struct LocalBus {
    published: Arc<Mutex<Vec<Published>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsRequest {
    entries: Vec<RequestEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RequestEntry {
    source: Option<String>,
    detail_type: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    /// The X-Ray trace header the publisher sent, which EventBridge passes on to its targets.
    #[serde(default)]
    trace_header: Option<String>,
}

/// An event published to the local bus, and the trace header it came with.
#[derive(Debug, Clone)]
pub struct Published {
    /// The event as a target receives it.
    pub event: serde_json::Value,
    /// The publisher's `TraceHeader`, if it sent one.
    pub trace_header: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsResponse {
    failed_entry_count: usize,
    entries: Vec<ResultEntry>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

impl LocalBus {
    /// Serves `PutEvents` on a loopback port; returns the bus and its endpoint URL.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<(Self, String)> {
        let bus = Self::default();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let router = Router::new().route("/", post(put_events)).with_state(bus.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok((bus, url))
    }

    /// Takes every event published since the last call, in publication order.
    pub async fn take(&self) -> Vec<Published> {
        std::mem::take(&mut *self.published.lock().await)
    }
}

async fn put_events(State(bus): State<LocalBus>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "AWSEvents.PutEvents" {
        return error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("herald dev serves PutEvents only, not {target}"),
        );
    }
    let request: PutEventsRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, "SerializationException", &e.to_string()),
    };
    let mut entries = Vec::with_capacity(request.entries.len());
    let mut published = bus.published.lock().await;
    for entry in request.entries {
        let detail = entry.detail.as_deref().map(serde_json::from_str::<serde_json::Value>);
        match (entry.source, entry.detail_type, detail) {
            (Some(source), Some(detail_type), Some(Ok(detail))) => {
                let id = uuid::Uuid::new_v4().to_string();
                published.push(Published {
                    event: serde_json::json!({
                        "version": "0",
                        "id": id,
                        "detail-type": detail_type,
                        "source": source,
                        "account": "000000000000",
                        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "region": "us-east-1",
                        "resources": entry.resources,
                        "detail": detail,
                    }),
                    trace_header: entry.trace_header,
                });
                entries.push(ResultEntry {
                    event_id: Some(id),
                    error_code: None,
                    error_message: None,
                });
            }
            (_, _, Some(Err(e))) => entries.push(ResultEntry {
                event_id: None,
                error_code: Some("MalformedDetail".to_owned()),
                error_message: Some(e.to_string()),
            }),
            _ => entries.push(ResultEntry {
                event_id: None,
                error_code: Some("InvalidArgument".to_owned()),
                error_message: Some("Source, DetailType and Detail are required".to_owned()),
            }),
        }
    }
    let failed_entry_count = entries.iter().filter(|e| e.error_code.is_some()).count();
    let body = serde_json::to_vec(&PutEventsResponse {
        failed_entry_count,
        entries,
    })
    .unwrap_or_default();
    (StatusCode::OK, [("content-type", "application/x-amz-json-1.1")], body).into_response()
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"__type": kind, "message": message}).to_string();
    (status, [("content-type", "application/x-amz-json-1.1")], body).into_response()
}
