//! `herald dev` end to end, on the real template, the real function binaries and the catalog's
//! order-lifecycle samples, with in-memory stores: which functions ran, what they emitted,
//! dedupe under `--repeat 2`, and the events a function refuses landing in the dead-letter file
//! after Lambda's retries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Run {
    lines: Vec<serde_json::Value>,
    dead_letters: Vec<serde_json::Value>,
    stderr: String,
}

fn herald_dev(args: &[&str], dead_letters: &Path) -> TestResult<Run> {
    let _ = std::fs::remove_file(dead_letters);
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("dev")
        .args(args)
        .arg("--dead-letters")
        .arg(dead_letters)
        .current_dir(root())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(format!("herald dev failed: {stderr}").into());
    }
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<serde_json::Value>, _>>()?;
    let dead_letters = std::fs::read_to_string(dead_letters)
        .unwrap_or_default()
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<serde_json::Value>, _>>()?;
    Ok(Run {
        lines,
        dead_letters,
        stderr,
    })
}

fn kind<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["kind"] == kind).collect()
}

#[test]
fn the_order_lifecycle_runs_through_the_template_dedupes_repeats_and_dead_letters_what_is_refused() -> TestResult {
    // Given the order system's and the payment service's samples, delivered twice each
    let dead_letters = root().join("target/herald-dev/test-dead-letters.jsonl");
    let run = herald_dev(
        &["--json", "--repeat", "2", "events/shop.orders", "events/shop.payments"],
        &dead_letters,
    )?;
    let invocations = kind(&run.lines, "invocation");

    // Then the placed order ran every function whose rule matches it, first for real…
    let placed_v1 = "7c1e4b2a-5d3f-4e8b-a916-2b7d9c4e0f11";
    let first_runs: BTreeMap<String, String> = invocations
        .iter()
        .filter(|l| l["event_id"] == placed_v1 && l["attempt"] == 1)
        .map(|l| {
            (
                l["function"].as_str().unwrap_or_default().to_owned(),
                l["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .fold(BTreeMap::new(), |mut seen, (function, outcome)| {
            seen.entry(function).or_insert(outcome);
            seen
        });
    let functions: Vec<&str> = first_runs.keys().map(String::as_str).collect();
    assert_eq!(
        functions,
        [
            "billing",
            "campaigns",
            "contracts",
            "inventory",
            "notifications",
            "order-history"
        ],
        "{}",
        run.stderr
    );
    assert!(first_runs.values().all(|o| o == "claimed"), "{first_runs:?}");

    // …and the repeat was answered by each warm function's guard, without running again
    let repeats: Vec<&&serde_json::Value> = invocations
        .iter()
        .filter(|l| l["event_id"] == placed_v1)
        .skip(functions.len())
        .collect();
    assert_eq!(repeats.len(), functions.len());
    assert!(repeats.iter().all(|l| l["outcome"] == "cached"), "{repeats:?}");

    // Then what the functions emitted was routed on: the contract's cancellation reached notifications
    let events = kind(&run.lines, "event");
    let emitted: Vec<&str> = events
        .iter()
        .filter(|e| e.get("published_by").is_some())
        .filter_map(|e| e["detail_type"].as_str())
        .collect();
    for detail_type in ["ContractCreated", "ContractCancelled", "VoucherIssued", "InvoiceIssued"] {
        assert!(emitted.contains(&detail_type), "{detail_type} not emitted: {emitted:?}");
    }
    let contract_cancelled = events
        .iter()
        .find(|e| e["detail_type"] == "ContractCancelled")
        .ok_or("no ContractCancelled")?;
    assert_eq!(contract_cancelled["matched"], serde_json::json!(["notifications"]));

    // Then the thin v2 order, refused by three functions, is in the dead-letter file after 3 attempts each
    let thin = "0b5d7f9a-2c4e-4a68-8d31-4f6a8c0e2b52";
    let mut refused: Vec<(&str, u64)> = run
        .dead_letters
        .iter()
        .filter(|d| d["event"]["detail"]["metadata"]["event_id"] == thin)
        .map(|d| {
            (
                d["function"].as_str().unwrap_or_default(),
                d["attempts"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    refused.sort_unstable();
    refused.dedup();
    assert_eq!(
        refused,
        [("contracts", 3), ("inventory", 3), ("notifications", 3)],
        "{:?}",
        run.dead_letters
    );
    assert!(
        run.dead_letters
            .iter()
            .all(|d| d["error_type"].as_str().is_some_and(|t| !t.is_empty()))
    );
    assert!(run.stderr.contains("dead letters"), "{}", run.stderr);
    Ok(())
}

#[test]
fn a_malformed_event_file_is_named_with_its_place() -> TestResult {
    let dir = std::env::temp_dir().join(format!("herald-dev-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\n  \"source\": \"shop.orders\",\n  \"detail-type\": \n}\n")?;

    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("dev")
        .arg(&broken)
        .current_dir(root())
        .output()?;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("broken.json: line 4 column 1"), "{stderr}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn an_unknown_function_is_named_with_the_ones_the_template_has() -> TestResult {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "invoke",
            "shipping",
            "--no-build",
            "--event",
            "events/shop.orders/OrderPlaced/v1.sample.json",
        ])
        .current_dir(root())
        .output()?;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("no function with binary `shipping`"), "{stderr}");
    assert!(stderr.contains("inventory"), "{stderr}");
    Ok(())
}

/// A workspace of its own: a template naming two "functions" that are shell scripts, one that
/// exits at once and one that never answers, and an event both rules match.
fn broken_functions_workspace() -> TestResult<PathBuf> {
    let dir = std::env::temp_dir().join(format!("herald-dev-broken-{}-{}", std::process::id(), line!()));
    std::fs::create_dir_all(dir.join("target/debug"))?;
    std::fs::create_dir_all(dir.join("infra"))?;
    for (name, script) in [
        ("crasher", "#!/bin/sh\nexit 3\n"),
        ("sleeper", "#!/bin/sh\nexec sleep 30\n"),
    ] {
        let path = dir.join("target/debug").join(name);
        std::fs::write(&path, script)?;
        let status = Command::new("chmod").arg("+x").arg(&path).status()?;
        assert!(status.success());
    }
    let function = |id: &str, binary: &str| {
        format!(
            "  {id}:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: {binary}\n    Properties:\n      Timeout: 1\n      EventInvokeConfig:\n        MaximumRetryAttempts: 1\n      Events:\n        Rule:\n          Type: EventBridgeRule\n          Properties:\n            Pattern:\n              source: [test.source]\n"
        )
    };
    let template = format!(
        "Resources:\n{}{}",
        function("CrasherFunction", "crasher"),
        function("SleeperFunction", "sleeper")
    );
    std::fs::write(dir.join("infra/template.yaml"), template)?;
    let event = serde_json::json!({"version": "0", "id": "e-1", "source": "test.source", "detail-type": "Ping",
        "time": "2026-11-23T00:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"metadata": {"event_id": "11111111-1111-4111-8111-111111111111"}}});
    std::fs::write(dir.join("ping.json"), event.to_string())?;
    Ok(dir)
}

#[test]
fn a_function_that_crashes_or_times_out_is_reported_retried_and_dead_lettered() -> TestResult {
    // Given a function that exits at once and one that never answers, each retried once
    let dir = broken_functions_workspace()?;

    // When an event for both is delivered
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["dev", "--no-build", "--json", "ping.json"])
        .current_dir(&dir)
        .output()?;

    // Then each failed twice, as a crash and as a timeout, and both are in the dead-letter file
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let errors = |function: &str| -> Vec<String> {
        kind(&lines, "invocation")
            .into_iter()
            .filter(|l| l["function"] == function)
            .map(|l| l["error_type"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(errors("crasher"), ["Crash", "Crash"], "{stderr}");
    assert_eq!(errors("sleeper"), ["Timeout", "Timeout"], "{stderr}");
    let dead: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("target/herald-dev/dead-letters.jsonl"))?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mut functions: Vec<&str> = dead.iter().filter_map(|d| d["function"].as_str()).collect();
    functions.sort_unstable();
    assert_eq!(functions, ["crasher", "sleeper"]);
    assert!(dead.iter().all(|d| d["attempts"] == 2 && d["event"]["id"] == "e-1"));
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn an_uncatalogued_event_fails_for_good_and_writes_the_uncatalogued_events_metric() -> TestResult {
    // Given an OrderShipped event, a detail-type inventory does not know
    let dir = std::env::temp_dir().join(format!("herald-dev-uncatalogued-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root().join("events/shop.orders/OrderCancelled/v1.sample.json"),
    )?)?;
    event["detail-type"] = serde_json::json!("OrderShipped");
    let file = dir.join("shipped.json");
    std::fs::write(&file, event.to_string())?;

    // When inventory is invoked with it
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["invoke", "inventory", "--event"])
        .arg(&file)
        .arg("--logs")
        .arg(&dir)
        .current_dir(root())
        .output()?;

    // Then it fails with the envelope's typed error, and its log holds the EMF metric line
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("Envelope.UnknownDetailType"), "{stderr}");
    let log = std::fs::read_to_string(dir.join("inventory.log"))?;
    let metric: serde_json::Value = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line.get("_aws").is_some())
        .ok_or("no EMF line in the function's log")?;
    assert_eq!(metric["UncataloguedEvents"], 1);
    assert_eq!(metric["function"], "inventory");
    assert_eq!(metric["detail-type"], "OrderShipped");
    assert_eq!(metric["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Herald");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// The lines a function logged for `event` under `herald invoke`, as JSON.
fn invoke_and_read_log(function: &str, event: &serde_json::Value, name: &str) -> TestResult<Vec<serde_json::Value>> {
    let dir = std::env::temp_dir().join(format!("herald-dev-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("event.json");
    std::fs::write(&file, event.to_string())?;
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["invoke", function, "--event"])
        .arg(&file)
        .arg("--logs")
        .arg(&dir)
        .current_dir(root())
        .output()?;
    if !output.status.success() {
        return Err(format!("herald invoke failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let lines = std::fs::read_to_string(dir.join(format!("{function}.log")))?
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .collect();
    std::fs::remove_dir_all(dir)?;
    Ok(lines)
}

#[test]
fn a_replayed_or_redriven_event_is_logged_with_its_replay_name_or_redrive_run() -> TestResult {
    let sample: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root().join("events/shop.orders/OrderCancelled/v1.sample.json"),
    )?)?;

    // Given the same cancellation delivered by an archive replay, and put back by a redrive
    let mut replayed = sample.clone();
    replayed["replay-name"] = serde_json::json!("herald-20261123T090000");
    let mut redriven = sample;
    redriven["detail"]["metadata"]["redrive"] =
        serde_json::json!({"run": "redrive-20261123T091500Z-3f2a", "queue": "shop-order-history-dlq"});

    // Then every line order-history logs for each carries the replay name or the redrive run,
    // and it says it was redelivered
    for (event, field, value) in [
        (&replayed, "replay_name", "herald-20261123T090000"),
        (&redriven, "redrive_run", "redrive-20261123T091500Z-3f2a"),
    ] {
        let lines = invoke_and_read_log("order-history", event, field)?;
        let of_event: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["span"]["event_id"] == event["detail"]["metadata"]["event_id"])
            .collect();
        assert!(of_event.len() >= 3, "{lines:?}");
        assert!(
            of_event.iter().all(|l| l["span"][field] == value),
            "{field}: {of_event:?}"
        );
        assert!(
            of_event
                .iter()
                .any(|l| l["message"] == "redelivered by a replay or redrive" && l["run"] == value),
            "{of_event:?}"
        );
    }
    Ok(())
}

#[test]
fn one_input_event_and_everything_it_sets_off_share_one_x_ray_trace_in_the_trace_and_the_logs() -> TestResult {
    // Given ord-1001 placed, run through the template with every function's log kept
    let dir = std::env::temp_dir().join(format!("herald-dev-trace-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let logs = dir.to_string_lossy().into_owned();
    let run = herald_dev(
        &[
            "--json",
            "--logs",
            &logs,
            "events/shop.orders/OrderPlaced/v1.sample.json",
        ],
        &dir.join("dead-letters.jsonl"),
    )?;

    // Then every event of the flow (the order and what inventory, fulfillment and the rest
    // published because of it) names the same X-Ray trace id
    let events = kind(&run.lines, "event");
    assert!(events.len() >= 3, "{:?}", run.lines);
    let trace = events[0]["trace_id"].as_str().unwrap_or_default().to_owned();
    let shape = trace.split('-').map(str::len).collect::<Vec<_>>();
    assert_eq!(shape, [1, 8, 24], "an X-Ray trace id: {trace}");
    assert!(events.iter().all(|e| e["trace_id"] == trace.as_str()), "{events:?}");
    // And every line each function logged while handling them carries it, as on Lambda
    let mut handled = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("log") {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let Ok(line) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if line["span"]["event_id"].is_string() {
                handled += 1;
                assert_eq!(
                    line["span"]["xray_trace_id"],
                    trace.as_str(),
                    "{}: {line}",
                    path.display()
                );
            }
        }
    }
    assert!(handled >= events.len(), "{handled} log lines");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn every_invocation_writes_its_outcome_time_and_cold_start_and_the_functions_own_metrics_as_emf() -> TestResult {
    // Given ord-1001 placed (a big spender's order: campaigns issues a voucher), delivered twice
    let dir = std::env::temp_dir().join(format!("herald-dev-metrics-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let logs = dir.to_string_lossy().into_owned();
    herald_dev(
        &[
            "--json",
            "--repeat",
            "2",
            "--logs",
            &logs,
            "events/shop.orders/OrderPlaced/v1.sample.json",
            "events/shop.orders/OrderPlaced/v2.sample.json",
        ],
        &dir.join("dead-letters.jsonl"),
    )?;

    // Then inventory counts the thin v2 order it refuses as an error, once per attempt
    let inventory: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("inventory.log"))?
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line.get("Events").is_some() && line["detail-type"] == "OrderPlaced")
        .collect();
    let outcomes: Vec<&str> = inventory.iter().filter_map(|l| l["outcome"].as_str()).collect();
    assert!(
        outcomes.contains(&"claimed") && outcomes.contains(&"error"),
        "{outcomes:?}"
    );
    // And campaigns' log holds, per delivery, one Herald line (claimed then cached, the
    // handling time, the cold start only first), and its own VouchersIssued once
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("campaigns.log"))?
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    let herald: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("Events").is_some()).collect();
    let outcomes: Vec<&str> = herald.iter().filter_map(|l| l["outcome"].as_str()).collect();
    assert_eq!(&outcomes[..2], ["claimed", "cached"], "{lines:?}");
    assert!(
        herald
            .iter()
            .all(|l| l["function"] == "campaigns" && l["HandlingTime"].is_number())
    );
    assert_eq!(herald[0]["ColdStart"], 1);
    assert!(herald[1].get("ColdStart").is_none());
    let issued: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("VouchersIssued").is_some()).collect();
    assert_eq!(issued.len(), 1, "{lines:?}");
    assert_eq!(
        issued[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["function"]])
    );
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// Every text a catalogued sample holds under a personal-data field (e-mail, street, postal code).
fn personal_data_of_the_samples() -> TestResult<Vec<String>> {
    fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, field) in fields {
                    match (name.as_str(), field) {
                        ("email" | "customer_email" | "street" | "postal_code", serde_json::Value::String(text)) => {
                            found.push(text.clone());
                        }
                        _ => walk(field, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for (_, sample) in herald_tests::fixtures::catalog_samples().map_err(|e| e.to_string())? {
        walk(sample.as_value(), &mut found);
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The JSON log lines each consumer wrote into `dir` (EMF lines left out), by function.
fn consumer_log_lines(dir: &Path) -> TestResult<Vec<(String, serde_json::Value)>> {
    let mut lines = Vec::new();
    for spec in herald_tests::functions::FUNCTIONS.iter() {
        let text = std::fs::read_to_string(dir.join(format!("{}.log", spec.name)))?;
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line)?;
            if value.get("_aws").is_none() {
                lines.push((spec.name.to_owned(), value));
            }
        }
    }
    Ok(lines)
}

/// Whether `text` holds `secret`. A secret of digits only (a postal code) counts where it stands
/// alone, not inside a longer run of letters and digits: a timestamp's microseconds or a trace id
/// may hold the same five digits by chance.
fn holds(text: &str, secret: &str) -> bool {
    if !secret.chars().all(|c| c.is_ascii_digit()) {
        return text.contains(secret);
    }
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

#[test]
fn every_consumers_log_line_names_its_invocation_none_holds_a_customers_email_or_address_and_every_metric_line_follows_emf()
-> TestResult {
    // Given every catalogued sample run through the template, at the default level and at
    // Lambda's most verbose (AWS_LAMBDA_LOG_LEVEL=TRACE: the SDK's and the runtime's lines too)
    let personal = personal_data_of_the_samples()?;
    assert!(
        personal.iter().any(|p| p.contains('@')) && personal.iter().any(|p| p.contains("Square")),
        "the samples hold e-mails and streets: {personal:?}"
    );
    for level in ["default", "TRACE"] {
        let dir = std::env::temp_dir().join(format!("herald-dev-pii-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let logs = dir.to_string_lossy().into_owned();
        let env = format!("AWS_LAMBDA_LOG_LEVEL={level}");
        let mut args = vec!["--json", "--logs", logs.as_str(), "events"];
        if level != "default" {
            args.extend(["--env", env.as_str()]);
        }
        herald_dev(&args, &dir.join("dead-letters.jsonl"))?;
        let lines = consumer_log_lines(&dir)?;
        assert!(lines.len() > 50, "{level}: {} lines", lines.len());
        // And every EMF line any function wrote follows the EMF specification
        let mut metric_lines = 0;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
                if line.contains("\"_aws\"") {
                    metric_lines += 1;
                    let problems = herald::emf::problems(line);
                    assert!(problems.is_empty(), "{}: {problems:?}: {line}", path.display());
                }
            }
        }
        assert!(metric_lines >= 40, "{level}: {metric_lines} EMF lines");

        for (function, line) in &lines {
            // Then no line holds a sample's e-mail, street or postal code
            let text = line.to_string();
            for secret in &personal {
                assert!(!holds(&text, secret), "{level}: {function} logged {secret}: {text}");
            }
            // And every line (at the default level; at TRACE every line at info and above: the
            // runtime's poll loop and hyper's connection tasks log between and beside invocations)
            // names the invocation as a Powertools Logger line does
            if level == "default" || ["INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap_or("")) {
                let span = &line["span"];
                for field in [
                    "request_id",
                    "function_name",
                    "function_version",
                    "xray_trace_id",
                    "event_id",
                ] {
                    assert!(
                        span[field].as_str().is_some_and(|v| !v.is_empty()),
                        "{level}: {function}: no {field}: {text}"
                    );
                }
                assert!(span["cold_start"].is_boolean(), "{level}: {function}: {text}");
            }
        }
        std::fs::remove_dir_all(dir)?;
    }
    Ok(())
}

#[test]
fn the_events_metric_counts_first_duplicate_cached_and_failed_deliveries_by_the_guards_outcome() -> TestResult {
    // Given an order never seen before (a fresh event id), the functions' tables on moto
    let moto = herald_tests::moto::endpoint();
    let dir = std::env::temp_dir().join(format!("herald-dev-outcomes-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let mut placed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root().join("events/shop.orders/OrderPlaced/v1.sample.json"),
    )?)?;
    placed["detail"]["metadata"]["event_id"] = uuid::Uuid::new_v4().to_string().into();
    let mut thin: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root().join("events/shop.orders/OrderPlaced/v2.sample.json"),
    )?)?;
    thin["detail"]["metadata"]["event_id"] = uuid::Uuid::new_v4().to_string().into();
    let (placed_file, thin_file) = (dir.join("placed.json"), dir.join("thin.json"));
    std::fs::write(&placed_file, placed.to_string())?;
    std::fs::write(&thin_file, thin.to_string())?;
    let run = |name: &str, repeat: &str, input: &Path| -> TestResult<Vec<serde_json::Value>> {
        let logs = dir.join(name);
        herald_dev(
            &[
                "--json",
                "--aws-endpoint",
                moto,
                "--repeat",
                repeat,
                "--logs",
                &logs.to_string_lossy(),
                &input.to_string_lossy(),
            ],
            &dir.join("dead-letters.jsonl"),
        )?;
        Ok(std::fs::read_to_string(logs.join("order-history.log"))?
            .lines()
            .chain(std::fs::read_to_string(logs.join("notifications.log"))?.lines())
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line.get("Events").is_some())
            .collect())
    };
    let outcomes = |lines: &[serde_json::Value], function: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["function"] == function)
            .map(|l| l["outcome"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    // When it is delivered once; then, to new processes (nothing cached), twice; and a thin
    // order notifications refuses for good is delivered once
    let first = run("first", "1", &placed_file)?;
    let again = run("again", "2", &placed_file)?;
    let refused = run("refused", "1", &thin_file)?;

    // Then order-history's Events metric says claimed, then duplicate (the record in DynamoDB),
    // then cached (the warm process remembers it), and notifications' says error on each of
    // Lambda's three attempts at the refused one
    assert_eq!(outcomes(&first, "order-history"), ["claimed"]);
    assert_eq!(outcomes(&again, "order-history"), ["duplicate", "cached"]);
    assert_eq!(outcomes(&refused, "notifications"), ["error", "error", "error"]);
    for line in first.iter().chain(&again).chain(&refused) {
        assert_eq!(line["Events"], 1, "{line}");
        assert_eq!(herald::emf::problems(&line.to_string()), Vec::<String>::new());
    }
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn a_logged_postal_code_is_found_where_it_stands_alone_but_not_inside_a_timestamp() {
    assert!(holds(r#"{"postal_code":"20374"}"#, "20374"));
    assert!(holds("ships to 20374 Springfield", "20374"));
    assert!(!holds(r#"{"timestamp":"2026-12-07T20:32:35.203747Z"}"#, "20374"));
    assert!(!holds("1-6b1717e3-a20374f", "20374"));
    assert!(holds("mail jane@example.com", "jane@example.com"));
}
