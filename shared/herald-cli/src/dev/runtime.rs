//! A local Lambda: the function's real binary as a warm process, fed through a Lambda Runtime
//! API served on loopback (`/2018-06-01/runtime/invocation/next`, `…/{id}/response`,
//! `…/{id}/error`, `/2018-06-01/runtime/init/error`), with Lambda's headers (request id,
//! deadline, function ARN, trace id) and environment (`AWS_LAMBDA_RUNTIME_API`,
//! `AWS_LAMBDA_FUNCTION_NAME`, …).
//!
//! As on Lambda, the process stays warm between invocations; one that times out is stopped and
//! one that crashes is reported, and either is started again for the next invocation.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The function answered; the JSON body.
    Response(serde_json::Value),
    /// The function reported an error.
    Error {
        /// Lambda's `errorType`.
        error_type: String,
        /// Lambda's `errorMessage`.
        error_message: String,
    },
    /// The deadline passed; the process was stopped.
    Timeout,
    /// The process exited, or failed to start or initialise.
    Crashed(String),
}

impl Ended {
    /// True for a successful response.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Response(_))
    }
}

/// Why a local function could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The binary does not exist.
    #[error("{function}: binary {path} not found (build it with `cargo build -p {function}`, or drop --no-build)")]
    MissingBinary {
        /// The function.
        function: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The Runtime API could not listen.
    #[error("{function}: cannot serve the Runtime API on loopback: {source}")]
    Listen {
        /// The function.
        function: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One invocation waiting for the function to take it.
#[derive(Debug)]
struct Pending {
    request_id: String,
    deadline_ms: i64,
    trace_header: String,
    event: Vec<u8>,
}

/// What the Runtime API handlers share.
#[derive(Debug)]
struct ApiState {
    function_arn: String,
    queue: Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Ended>>>,
    init_error: Mutex<Option<oneshot::Sender<Ended>>>,
}

/// A function served locally.
#[derive(Debug)]
pub struct LocalFunction {
    name: String,
    binary: PathBuf,
    environment: BTreeMap<String, String>,
    timeout: Duration,
    log: PathBuf,
    api: Arc<ApiState>,
    address: String,
    queue: mpsc::Sender<Pending>,
    process: Option<Child>,
}

impl LocalFunction {
    /// Serves a Runtime API for the function; its process starts at the first invocation.
    ///
    /// # Errors
    /// [`RuntimeError`] when the binary is missing or the API cannot listen.
    pub async fn start(
        name: &str,
        binary: PathBuf,
        environment: BTreeMap<String, String>,
        timeout: Duration,
        log: PathBuf,
    ) -> Result<Self, RuntimeError> {
        if !binary.is_file() {
            return Err(RuntimeError::MissingBinary {
                function: name.to_owned(),
                path: binary,
            });
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| RuntimeError::Listen {
                function: name.to_owned(),
                source,
            })?;
        let address = listener
            .local_addr()
            .map_err(|source| RuntimeError::Listen {
                function: name.to_owned(),
                source,
            })?
            .to_string();
        let (queue, receiver) = mpsc::channel(16);
        let api = Arc::new(ApiState {
            function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
            queue: Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self {
            name: name.to_owned(),
            binary,
            environment,
            timeout,
            log,
            api,
            address,
            queue,
            process: None,
        })
    }

    /// Invokes the function with one event in the X-Ray trace `trace_header` (as Lambda's
    /// `Lambda-Runtime-Trace-Id`) and waits for its answer, its deadline or its crash.
    pub async fn invoke(&mut self, event: &serde_json::Value, trace_header: &str) -> Ended {
        if let Err(reason) = self.ensure_running().await {
            return Ended::Crashed(reason);
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let deadline =
            chrono::Utc::now().timestamp_millis() + i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX);
        let (done, answer) = oneshot::channel();
        self.api.waiting.lock().await.insert(request_id.clone(), done);
        let (init_done, init_answer) = oneshot::channel();
        *self.api.init_error.lock().await = Some(init_done);
        let pending = Pending {
            request_id: request_id.clone(),
            deadline_ms: deadline,
            trace_header: trace_header.to_owned(),
            event: event.to_string().into_bytes(),
        };
        if self.queue.send(pending).await.is_err() {
            return Ended::Crashed("the Runtime API stopped".to_owned());
        }
        let started = Instant::now();
        let ended = tokio::select! {
            Ok(ended) = answer => ended,
            Ok(ended) = init_answer => ended,
            exit = wait_exit(self.process.as_mut()) => Ended::Crashed(format!("the process exited ({exit})")),
            () = tokio::time::sleep(self.timeout) => Ended::Timeout,
        };
        self.api.waiting.lock().await.remove(&request_id);
        if matches!(ended, Ended::Timeout | Ended::Crashed(_)) {
            // As on Lambda: the sandbox is reset; the next invocation starts a fresh process.
            self.stop().await;
            // Drop the invocation if the process never took it.
            let mut queue = self.api.queue.lock().await;
            while queue.try_recv().is_ok() {}
            tracing::debug!(function = %self.name, elapsed_ms = started.elapsed().as_millis(), "invocation ended abnormally");
        }
        ended
    }

    /// Stops the process, if it runs.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill().await;
        }
    }

    async fn ensure_running(&mut self) -> Result<(), String> {
        if let Some(child) = self.process.as_mut()
            && matches!(child.try_wait(), Ok(None))
        {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("cannot open {}: {e}", self.log.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .envs(std::env::var("PATH").map(|p| ("PATH".to_owned(), p)))
            .envs(&self.environment)
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", self.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "herald-dev")
            .env("_HANDLER", "bootstrap")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        self.process = Some(child);
        Ok(())
    }
}

async fn wait_exit(child: Option<&mut Child>) -> String {
    match child {
        Some(child) => match child.wait().await {
            Ok(status) => status.to_string(),
            Err(error) => error.to_string(),
        },
        None => std::future::pending().await,
    }
}

async fn next(State(api): State<Arc<ApiState>>) -> Response {
    let pending = api.queue.lock().await.recv().await;
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", pending.request_id.clone());
    set("lambda-runtime-deadline-ms", pending.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", api.function_arn.clone());
    set("lambda-runtime-trace-id", pending.trace_header.clone());
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, pending.event).into_response()
}

async fn respond(State(api): State<Arc<ApiState>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    finish(&api, &id, Ended::Response(value)).await
}

async fn fail(State(api): State<Arc<ApiState>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&api, &id, error_of(&body)).await
}

async fn init_error(State(api): State<Arc<ApiState>>, body: Bytes) -> StatusCode {
    let Ended::Error {
        error_type,
        error_message,
    } = error_of(&body)
    else {
        return StatusCode::BAD_REQUEST;
    };
    if let Some(waiting) = api.init_error.lock().await.take() {
        let _ = waiting.send(Ended::Crashed(format!("init error {error_type}: {error_message}")));
    }
    StatusCode::ACCEPTED
}

async fn finish(api: &ApiState, id: &str, ended: Ended) -> StatusCode {
    match api.waiting.lock().await.remove(id) {
        Some(waiting) => {
            let _ = waiting.send(ended);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// Lambda's error document: `{"errorType": …, "errorMessage": …}`.
#[derive(Debug, serde::Deserialize)]
struct ErrorDocument {
    #[serde(rename = "errorType", default)]
    error_type: String,
    #[serde(rename = "errorMessage", default)]
    error_message: String,
}

fn error_of(body: &[u8]) -> Ended {
    match serde_json::from_slice::<ErrorDocument>(body) {
        Ok(document) => Ended::Error {
            error_type: document.error_type,
            error_message: document.error_message,
        },
        Err(_) => Ended::Error {
            error_type: "Unknown".to_owned(),
            error_message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}
