//! Cold-start benchmark: process start to the first `GET /2018-06-01/runtime/invocation/next`
//! of every function's release build, against a bare `lambda_runtime` hello-world that builds
//! the same SDK clients, and against Powertools for AWS Lambda (Python)'s idempotency import; in
//! one run, printing figures and asserting nothing about speed.
//!
//! `make bench-peer` runs it after the peer benchmark (`cargo bench -p herald-tests --bench
//! cold`). It first builds, with the workspace's release profile (LTO: what is deployed), every
//! function of `infra/template.yaml` and the baseline example
//! (`tests/examples/cold_start_baseline.rs`: the SDK configuration loaded as `herald::Env` loads
//! it, a DynamoDB and an EventBridge client, `lambda_runtime::run`, no logging). Then, for
//! `HERALD_COLD_ROUNDS` rounds (default 100) after one unmeasured round that brings every binary
//! into the page cache, it starts each program once, in an order that rotates every round, so a
//! burst of load from a neighbour on this shared machine hits all of them alike (Powertools, whose
//! turn takes seconds, in one round of ten):
//! - each binary with a clean environment: what Lambda sets (`AWS_LAMBDA_RUNTIME_API` pointing
//!   at a Runtime API this benchmark serves on loopback, the function's name, version and
//!   memory, region and dummy credentials) plus the function's own variables as the template
//!   gives them (its tables, the bus, redrive's queues), read with `herald_infra::Stack` as
//!   `herald dev` reads them, so no list of variables is kept here. Its start is the wall time
//!   from spawning it to its first `/next` request, which the Runtime API holds unanswered, as
//!   Lambda does until an event arrives; then the process is killed. A program that exits, or
//!   asks for anything else first, fails the benchmark with its output: its setup is broken.
//! - Powertools: `import_ms()` of `scripts/bench_peer_powertools.py`, the figure the peer
//!   benchmark prints (a fresh interpreter importing `aws_lambda_powertools.utilities.idempotency`,
//!   minus a bare interpreter, each the fastest of 5).
//!
//! Each program's row is its median and 90th percentile over the rounds, and its median's ratio
//! to the baseline's; the last lines compare the slowest function with the median Powertools
//! import, and report the targets (every function within 1.1x of the baseline, and at least
//! 15x faster than the import) without failing on them.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use herald_infra::Stack;
use herald_tests::TestResult;

/// The baseline example's name.
const BASELINE: &str = "cold_start_baseline";

/// How long a program may take to ask for its first invocation before its setup counts as broken.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Powertools takes its turn in one round of this many (and in the unmeasured one): each turn is
/// ten fresh interpreters, so every round would make the run minutes long.
const POWERTOOLS_EVERY: usize = 10;

/// The Lambda Runtime API path a runtime polls for its next invocation.
const NEXT: &str = "/2018-06-01/runtime/invocation/next";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One program to start: its label, binary and environment (besides what every start gets).
struct Program {
    label: String,
    binary: PathBuf,
    memory_mb: u64,
    environment: BTreeMap<String, String>,
}

/// Builds every function of `stack` and the baseline in release, as one cargo invocation;
/// returns each executable by target name.
fn build(stack: &Stack) -> TestResult<BTreeMap<String, PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root())
        .args(["build", "--release", "--message-format=json-render-diagnostics"]);
    for function in &stack.functions {
        command.args(["-p", &function.binary, "--bin", &function.binary]);
    }
    command.args(["-p", "herald-tests", "--example", BASELINE]);
    eprintln!(
        "cold: building {} functions and the baseline (release, LTO)",
        stack.functions.len()
    );
    let output = command.stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("cargo build --release failed: {}", output.status).into());
    }
    let mut executables = BTreeMap::new();
    for line in String::from_utf8(output.stdout)?.lines() {
        let message: serde_json::Value = serde_json::from_str(line)?;
        if let (Some("compiler-artifact"), Some(name), Some(executable)) = (
            message["reason"].as_str(),
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            executables.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    Ok(executables)
}

/// A request line that reached the Runtime API, and when.
struct Request {
    at: Instant,
    line: String,
}

/// The Runtime API's address, and every request line it receives.
struct RuntimeApi {
    address: String,
    requests: Receiver<Request>,
}

/// Serves a minimal Runtime API on a free loopback port: each request line is passed on with
/// the instant it arrived; `/next` is never answered (no event is coming), anything else gets
/// an empty `202`.
fn serve() -> TestResult<RuntimeApi> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?.to_string();
    let (sender, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sender = sender.clone();
            std::thread::spawn(move || connection(stream, &sender));
        }
    });
    Ok(RuntimeApi { address, requests })
}

/// One client connection, until the client closes it (a started program is killed, so
/// errors here only end the connection).
fn connection(stream: TcpStream, sender: &Sender<Request>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let at = Instant::now();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink())?;
        let next = line.starts_with("GET ") && line.contains(NEXT);
        let line = line.trim().to_owned();
        if sender.send(Request { at, line }).is_err() {
            return Ok(());
        }
        if next {
            // Held open, as Lambda holds it until an event arrives, until the program is killed.
            std::io::copy(&mut reader, &mut std::io::sink())?;
            return Ok(());
        }
        writer.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")?;
    }
}

/// Starts `program` and returns the time from its spawn to its first `/next`; the program is
/// killed either way.
///
/// # Errors
/// The program could not start, exited, asked for something else first or took longer than
/// [`START_TIMEOUT`]; the error carries its output.
fn start(program: &Program, api: &RuntimeApi) -> TestResult<Duration> {
    // Requests of the previous program, which was killed, are not this one's.
    while api.requests.try_recv().is_ok() {}
    let started = Instant::now();
    let mut child = Command::new(&program.binary)
        .env_clear()
        .envs(std::env::var("PATH").map(|path| ("PATH".to_owned(), path)))
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", program.label.as_str()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &program.memory_mb.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{}", program.label)),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench-cold"),
            ("_HANDLER", "bootstrap"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "bench-cold"),
            ("AWS_SECRET_ACCESS_KEY", "bench-cold"),
            ("AWS_SESSION_TOKEN", "bench-cold"),
        ])
        .envs(&program.environment)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: cannot start {}: {e}", program.label, program.binary.display()))?;
    let first = first_next(&mut child, api, started);
    // Already exited when the setup is broken; killing it then fails, which changes nothing.
    let _exited = child.kill();
    let output = child.wait_with_output()?;
    first.map_err(|why| {
        format!(
            "{}: {why}\n--- stdout\n{}--- stderr\n{}",
            program.label,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into()
    })
}

/// Waits for `child`'s first `/next`; why not, when it never comes.
fn first_next(child: &mut std::process::Child, api: &RuntimeApi, started: Instant) -> Result<Duration, String> {
    loop {
        match api.requests.recv_timeout(Duration::from_millis(2)) {
            Ok(request) if request.line.starts_with("GET ") && request.line.contains(NEXT) => {
                return Ok(request.at.duration_since(started));
            }
            Ok(request) => return Err(format!("asked `{}` before its first invocation", request.line)),
            Err(RecvTimeoutError::Disconnected) => return Err("the Runtime API stopped".to_owned()),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                    return Err(format!("exited ({status}) before asking for an invocation"));
                }
                if started.elapsed() > START_TIMEOUT {
                    return Err(format!("no `GET {NEXT}` within {START_TIMEOUT:?}"));
                }
            }
        }
    }
}

/// Powertools' idempotency import in ms, as the peer benchmark measures it: `import_ms()` of
/// its script, in a fresh interpreter.
fn powertools_import_ms() -> TestResult<f64> {
    let python = root().join(".tools/bin/python");
    let code = "import sys; sys.path.insert(0, sys.argv[1]); import bench_peer_powertools; print(bench_peer_powertools.import_ms())";
    let output = Command::new(&python)
        .args(["-c", code])
        .arg(root().join("scripts"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e} (run `make bench-peer`, which installs it)", python.display()))?;
    if !output.status.success() {
        return Err(format!("Powertools' import timing failed: {}", output.status).into());
    }
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

/// Milliseconds, sorted.
#[derive(Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn push(&mut self, ms: f64) {
        let at = self.0.partition_point(|x| *x < ms);
        self.0.insert(at, ms);
    }

    fn median(&self) -> f64 {
        match self.0.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => self.0[n / 2],
            n => (self.0[n / 2 - 1] + self.0[n / 2]) / 2.0,
        }
    }

    fn p90(&self) -> f64 {
        let rank = (self.0.len() as f64 * 0.9).ceil() as usize;
        self.0.get(rank.saturating_sub(1)).copied().unwrap_or(f64::NAN)
    }
}

fn main() -> TestResult {
    let rounds: usize = std::env::var("HERALD_COLD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let stack = Stack::load(&root().join("infra/template.yaml"))?;
    let executables = build(&stack)?;
    let binary = |name: &str| {
        executables
            .get(name)
            .cloned()
            .ok_or_else(|| format!("cargo built no executable named {name}"))
    };
    let mut programs = vec![Program {
        label: "baseline".to_owned(),
        binary: binary(BASELINE)?,
        // The smallest memory the template gives a function (the runtime only reports it).
        memory_mb: stack.functions.iter().map(|f| f.memory_mb).min().unwrap_or(128),
        environment: BTreeMap::new(),
    }];
    for function in &stack.functions {
        programs.push(Program {
            label: function.binary.clone(),
            binary: binary(&function.binary)?,
            memory_mb: function.memory_mb,
            environment: function.environment.clone(),
        });
    }
    let api = serve()?;

    // Index `programs.len()` is Powertools, which takes its turn like the binaries.
    let turns = programs.len() + 1;
    let mut samples: Vec<Samples> = (0..turns).map(|_| Samples::default()).collect();
    eprintln!(
        "cold: 1 unmeasured round, then {rounds} rounds of {} starts",
        programs.len()
    );
    for round in 0..=rounds {
        for turn in 0..turns {
            let index = (turn + round) % turns;
            let ms = match programs.get(index) {
                Some(program) => start(program, &api)?.as_secs_f64() * 1e3,
                // Rounds 1, 11, 21, …: the first measured round has it, however few there are.
                None if round == 0 || round % POWERTOOLS_EVERY == 1 => powertools_import_ms()?,
                None => continue,
            };
            if round > 0 {
                samples[index].push(ms);
            }
        }
    }

    let baseline = samples[0].median();
    let import = &samples[programs.len()];
    println!(
        "cold start: process start -> first GET {NEXT}, release builds (LTO), {rounds} rounds \
         ({} for Powertools), one run",
        import.0.len()
    );
    println!("  program                                   median ms    p90 ms   / baseline");
    for (program, figures) in programs.iter().zip(&samples) {
        let label = match program.label.as_str() {
            "baseline" => "baseline (lambda_runtime + 2 SDK clients)",
            label => label,
        };
        println!(
            "  {label:<41} {:>9.2} {:>9.2} {:>11.2}x",
            figures.median(),
            figures.p90(),
            figures.median() / baseline
        );
    }
    println!(
        "  {:<41} {:>9.1} {:>9.1} {:>11.1}x",
        "Powertools (Python) idempotency import",
        import.median(),
        import.p90(),
        import.median() / baseline
    );
    let (slowest, slowest_ms) = programs
        .iter()
        .zip(&samples)
        .skip(1)
        .map(|(program, figures)| (program.label.as_str(), figures.median()))
        .fold(("none", 0.0), |worst, this| if this.1 > worst.1 { this } else { worst });
    let within = slowest_ms / baseline;
    let faster = import.median() / slowest_ms;
    let verdict = |met: bool| if met { "met" } else { "missed" };
    println!(
        "  slowest function: {slowest}, {slowest_ms:.2} ms median, {within:.2}x the baseline (target <= 1.1x: {})",
        verdict(within <= 1.1)
    );
    println!(
        "  Powertools' import / slowest function: {faster:.0}x (target >= 15x: {})",
        verdict(faster >= 15.0)
    );
    Ok(())
}
