//! `herald trace` end to end: the order system's and the payment service's samples run through
//! `herald dev` (the real template, the real function binaries), and the log lines those
//! functions wrote, read back from `herald dev`'s log files and from moto's CloudWatch Logs (put
//! there as Lambda would, one log group per function named as the template names it), rebuild
//! every flow exactly as `herald dev` printed it: the rules that matched, each attempt's outcome,
//! what each function published and who received it, and the dead letters. Only the durations
//! differ: `herald dev` times the invocation, the logs the handler inside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use herald_tests::TestResult;
use herald_tests::aws::{sdk_config, unique};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn herald(args: &[&str], env: &[(&str, &str)]) -> TestResult<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .output()?;
    if !output.status.success() {
        return Err(format!("herald {args:?} failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// JSON lines with the durations left out (the only field the two sides measure differently).
fn without_durations(text: &str) -> TestResult<Vec<Value>> {
    text.lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line)?;
            if let Value::Object(fields) = &mut value {
                fields.remove("duration_ms");
            }
            Ok(value)
        })
        .collect()
}

/// `herald dev --json`'s lines, grouped by the flow (correlation id) of each input tree.
fn flows(lines: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut by_correlation: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut current = String::new();
    for line in lines {
        if line["kind"] == "event" && line.get("published_by").is_none() {
            current = line["correlation_id"].as_str().unwrap_or_default().to_owned();
        }
        by_correlation.entry(current.clone()).or_default().push(line.clone());
    }
    by_correlation
}

#[tokio::test]
async fn every_flow_is_rebuilt_from_the_functions_logs_as_herald_dev_printed_it_from_files_and_cloudwatch_logs()
-> TestResult {
    // Given the samples run through herald dev, every function's log kept (OrderPlaced v2 is
    // refused by notifications for good: retried, then dead-lettered)
    let dir = std::env::temp_dir().join(format!("herald-trace-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let logs = dir.to_string_lossy().into_owned();
    let dead_letters = dir.join("dead-letters.jsonl").to_string_lossy().into_owned();
    let dev = herald(
        &[
            "dev",
            "--json",
            "--logs",
            &logs,
            "--dead-letters",
            &dead_letters,
            "events/shop.orders",
            "events/shop.payments",
        ],
        &[],
    )?;
    let dev = flows(&without_durations(&dev)?);
    assert!(dev.len() >= 3, "{dev:#?}");
    assert!(
        dev.values().flatten().any(|line| line["kind"] == "dead-letter"),
        "a flow with a dead letter: {dev:#?}"
    );

    // And the same lines in moto's CloudWatch Logs, one log group per function as the template
    // names them (`/aws/lambda/<stack>-<function>`)
    let stack = unique("trace");
    let config = sdk_config().await;
    let cloudwatch = aws_sdk_cloudwatchlogs::Client::new(&config);
    let now = chrono::Utc::now().timestamp_millis();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let Some(function) = path
            .extension()
            .filter(|e| *e == "log")
            .and_then(|_| path.file_stem())
            .and_then(|s| s.to_str())
        else {
            continue;
        };
        let group = format!("/aws/lambda/{stack}-{function}");
        cloudwatch.create_log_group().log_group_name(&group).send().await?;
        cloudwatch
            .create_log_stream()
            .log_group_name(&group)
            .log_stream_name("2026/12/03/[$LATEST]1")
            .send()
            .await?;
        let events: Vec<InputLogEvent> = std::fs::read_to_string(&path)?
            .lines()
            .map(|line| InputLogEvent::builder().timestamp(now).message(line).build())
            .collect::<Result<_, _>>()?;
        for batch in events.chunks(500) {
            cloudwatch
                .put_log_events()
                .log_group_name(&group)
                .log_stream_name("2026/12/03/[$LATEST]1")
                .set_log_events(Some(batch.to_vec()))
                .send()
                .await?;
        }
    }

    // When each flow is traced by its correlation id, from the files and from CloudWatch Logs
    let moto = [
        ("AWS_ENDPOINT_URL", herald_tests::moto::endpoint()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    for (correlation, printed) in &dev {
        let from_files = herald(&["trace", correlation, "--json", "--logs", &logs], &[])?;
        let from_cloudwatch = herald(&["trace", correlation, "--json", "--stack", &stack], &moto)?;

        // Then both print the flow herald dev printed
        assert_eq!(&without_durations(&from_files)?, printed, "{correlation} from files");
        assert_eq!(
            &without_durations(&from_cloudwatch)?,
            printed,
            "{correlation} from CloudWatch Logs"
        );
    }

    // And an order id or any event id of a flow finds the same flows as its correlation id
    let order = without_durations(&herald(&["trace", "ord-1001", "--json", "--stack", &stack], &moto)?)?;
    let correlation = order
        .first()
        .and_then(|line| line["correlation_id"].as_str())
        .ok_or("no flow of ord-1001")?;
    assert_eq!(Some(&order), dev.get(correlation), "ord-1001");
    let emitted = order
        .iter()
        .find(|line| line["kind"] == "event" && line.get("published_by").is_some())
        .and_then(|line| line["event_id"].as_str())
        .ok_or("ord-1001's flow published nothing")?;
    let by_event = without_durations(&herald(&["trace", emitted, "--json", "--logs", &logs], &[])?)?;
    assert_eq!(by_event, order, "by the event id {emitted}");

    // And the tree of a flow reads as herald dev's tree does
    let tree = herald(&["trace", "ord-1001", "--logs", &logs], &[])?;
    assert!(
        tree.starts_with("OrderPlaced 7c1e4b2a  correlation 3f6c2a9e  trace 1-"),
        "{tree}"
    );
    assert!(tree.contains("├─ inventory ✓ claimed"), "{tree}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn an_id_no_log_line_mentions_is_an_error_naming_it() -> TestResult {
    let dir = std::env::temp_dir().join(format!("herald-trace-empty-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["trace", "ord-424242", "--logs"])
        .arg(&dir)
        .current_dir(root())
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("mentions ord-424242"), "{stderr}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
