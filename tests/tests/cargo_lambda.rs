//! Every catalogued sample a function consumes, invoked through cargo-lambda: `cargo lambda
//! watch` on loopback runs the real function binaries, pointed at moto server's DynamoDB and
//! EventBridge, and `cargo lambda invoke --data-file events/…` sends each sample.
//!
//! A function "consumes" a sample when its declaration lists the sample's source, detail-type
//! and version (every function's tests hold its event set to that declaration). Each sample is invoked twice: the first answer is the function's own
//! (`claimed`), the second is the guard's (`cached`, from the warm process). Samples a function
//! refuses on purpose (thin OrderPlaced v2 where lines or an email are needed) must fail with the
//! function's typed error and exit 1; their retry is answered `PreviouslyFailed` without running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use herald::RawEvent;
use herald_tests::TestResult;
use herald_tests::aws::{sdk_config, unique};
use herald_tests::fixtures::catalog_samples;
use herald_tests::functions::{FUNCTIONS, create_all_tables};
use herald_tests::moto;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo_lambda() -> PathBuf {
    let venv = root().join(".tools/bin/cargo-lambda");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("cargo-lambda")
    }
}

/// `cargo lambda watch`, stopped with SIGINT when dropped.
struct Watch {
    child: Child,
    port: u16,
}

impl Watch {
    fn start(env: &[(String, String)]) -> TestResult<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let log = std::fs::File::create(root().join("target/cargo-lambda-watch.log"))?;
        let child = Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--quiet",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .args(vars.iter().flat_map(|v| ["--env-var", v.as_str()]))
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let watch = Self { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                return Err("cargo lambda watch did not listen within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(watch)
    }

    fn invoke(&self, function: &str, sample: &Path) -> TestResult<Output> {
        Ok(Command::new(cargo_lambda())
            .args(["lambda", "invoke", function, "--data-file"])
            .arg(sample)
            .args(["-A", "127.0.0.1", "-P", &self.port.to_string()])
            .current_dir(root())
            .output()?)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

const THIN: &str = "OrderPlaced/v2.sample.json";

/// The samples a function refuses on purpose, with the error type it refuses them with: the
/// thin OrderPlaced v2 where lines or an email address are needed. Every other sample a function
/// consumes must be handled.
fn refused_by(function: &str) -> &'static [(&'static str, &'static str)] {
    match function {
        "inventory" => &[(THIN, "Inventory.ThinOrder")],
        "notifications" => &[(THIN, "Notifications.ThinOrder")],
        "contracts" => &[(THIN, "Contracts.ThinOrder")],
        _ => &[],
    }
}

#[test]
fn every_consumed_sample_runs_through_cargo_lambda_against_moto() -> TestResult {
    // Given every function's tables and a bus on moto, and cargo lambda watch pointed at them
    let runtime = tokio::runtime::Runtime::new()?;
    let (tables, bus) = runtime.block_on(async {
        let config = sdk_config().await;
        let tables = create_all_tables(&config).await?;
        let bus = unique("bus");
        aws_sdk_eventbridge::Client::new(&config)
            .create_event_bus()
            .name(&bus)
            .send()
            .await?;
        TestResult::Ok((tables, bus))
    })?;
    let mut env: Vec<(String, String)> = tables.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.push(("EVENT_BUS_NAME".to_owned(), bus));
    env.push(("AWS_ENDPOINT_URL".to_owned(), moto::endpoint().to_owned()));
    for (key, value) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ] {
        env.push((key.to_owned(), value.to_owned()));
    }
    let watch = Watch::start(&env)?;
    let samples = catalog_samples()?;

    // When each function is invoked with each sample it consumes, twice
    let mut invoked = 0;
    for spec in FUNCTIONS.iter() {
        let (function, refused) = (spec.name, refused_by(spec.name));
        let consumed = |raw: &RawEvent| spec.consumes.iter().any(|c| c.matches(raw));
        for (path, _) in samples.iter().filter(|(_, raw)| consumed(raw)) {
            let place = format!("{function} ← {}", path.display());
            let refusal = refused
                .iter()
                .find(|(suffix, _)| path.ends_with(suffix))
                .map(|(_, error)| *error);
            for delivery in ["first", "second"] {
                let output = watch.invoke(function, path)?;
                let stdout = String::from_utf8_lossy(&output.stdout);
                let stderr = String::from_utf8_lossy(&output.stderr);
                match refusal {
                    // Then a refused sample fails with the function's typed error, and the retry is
                    // answered from the FAILED record without running again
                    Some(error_type) => {
                        let expected = if delivery == "first" {
                            error_type
                        } else {
                            "Idempotency.PreviouslyFailed"
                        };
                        assert!(!output.status.success(), "{place}: must fail\n{stdout}");
                        assert!(
                            stderr.contains(expected),
                            "{place} ({delivery}): expected {expected}\n{stderr}"
                        );
                    }
                    // Then the function answers first, and the guard answers the duplicate
                    None => {
                        assert!(output.status.success(), "{place} ({delivery}): {stderr}");
                        let answer: serde_json::Value = serde_json::from_str(stdout.trim())?;
                        let expected = if delivery == "first" { "claimed" } else { "cached" };
                        assert_eq!(answer["outcome"], expected, "{place}: {answer}");
                        assert!(answer["result"]["action"].is_string(), "{place}: {answer}");
                    }
                }
            }
            invoked += 1;
        }
    }
    assert!(
        invoked >= FUNCTIONS.len(),
        "every function consumed at least one sample"
    );
    Ok(())
}
