//! A fault-injecting HTTP client for the DynamoDB SDK: throttling, 5xx, timeouts and lost
//! responses on chosen requests, in front of a real plain-HTTP connection to moto.
//!
//! The SDK's orchestrator signs, retries, backs off and times out above the HTTP client, so a
//! fault injected here is seen exactly as a fault on the wire would be: the client's
//! [`RetryConfig`] and [`TimeoutConfig`] decide what happens next. Requests are picked by
//! operation (the `x-amz-target` header, e.g. `DynamoDB_20120810.PutItem` → `PutItem`) and by
//! occurrence, counted per operation from 1, SDK retries included.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryPartition};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_sdk_dynamodb::error::ConnectorError;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::aws::unique;

/// How long one attempt may take before the SDK abandons it and retries; a [`Fault::Timeout`]
/// outlasts it. Long enough that moto on a busy 2-core machine does not trip it by itself.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a [`Fault::Timeout`] holds a request before answering 500 (never reached when the
/// client has an attempt timeout, as [`Faults::dynamodb_client`]'s has).
const HANG: Duration = Duration::from_secs(5);

/// What the layer does to a chosen request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException`; the request is not sent.
    Throttling,
    /// HTTP 400 `ProvisionedThroughputExceededException`; the request is not sent.
    ProvisionedThroughputExceeded,
    /// HTTP 500 `InternalServerError`; the request is not sent.
    InternalServerError,
    /// No answer within [`ATTEMPT_TIMEOUT`]; the request is not sent.
    Timeout,
    /// The request is sent and DynamoDB executes it, then its answer is replaced by a 500, as
    /// when a connection drops after the write.
    LostResponse,
}

impl Fault {
    /// The faults that never reach DynamoDB: throttling, a 5xx and a timeout.
    pub const UNSENT: [Self; 4] = [
        Self::Throttling,
        Self::ProvisionedThroughputExceeded,
        Self::InternalServerError,
        Self::Timeout,
    ];

    /// The answer the layer gives in DynamoDB's place: status and `__type`.
    fn answer(self) -> (u16, &'static str) {
        match self {
            Self::Throttling => (400, "ThrottlingException"),
            Self::ProvisionedThroughputExceeded => (400, "ProvisionedThroughputExceededException"),
            Self::InternalServerError | Self::Timeout | Self::LostResponse => (500, "InternalServerError"),
        }
    }
}

/// Which requests of an operation a rule picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Occurrence {
    Nth(usize),
    Every,
}

#[derive(Debug, Clone)]
struct Rule {
    operation: String,
    occurrence: Occurrence,
    fault: Fault,
}

/// One request as the layer handled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exchange {
    fault: Option<Fault>,
    /// DynamoDB's status code, once it answered; `None` when it never saw the request.
    status: Option<u16>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    /// Every request, by operation, in order, faulted or not.
    seen: BTreeMap<String, Vec<Exchange>>,
}

/// The plan of faults and what the layer saw. Clones share both; build the client with
/// [`Faults::dynamodb_client`] and change the plan at any time.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Injects `fault` on the `nth` request (from 1) of `operation`, e.g. `PutItem`.
    pub fn on(&self, operation: &str, nth: usize, fault: Fault) {
        self.add(operation, Occurrence::Nth(nth), fault);
    }

    /// Injects `fault` on every request of `operation` from now on.
    pub fn on_every(&self, operation: &str, fault: Fault) {
        self.add(operation, Occurrence::Every, fault);
    }

    fn add(&self, operation: &str, occurrence: Occurrence, fault: Fault) {
        self.state().rules.push(Rule {
            operation: operation.to_owned(),
            occurrence,
            fault,
        });
    }

    /// Drops every planned fault: DynamoDB is healthy again. What was seen is kept.
    pub fn heal(&self) {
        self.state().rules.clear();
    }

    /// Requests of `operation` seen so far, SDK retries included.
    pub fn requests(&self, operation: &str) -> usize {
        self.state().seen.get(operation).map(Vec::len).unwrap_or_default()
    }

    /// Faults injected so far on `operation`, in order.
    pub fn injected(&self, operation: &str) -> Vec<Fault> {
        self.exchanges(operation).filter_map(|e| e.fault).collect()
    }

    /// What DynamoDB answered to each request of `operation` so far, in order: its status code,
    /// whatever the SDK was told, or `None` when the request never reached it. Shows that a
    /// [`Fault::LostResponse`] write landed (200) and what its retry met (400, a failed condition).
    pub fn dynamodb_statuses(&self, operation: &str) -> Vec<Option<u16>> {
        self.exchanges(operation).map(|e| e.status).collect()
    }

    fn exchanges(&self, operation: &str) -> impl Iterator<Item = Exchange> {
        self.state()
            .seen
            .get(operation)
            .cloned()
            .unwrap_or_default()
            .into_iter()
    }

    /// Records a request and picks its fault, if any. Returns the request's index.
    fn pick(&self, operation: &str) -> (usize, Option<Fault>) {
        let mut state = self.state();
        let index = state.seen.get(operation).map(Vec::len).unwrap_or_default();
        let fault = state
            .rules
            .iter()
            .find(|rule| {
                rule.operation == operation
                    && match rule.occurrence {
                        Occurrence::Nth(n) => n == index + 1,
                        Occurrence::Every => true,
                    }
            })
            .map(|rule| rule.fault);
        state
            .seen
            .entry(operation.to_owned())
            .or_default()
            .push(Exchange { fault, status: None });
        (index, fault)
    }

    /// Notes DynamoDB's answer to a request.
    fn answered(&self, operation: &str, index: usize, status: u16) {
        if let Some(exchange) = self
            .state()
            .seen
            .get_mut(operation)
            .and_then(|seen| seen.get_mut(index))
        {
            exchange.status = Some(status);
        }
    }

    /// `inner` with this plan's faults in front of it.
    pub fn http_client(&self, inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(FaultyClient {
            faults: self.clone(),
            inner,
        })
    }

    /// A DynamoDB client on moto behind this plan: standard retries with `max_attempts` attempts
    /// and millisecond backoff, an attempt timeout of [`ATTEMPT_TIMEOUT`], and its own retry
    /// partition, so its retries never drain the token bucket other tests' clients share.
    pub fn dynamodb_client(&self, config: &SdkConfig, max_attempts: u32) -> aws_sdk_dynamodb::Client {
        let plain_http = aws_smithy_http_client::Builder::new().build_http();
        let conf = aws_sdk_dynamodb::config::Builder::from(config)
            .http_client(self.http_client(plain_http))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(max_attempts)
                    .with_initial_backoff(Duration::from_millis(2))
                    .with_max_backoff(Duration::from_millis(20)),
            )
            .retry_partition(RetryPartition::new(unique("faults")))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }
}

/// The [`HttpClient`] the SDK sees: hands out [`FaultyConnector`]s around the real ones.
#[derive(Debug)]
struct FaultyClient {
    faults: Faults,
    inner: SharedHttpClient,
}

impl HttpClient for FaultyClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            faults: self.faults.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    faults: Faults,
    inner: SharedHttpConnector,
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request.headers().get("x-amz-target").unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        let (index, fault) = self.faults.pick(&operation);
        let Some(fault) = fault else {
            let sent = self.inner.call(request);
            let faults = self.faults.clone();
            return HttpConnectorFuture::new(async move {
                let response = sent.await?;
                faults.answered(&operation, index, response.status().as_u16());
                Ok(response)
            });
        };
        match fault {
            Fault::Timeout => HttpConnectorFuture::new(async move {
                tokio::time::sleep(HANG).await;
                error_response(fault, &operation)
            }),
            Fault::LostResponse => {
                let sent = self.inner.call(request);
                let faults = self.faults.clone();
                HttpConnectorFuture::new(async move {
                    // DynamoDB answered (and executed the write); the answer never arrives.
                    let response = sent.await?;
                    faults.answered(&operation, index, response.status().as_u16());
                    error_response(fault, &operation)
                })
            }
            Fault::Throttling | Fault::ProvisionedThroughputExceeded | Fault::InternalServerError => {
                HttpConnectorFuture::ready(error_response(fault, &operation))
            }
        }
    }
}

/// DynamoDB's JSON error answer (awsJson 1.0) for `fault`.
fn error_response(fault: Fault, operation: &str) -> Result<HttpResponse, ConnectorError> {
    let (status, error_type) = fault.answer();
    let status = StatusCode::try_from(status).map_err(|e| ConnectorError::other(e.into(), None))?;
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
        "message": format!("{fault:?} injected by herald_tests::faults on {operation}"),
    });
    let mut response = HttpResponse::new(status, SdkBody::from(body.to_string()));
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    Ok(response)
}
