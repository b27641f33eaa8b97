//! `herald replay` end to end: the binary against moto (patched by `scripts/moto_server.py` to
//! replay as AWS does), configured only through the standard AWS environment variables. A replay
//! to one rule completes, a dry run and an unknown rule start nothing, and Ctrl-C cancels.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_eventbridge::types::ReplayState;
use herald_tests::TestResult;
use herald_tests::archive::ArchivedBus;
use herald_tests::aws::unique;

const SOURCE: &str = "herald.replay-cli-test";
const WITHIN: Duration = Duration::from_secs(10);

/// A bus with an archive that recorded `count` events, whose original deliveries were drained;
/// the replays go to its `rule_a`.
struct Archived {
    bus: ArchivedBus,
}

impl Archived {
    async fn with_events(count: u32) -> TestResult<Self> {
        let bus = ArchivedBus::create(SOURCE).await?;
        bus.put(0..count).await?;
        for rule in [&bus.rule_a, &bus.rule_b] {
            let originals = bus.drain(rule, count as usize).await?;
            if originals.len() != count as usize {
                return Err(format!("{} of {count} events delivered", originals.len()).into());
            }
        }
        Ok(Self { bus })
    }

    async fn drain(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        self.bus.drain(&self.bus.rule_a, expected).await
    }

    async fn replays_named(&self, name: &str) -> TestResult<usize> {
        self.bus.replays_named(name).await
    }

    /// `herald replay` of the last five minutes, with `extra` arguments.
    fn replay(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command
            .args([
                "replay",
                "--archive",
                &self.bus.archive_arn,
                "--from",
                "-5m",
                "--poll-interval",
                "0.1",
            ])
            .args(extra)
            .env("AWS_ENDPOINT_URL", herald_tests::moto::endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null());
        command
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(mut command: Command) -> TestResult<(Output, String, String)> {
    let output = command.output()?;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    Ok((output, stdout, stderr))
}

#[tokio::test]
async fn a_replay_to_one_rule_completes_and_prints_completed() -> TestResult {
    // Given an archive that recorded 5 events of a rule's queue
    let archived = Archived::with_events(5).await?;
    let name = unique("cli-replay");

    // When `herald replay` replays the last five minutes to that rule
    let (output, stdout, stderr) = run(archived.replay(&["--rule", &archived.bus.rule_a.name, "--name", &name]))?;

    // Then it says COMPLETED, and the queue receives the 5 events again, marked as replayed
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("replay {name}: COMPLETED")), "{stdout}");
    assert!(stdout.contains("(100%)"), "{stdout}");
    assert!(
        stderr.contains(&archived.bus.rule_a.arn),
        "the plan names the rule's ARN:\n{stderr}"
    );
    let again = archived.drain(5).await?;
    assert_eq!(again.len(), 5);
    assert!(again.iter().all(|b| b["replay-name"] == name.as_str()), "{again:?}");
    Ok(())
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_starts_nothing() -> TestResult {
    // Given an archive that recorded 3 events
    let archived = Archived::with_events(3).await?;
    let name = unique("cli-dry-run");

    // When `herald replay --dry-run` is asked for a reprocess to the rule
    let (output, stdout, stderr) = run(archived.replay(&[
        "--rule",
        &archived.bus.rule_a.name,
        "--name",
        &name,
        "--reprocess",
        "--dry-run",
    ]))?;

    // Then it prints the archive, its bus, the rule's ARN, the archive's size and the final name…
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for expected in [
        archived.bus.archive_arn.as_str(),
        archived.bus.bus_arn.as_str(),
        archived.bus.rule_a.arn.as_str(),
        "3 events",
        &format!("reprocess-{name}"),
        "dry run: no replay was started",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from\n{stdout}");
    }
    // …and no replay exists, nor did any event arrive again
    assert_eq!(archived.replays_named(&format!("reprocess-{name}")).await?, 0);
    assert_eq!(archived.drain(0).await?.len(), 0);
    Ok(())
}

#[tokio::test]
async fn an_unknown_rule_is_named_with_its_bus_and_nothing_starts() -> TestResult {
    // Given an archive that recorded 2 events
    let archived = Archived::with_events(2).await?;
    let name = unique("cli-unknown");

    // When the replay names a rule that is not on the archive's bus
    let (output, _, stderr) = run(archived.replay(&[
        "--rule",
        &archived.bus.rule_a.name,
        "--rule",
        "no-such-rule",
        "--name",
        &name,
    ]))?;

    // Then it fails naming rule and bus, and starts no replay
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!(
            "rule no-such-rule does not exist on event bus {}",
            archived.bus.bus_arn
        )),
        "{stderr}"
    );
    assert_eq!(archived.replays_named(&name).await?, 0);
    Ok(())
}

/// Sends `child`'s stderr lines to the returned channel, one by one, as they are written.
fn stderr_lines(child: &mut Child) -> TestResult<mpsc::Receiver<String>> {
    let stderr = child.stderr.take().ok_or("stderr not piped")?;
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    Ok(received)
}

#[tokio::test]
async fn ctrl_c_cancels_the_replay_and_exits_non_zero() -> TestResult {
    // Given an archive of 60 events (3 s of replay on moto) and `herald replay` following it
    let archived = Archived::with_events(60).await?;
    let name = unique("cli-ctrl-c");
    let mut command = archived.replay(&["--rule", &archived.bus.rule_a.name, "--name", &name]);
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let lines = stderr_lines(&mut child)?;
    let mut stderr = Vec::new();
    let running = loop {
        match lines.recv_timeout(WITHIN) {
            Ok(line) => {
                let is_running = line.starts_with(&format!("replay {name}: RUNNING"));
                stderr.push(line);
                if is_running {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    if !running {
        child.kill().ok();
        child.wait().ok();
        return Err(format!("no RUNNING line within {WITHIN:?}:\n{}", stderr.join("\n")).into());
    }

    // When it gets SIGINT, as from Ctrl-C
    let signalled = Command::new("kill").args(["-INT", &child.id().to_string()]).status()?;
    assert!(signalled.success());
    let status = child.wait()?;
    stderr.extend(lines.iter());
    let stderr = stderr.join("\n");

    // Then it cancels the replay, follows it to CANCELLED and fails saying so
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("replay {name}: CANCELLED")), "{stderr}");
    assert!(
        stderr.contains(&format!("herald: replay {name} was cancelled")),
        "{stderr}"
    );
    let described = archived.bus.events.describe_replay().replay_name(&name).send().await?;
    assert_eq!(described.state(), Some(&ReplayState::Cancelled));
    let replayed = archived.drain(0).await?.len();
    assert!(replayed < 60, "{replayed} events replayed despite Ctrl-C");
    Ok(())
}
