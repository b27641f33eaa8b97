//! A declaration becomes the consumer's resources; a malformed one is an error naming its
//! manifest and key; and the checked-in `infra/template.yaml` is exactly what generation gives.

use std::path::{Path, PathBuf};

use herald_infra::workspace::Package;
use herald_infra::{Declaration, GENERATE_COMMAND, Generation, InfraError, generate, stale_parts};
use serde_json::json;
use serde_yaml_ng::Value as Yaml;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The hand-written part a template needs: the platform's names and the regions' markers.
const BASE: &str = "\
Metadata:
  Herald:
    Bus: Bus
    BusEvent: BusEvents
    IdempotencyTable: IdempotencyTable
    AlertTopic: Alerts
    LogRetentionDays: LogDays
Resources:
  # BEGIN GENERATED consumers
  # END GENERATED consumers
  Redrive:
    Properties:
      Environment:
        Variables:
          # BEGIN GENERATED redrive-queues
          # END GENERATED redrive-queues
      Pattern:
        alarmName:
          # BEGIN GENERATED errors-alarm-names
          # END GENERATED errors-alarm-names
Outputs:
  # BEGIN GENERATED consumer-outputs
  # END GENERATED consumer-outputs
";

fn package(name: &str, herald: serde_json::Value) -> Package {
    Package {
        name: name.to_owned(),
        manifest: PathBuf::from(format!("functions/{name}/Cargo.toml")),
        binaries: vec![name.to_owned()],
        herald: Some(herald),
    }
}

fn stock_keeper() -> serde_json::Value {
    json!({
        "description": "Keeps stock.",
        "emits": ["acme.stock/StockReserved/v1", "acme.stock/StockShortage/v1"],
        "consumes": [
            "acme.orders/OrderPlaced/v1",
            "acme.orders/OrderPlaced/v2",
            "acme.orders/OrderCancelled/v1",
            "acme.payments/PaymentCaptured/v1",
        ],
        "rule-retries": { "attempts": 8, "max-event-age-seconds": 3600 },
        "invoke-retries": { "attempts": 2, "max-event-age-seconds": 600 },
        "timeout-seconds": 30,
        "environment": { "STOCK_SEED": "none" },
        "tables": [{
            "env": "STOCK_TABLE",
            "logical-id": "StockTable",
            "partition-key": "sku",
            "sort-key": "warehouse",
            "ttl": "expires_at",
            "actions": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        }],
    })
}

fn declared(name: &str, herald: serde_json::Value) -> TestResult<Declaration> {
    Ok(Declaration::from_package(&package(name, herald))?.ok_or("not a consumer")?)
}

fn rendered(declarations: &[Declaration]) -> TestResult<(String, Yaml)> {
    let text = generate(Path::new("template.yaml"), BASE, declarations)?;
    let yaml = serde_yaml_ng::from_str(&text)?;
    Ok((text, yaml))
}

/// A short-form intrinsic's text: `!Ref X` → `X`.
fn tagged<'a>(value: &'a Yaml, tag: &str) -> Option<&'a str> {
    match value {
        Yaml::Tagged(t) if t.tag == tag => t.value.as_str(),
        _ => None,
    }
}

fn statement<'a>(role: &'a Yaml, sid: &str) -> Option<&'a Yaml> {
    role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()?
        .iter()
        .find(|s| s["Sid"].as_str() == Some(sid))
}

fn yaml(text: &str) -> TestResult<Yaml> {
    Ok(serde_yaml_ng::from_str(text)?)
}

#[test]
fn a_declaration_renders_its_rule_role_function_alarms_and_redrive_entries() -> TestResult {
    // Given a consumer of three detail-types from two sources that emits from one source
    let declaration = declared("stock-keeper", stock_keeper())?;

    // When the template is generated
    let (text, template) = rendered(&[declaration])?;
    let resources = &template["Resources"];

    // Then its rule lists each source's types and versions, in one `$or`
    let function = &resources["StockKeeperFunction"];
    let rule = &function["Properties"]["Events"]["BusEvents"]["Properties"];
    assert_eq!(
        rule["Pattern"],
        yaml(
            "$or:
              - { source: [acme.orders], detail-type: [OrderPlaced], detail: { metadata: { schema_version: [1, 2] } } }
              - { source: [acme.orders], detail-type: [OrderCancelled], detail: { metadata: { schema_version: [1] } } }
              - { source: [acme.payments], detail-type: [PaymentCaptured], detail: { metadata: { schema_version: [1] } } }"
        )?,
        "{text}"
    );
    assert_eq!(tagged(&rule["EventBusName"], "!Ref"), Some("Bus"));
    assert_eq!(
        tagged(&rule["RuleName"], "!Sub"),
        Some("${AWS::StackName}-stock-keeper")
    );
    assert_eq!(rule["RetryPolicy"]["MaximumRetryAttempts"], Yaml::from(8));
    assert_eq!(
        function["Properties"]["EventInvokeConfig"]["MaximumEventAgeInSeconds"],
        Yaml::from(600)
    );
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        Yaml::from("stock-keeper")
    );
    assert_eq!(function["Properties"]["Timeout"], Yaml::from(30));
    assert!(function["Properties"].get("MemorySize").is_none(), "Globals decide");

    // And its role may publish only its own source, and touch only its own idempotency records
    let role = &resources["StockKeeperRole"];
    let publish = statement(role, "PublishToBus").ok_or("no PutEvents statement")?;
    assert_eq!(publish["Action"], Yaml::from("events:PutEvents"));
    assert_eq!(tagged(&publish["Resource"], "!GetAtt"), Some("Bus.Arn"));
    assert_eq!(
        publish["Condition"],
        yaml("ForAllValues:StringEquals: { 'events:source': [acme.stock] }")?
    );
    let records = statement(role, "OwnIdempotencyRecords").ok_or("no idempotency statement")?;
    assert_eq!(
        records["Condition"],
        yaml("ForAllValues:StringLike: { 'dynamodb:LeadingKeys': ['stock-keeper#*'] }")?
    );
    let table = statement(role, "OwnStockTable").ok_or("no table statement")?;
    assert_eq!(table["Action"], yaml("[dynamodb:GetItem, dynamodb:UpdateItem]")?);

    // And its function reads its tables, the bus and its extra variable from the environment
    let variables = &function["Properties"]["Environment"]["Variables"];
    assert_eq!(tagged(&variables["STOCK_TABLE"], "!Ref"), Some("StockTable"));
    assert_eq!(tagged(&variables["EVENT_BUS_NAME"], "!Ref"), Some("Bus"));
    assert_eq!(
        tagged(&variables["IDEMPOTENCY_TABLE"], "!Ref"),
        Some("IdempotencyTable")
    );
    assert_eq!(variables["STOCK_SEED"], Yaml::from("none"));

    // And its table has both keys, expiry and point-in-time recovery
    let stock = &resources["StockTable"]["Properties"];
    assert_eq!(stock["KeySchema"][1]["KeyType"], Yaml::from("RANGE"));
    assert_eq!(
        stock["TimeToLiveSpecification"]["AttributeName"],
        Yaml::from("expires_at")
    );
    assert_eq!(
        stock["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Yaml::from(true)
    );

    // And the five alarms notify the alert topic
    for alarm in [
        "DeadLetters",
        "Errors",
        "Throttles",
        "FailedInvocations",
        "UncataloguedEvents",
    ] {
        let properties = &resources[format!("StockKeeper{alarm}Alarm").as_str()]["Properties"];
        assert_eq!(
            tagged(&properties["AlarmActions"][0], "!Ref"),
            Some("Alerts"),
            "{alarm}"
        );
        assert_eq!(tagged(&properties["OKActions"][0], "!Ref"), Some("Alerts"), "{alarm}");
    }

    // And redrive maps its errors alarm to its dead-letter queue
    let redrive = &resources["Redrive"]["Properties"];
    assert_eq!(
        tagged(&redrive["Environment"]["Variables"]["REDRIVE_QUEUES"], "!Sub"),
        Some("${AWS::StackName}-stock-keeper-errors=${StockKeeperDeadLetterQueue}")
    );
    assert_eq!(
        tagged(&redrive["Pattern"]["alarmName"][0], "!Sub"),
        Some("${AWS::StackName}-stock-keeper-errors")
    );
    assert_eq!(
        tagged(&template["Outputs"]["StockTableName"]["Value"], "!Ref"),
        Some("StockTable")
    );
    Ok(())
}

#[test]
fn a_function_that_emits_nothing_gets_no_put_events_and_no_bus_and_a_single_pattern() -> TestResult {
    // Given a consumer of one detail-type that publishes nothing
    let mut herald = stock_keeper();
    herald["emits"] = json!([]);
    herald["consumes"] = json!(["acme.orders/OrderPlaced/v1", "acme.orders/OrderPlaced/v2"]);
    let declaration = declared("receipts", herald)?;

    // When the template is generated
    let (text, template) = rendered(&[declaration])?;
    let resources = &template["Resources"];

    // Then its role has no PutEvents, its function no bus, and its pattern no `$or`
    let statements = &resources["ReceiptsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    assert!(
        statements
            .as_sequence()
            .ok_or("statements")?
            .iter()
            .all(|s| s["Action"].as_str() != Some("events:PutEvents")),
        "{text}"
    );
    let properties = &resources["ReceiptsFunction"]["Properties"];
    assert!(properties["Environment"]["Variables"].get("EVENT_BUS_NAME").is_none());
    assert_eq!(
        properties["Events"]["BusEvents"]["Properties"]["Pattern"],
        yaml(
            "{ source: [acme.orders], detail-type: [OrderPlaced], detail: { metadata: { schema_version: [1, 2] } } }"
        )?
    );
    Ok(())
}

#[test]
fn a_malformed_declaration_is_an_error_naming_the_manifest_and_the_key() -> TestResult {
    // Given declarations each wrong in one key
    let cases: [(&str, serde_json::Value, &str); 7] = [
        (
            "consumes",
            json!(["acme.orders/OrderPlaced"]),
            "package.metadata.herald.consumes[0]",
        ),
        ("emits", json!(["nope"]), "package.metadata.herald.emits[0]"),
        (
            "tables",
            json!([{ "env": "STOCK_TABLE", "logical-id": "StockTable", "partition-key": "sku", "actions": ["dynamodb:*"] }]),
            "package.metadata.herald.tables[0].actions[0]",
        ),
        (
            "tables",
            json!([{ "env": "STOCK_TABLE", "logical-id": "StockTable", "partition-key": 7, "actions": [] }]),
            "package.metadata.herald.tables[0].partition-key",
        ),
        (
            "tables",
            json!([{ "env": "EVENT_BUS_NAME", "logical-id": "T", "partition-key": "id", "actions": ["dynamodb:GetItem"] }]),
            "package.metadata.herald.tables[0].env",
        ),
        (
            "invoke-retries",
            json!({ "attempts": 3, "max-event-age-seconds": 3600 }),
            "package.metadata.herald.invoke-retries.attempts",
        ),
        ("memory-mb", json!(64), "package.metadata.herald.memory-mb"),
    ];
    for (key, value, expected_key) in cases {
        let mut herald = stock_keeper();
        herald[key] = value;

        // When each is read
        let error = Declaration::from_package(&package("stock-keeper", herald)).err();

        // Then the error is typed and names the manifest and the key
        match &error {
            Some(InfraError::Declaration { manifest, key, .. }) => {
                assert_eq!(manifest, Path::new("functions/stock-keeper/Cargo.toml"));
                assert_eq!(key, expected_key);
            }
            other => return Err(format!("{expected_key}: expected a declaration error, got {other:?}").into()),
        }
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with(&format!("functions/stock-keeper/Cargo.toml: {expected_key}: ")),
            "{message}"
        );
    }
    Ok(())
}

#[test]
fn a_buffered_declaration_renders_its_queue_rule_mapping_role_and_alarms_and_a_wrong_buffer_is_named() -> TestResult {
    // Given the stock keeper buffered: ten at a time, a second's window, five receives
    let mut herald = stock_keeper();
    herald.as_object_mut().ok_or("an object")?.remove("invoke-retries");
    herald["buffer"] = json!({ "batch-size": 10, "batching-window-seconds": 1, "max-receives": 5 });
    let declaration = declared("stock-keeper", herald.clone())?;

    // When the template is generated
    let (_, template) = rendered(&[declaration])?;
    let resources = &template["Resources"];

    // Then its rule targets its queue, which hides a batch for six function timeouts plus the
    // window and dead-letters after one receive more than the consumer's own last
    let rule = &resources["StockKeeperRule"]["Properties"];
    assert_eq!(
        tagged(&rule["Targets"][0]["Arn"], "GetAtt"),
        Some("StockKeeperBufferQueue.Arn")
    );
    assert_eq!(
        tagged(&rule["Targets"][0]["DeadLetterConfig"]["Arn"], "GetAtt"),
        Some("StockKeeperDeadLetterQueue.Arn")
    );
    let queue = &resources["StockKeeperBufferQueue"]["Properties"];
    assert_eq!(queue["VisibilityTimeout"].as_u64(), Some(6 * 30 + 1));
    assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"].as_u64(), Some(6));
    let policy = &resources["StockKeeperBufferQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Principal"]["Service"].as_str(), Some("events.amazonaws.com"));
    // And the function drains it in batches with partial responses, is never invoked
    // asynchronously, may drain only its own queue, and pages on failed events
    let function = &resources["StockKeeperFunction"]["Properties"];
    assert!(function.get("EventInvokeConfig").is_none());
    let source = &function["Events"]["Buffer"];
    assert_eq!(source["Type"].as_str(), Some("SQS"));
    assert_eq!(source["Properties"]["BatchSize"].as_u64(), Some(10));
    assert_eq!(
        source["Properties"]["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    assert_eq!(
        function["Environment"]["Variables"]["HERALD_MAX_RECEIVES"].as_str(),
        Some("5")
    );
    let drain = statement(&resources["StockKeeperRole"], "DrainOwnBuffer").ok_or("no DrainOwnBuffer")?;
    assert_eq!(tagged(&drain["Resource"], "GetAtt"), Some("StockKeeperBufferQueue.Arn"));
    let errors = &resources["StockKeeperErrorsAlarm"]["Properties"];
    assert_eq!(errors["MetricName"].as_str(), Some("Events"));
    assert!(resources.get("StockKeeperBufferAgeAlarm").is_some());

    // And a buffer Lambda would refuse, or one beside invoke-retries, is named
    for (change, key) in [
        (
            json!({ "batch-size": 50, "batching-window-seconds": 0, "max-receives": 5 }),
            "buffer.batching-window-seconds",
        ),
        (
            json!({ "batch-size": 0, "batching-window-seconds": 0, "max-receives": 5 }),
            "buffer.batch-size",
        ),
        (
            json!({ "batch-size": 10, "batching-window-seconds": 0, "max-receives": 0 }),
            "buffer.max-receives",
        ),
    ] {
        let mut wrong = herald.clone();
        wrong["buffer"] = change;
        let error = Declaration::from_package(&package("stock-keeper", wrong)).err();
        assert!(
            matches!(&error, Some(InfraError::Declaration { key: k, .. }) if *k == format!("package.metadata.herald.{key}")),
            "{key}: {error:?}"
        );
    }
    let mut both = herald;
    both["invoke-retries"] = json!({ "attempts": 2, "max-event-age-seconds": 600 });
    let error = Declaration::from_package(&package("stock-keeper", both)).err();
    assert!(
        matches!(&error, Some(InfraError::Declaration { key, .. }) if key == "package.metadata.herald.buffer"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn a_package_without_consumes_is_no_consumer_and_a_missing_key_is_named() -> TestResult {
    // Given a package that only declares what it emits, and a consumer without retries
    let emitter = package("redrive", json!({ "emits": [] }));
    let mut herald = stock_keeper();
    herald.as_object_mut().ok_or("object")?.remove("rule-retries");

    // When they are read
    let none = Declaration::from_package(&emitter)?;
    let error = Declaration::from_package(&package("stock-keeper", herald)).err();

    // Then the first is skipped and the second names the missing key
    assert!(none.is_none());
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("package.metadata.herald") && message.contains("rule-retries"),
        "{message}"
    );
    Ok(())
}

#[test]
fn a_template_without_the_consumers_region_is_an_error_naming_the_file() -> TestResult {
    // Given a template whose markers were deleted
    let text = BASE.replace("  # BEGIN GENERATED consumers\n  # END GENERATED consumers\n", "");

    // When it is generated
    let error = generate(Path::new("infra/template.yaml"), &text, &[]).err();

    // Then the error names the file and the missing region
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.starts_with("infra/template.yaml: ") && message.contains("consumers"),
        "{message}"
    );
    Ok(())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_checked_in_template_is_what_the_workspace_declarations_generate() -> TestResult {
    // Given the workspace's functions and its infra/template.yaml
    // When the template is generated from their declarations
    let generation = Generation::of(&root().join("infra/template.yaml"), &root())?;

    // Then it is unchanged
    assert!(
        generation.is_fresh(),
        "infra/template.yaml is stale ({}); run `{GENERATE_COMMAND}`",
        stale_parts(&generation.current, &generation.generated).join(", ")
    );
    Ok(())
}

#[test]
fn a_stale_template_names_the_resources_that_differ_and_generation_repairs_it() -> TestResult {
    // Given a copy of the template (beside a copy of the catalog it names) in which one
    // function's retries were edited by hand
    let dir = tempfile::tempdir()?;
    std::os::unix::fs::symlink(root().join("events"), dir.path().join("events"))?;
    std::fs::create_dir(dir.path().join("infra"))?;
    let copy = dir.path().join("infra/template.yaml");
    let text = std::fs::read_to_string(root().join("infra/template.yaml"))?;
    let edited = text.replacen("MaximumRetryAttempts: 8", "MaximumRetryAttempts: 3", 1);
    assert_ne!(edited, text);
    std::fs::write(&copy, &edited)?;

    // When it is checked
    let generation = Generation::of(&copy, &root())?;

    // Then it is stale in exactly that function, and writing the generation repairs it
    assert!(!generation.is_fresh());
    let parts = stale_parts(&generation.current, &generation.generated);
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert!(
        parts[0].starts_with("Resources.") && parts[0].ends_with("Function"),
        "{parts:?}"
    );
    assert!(generation.write()?);
    assert_eq!(std::fs::read_to_string(&copy)?, text);
    Ok(())
}
