//! One moto server for the whole test run.
//!
//! The test command (`scripts/test.sh`) starts a single server and exports its address in
//! `HERALD_MOTO_ENDPOINT`, so every test binary shares it and it stops when the run ends. When
//! a test binary runs on its own (`cargo test -p herald-tests --test publisher`), the first test
//! that needs moto starts a private server instead; a watchdog shell stops it as soon as the
//! test process is gone, so no server outlives its run.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The variable the test command sets to the shared server's URL.
pub const ENDPOINT_VAR: &str = "HERALD_MOTO_ENDPOINT";

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The URL of the run's moto server, starting a private one if the test command did not.
///
/// # Panics
/// When no server can be found or started: every test that needs AWS would fail anyway, and
/// the message says how to install the tools.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(|| match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => start_private_server().unwrap_or_else(|e| panic!("cannot start moto server: {e}")),
    })
}

/// The command that starts moto: `scripts/moto_server.py` (moto, with archive replays as AWS
/// runs them) under the tools' Python.
fn moto_command() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".tools/bin/python");
    let python = if python.exists() {
        python
    } else {
        PathBuf::from("python3")
    };
    format!(
        "'{}' '{}'",
        python.display(),
        root.join("scripts/moto_server.py").display()
    )
}

fn start_private_server() -> Result<String, String> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let command = moto_command();
    // The shell starts moto, then waits for this process to end and stops moto with it.
    let script = format!(
        "{command} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
        parent = std::process::id(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("{command}: {e} (run `make tools` first)"))?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(format!("http://{address}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{command} did not listen on {address} within 30 s (run `make tools` first)"
    ))
}

/// moto's request recorder (`/moto-api/recorder/…`): what moto itself received, for tests that
/// check what went over the wire. One test at a time may record: the recorder is the server's.
/// Recording stops when the value is dropped.
#[derive(Debug)]
pub struct Recording {
    endpoint: &'static str,
}

/// One `PutEvents` entry as moto received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEntry {
    /// The entry's `Detail`, parsed.
    pub detail: serde_json::Value,
    /// Its `TraceHeader`, if it had one.
    pub trace_header: Option<String>,
}

impl Recording {
    /// Empties the recording and starts recording every request moto receives.
    ///
    /// # Errors
    /// When moto's API does not answer.
    pub fn start() -> crate::TestResult<Self> {
        let recording = Self { endpoint: endpoint() };
        recording.call("reset-recording")?;
        recording.call("start-recording")?;
        Ok(recording)
    }

    fn call(&self, action: &str) -> crate::TestResult<String> {
        let url = format!("{}/moto-api/recorder/{action}", self.endpoint);
        let mut response = match action {
            "download-recording" => ureq::get(&url).call()?,
            _ => ureq::post(&url).send_empty()?,
        };
        Ok(response.body_mut().read_to_string()?)
    }

    /// Every `PutEvents` entry moto has received since [`Recording::start`], in order.
    ///
    /// # Errors
    /// When moto's API does not answer or a recorded request is not what moto records.
    pub fn put_events_entries(&self) -> crate::TestResult<Vec<ReceivedEntry>> {
        #[derive(serde::Deserialize)]
        struct Request {
            headers: std::collections::BTreeMap<String, String>,
            body: Option<String>,
            #[serde(default)]
            body_encoded: bool,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct PutEvents {
            entries: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            detail: Option<String>,
            trace_header: Option<String>,
        }
        let mut entries = Vec::new();
        for line in self.call("download-recording")?.lines() {
            let request: Request = serde_json::from_str(line)?;
            let target = request
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-target"))
                .map(|(_, value)| value.as_str());
            if target != Some("AWSEvents.PutEvents") {
                continue;
            }
            let body = request.body.unwrap_or_default();
            let body = match request.body_encoded {
                true => aws_smithy_types::base64::decode(&body)?,
                false => body.into_bytes(),
            };
            let put: PutEvents = serde_json::from_slice(&body)?;
            for entry in put.entries {
                entries.push(ReceivedEntry {
                    detail: serde_json::from_str(entry.detail.as_deref().unwrap_or("null"))?,
                    trace_header: entry.trace_header,
                });
            }
        }
        Ok(entries)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        // Best effort: a recorder left on only costs the server a file write per request.
        let _stopped = self.call("stop-recording");
    }
}
