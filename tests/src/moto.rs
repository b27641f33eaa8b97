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
