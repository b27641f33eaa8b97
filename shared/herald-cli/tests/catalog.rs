//! `herald catalog check` on the project and on broken copies of it: every kind of disagreement
//! fails the check with a message naming the file to fix. And the functions' `emits`
//! declarations held to what their code really publishes, through `herald dev`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn herald(args: &[&str], dir: &Path) -> TestResult<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .current_dir(dir)
        .output()?)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A copy of the project's catalog and template in a fresh folder (a git repository with the
/// copy committed, so schema evolution is checked against it), checked against the real workspace.
struct Copy {
    dir: PathBuf,
}

impl Copy {
    fn new(name: &str) -> TestResult<Self> {
        let dir = std::env::temp_dir().join(format!("herald-catalog-{name}-{}", uuid::Uuid::new_v4()));
        copy_dir(&root().join("events"), &dir.join("events"))?;
        std::fs::create_dir_all(dir.join("infra"))?;
        std::fs::copy(root().join("infra/template.yaml"), dir.join("infra/template.yaml"))?;
        let git = |args: &[&str]| -> TestResult {
            let status = Command::new("git")
                .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
                .args(args)
                .current_dir(&dir)
                .output()?;
            if status.status.success() {
                Ok(())
            } else {
                Err(text(&status).into())
            }
        };
        git(&["init", "--quiet"])?;
        git(&["add", "."])?;
        git(&["commit", "--quiet", "-m", "published catalog"])?;
        Ok(Self { dir })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    fn edit(&self, relative: &str, change: impl FnOnce(&mut serde_json::Value)) -> TestResult {
        let path = self.path(relative);
        let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        change(&mut json);
        std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
        Ok(())
    }

    /// `herald catalog check` on the copy; the functions' declarations come from the project.
    fn check(&self) -> TestResult<(bool, String)> {
        let workspace = root();
        let output = herald(
            &["catalog", "check", "--workspace", workspace.to_str().ok_or("path")?],
            &self.dir,
        )?;
        Ok((output.status.success(), text(&output)))
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy_dir(from: &Path, to: &Path) -> TestResult {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let target = to.join(path.file_name().ok_or("name")?);
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

#[test]
fn the_project_catalog_agrees_with_its_template_and_functions() -> TestResult {
    let output = herald(&["catalog", "check"], &root())?;
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("8 functions"), "{report}");
    assert!(report.trim_end().ends_with(": ok"), "{report}");
    Ok(())
}

#[test]
fn an_unchanged_copy_passes_so_each_failure_below_is_caused_by_its_edit() -> TestResult {
    let copy = Copy::new("unchanged")?;
    let (passed, report) = copy.check()?;
    assert!(passed, "{report}");
    assert!(report.contains("schemas at HEAD"), "{report}");
    Ok(())
}

#[test]
fn a_sample_that_breaks_its_schema_is_named_with_the_place() -> TestResult {
    let copy = Copy::new("sample")?;
    copy.edit("events/shop.orders/OrderCancelled/v1.sample.json", |sample| {
        sample["detail"]["data"]["order_id"] = serde_json::json!("order 1001");
    })?;
    let (passed, report) = copy.check()?;
    assert!(!passed);
    assert!(
        report.contains("shop.orders/OrderCancelled/v1.sample.json: detail/data/order_id: does not validate"),
        "{report}"
    );
    Ok(())
}

#[test]
fn a_sample_in_the_wrong_folder_or_version_is_named() -> TestResult {
    let copy = Copy::new("folder")?;
    copy.edit("events/shop.orders/OrderReturned/v1.sample.json", |sample| {
        sample["detail-type"] = serde_json::json!("OrderRefunded");
    })?;
    let (passed, report) = copy.check()?;
    assert!(!passed);
    assert!(
        report.contains("OrderReturned/v1.sample.json: is a shop.orders/OrderRefunded event"),
        "{report}"
    );
    Ok(())
}

/// Each incompatible edit of a published schema, made in place: the check names the file and
/// the change, and asks for a new version.
#[test]
fn a_published_schema_changed_incompatibly_in_place_is_refused_for_each_kind_of_change() -> TestResult {
    let schema = "events/shop.orders/OrderCancelled/v1.schema.json";
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "data.reason",
            Box::new(|s| {
                let data = &mut s["properties"]["data"];
                if let Some(p) = data["properties"].as_object_mut() {
                    p.remove("reason");
                }
                if let Some(r) = data["required"].as_array_mut() {
                    r.retain(|f| f != "reason");
                }
            }),
        ),
        (
            "data.refund_note",
            Box::new(|s| {
                let data = &mut s["properties"]["data"];
                data["properties"]["refund_note"] = serde_json::json!({"type": "string", "description": "new"});
                if let Some(r) = data["required"].as_array_mut() {
                    r.push(serde_json::json!("refund_note"));
                }
            }),
        ),
        (
            "data.order_id",
            Box::new(|s| s["properties"]["data"]["properties"]["order_id"]["type"] = serde_json::json!("integer")),
        ),
        (
            "data.reason",
            Box::new(|s| {
                if let Some(values) = s["properties"]["data"]["properties"]["reason"]["enum"].as_array_mut() {
                    values.pop();
                }
            }),
        ),
    ];
    for (path, edit) in edits {
        let copy = Copy::new("evolution")?;
        copy.edit(schema, |s| edit(s))?;
        let (passed, report) = copy.check()?;
        assert!(!passed, "{path}: {report}");
        assert!(
            report.contains("OrderCancelled/v1.schema.json: changed incompatibly since HEAD"),
            "{report}"
        );
        assert!(report.contains(path), "{path}: {report}");
        assert!(report.contains("publish the change as v2"), "{report}");
    }
    Ok(())
}

#[test]
fn the_same_change_as_a_new_version_passes_and_an_added_optional_field_needs_none() -> TestResult {
    let copy = Copy::new("new-version")?;
    let dir = "events/shop.orders/OrderCancelled";
    // An optional field added in place is compatible.
    copy.edit(&format!("{dir}/v1.schema.json"), |s| {
        s["properties"]["data"]["properties"]["note"] = serde_json::json!({"type": "string", "description": "n"});
    })?;
    // The removal goes into v2, with its own sample.
    std::fs::copy(
        copy.path(&format!("{dir}/v1.schema.json")),
        copy.path(&format!("{dir}/v2.schema.json")),
    )?;
    copy.edit(&format!("{dir}/v2.schema.json"), |s| {
        s["$defs"]["metadata"]["properties"]["schema_version"]["const"] = serde_json::json!(2);
        if let Some(p) = s["properties"]["data"]["properties"].as_object_mut() {
            p.remove("reason");
        }
        if let Some(r) = s["properties"]["data"]["required"].as_array_mut() {
            r.retain(|f| f != "reason");
        }
    })?;
    std::fs::copy(
        copy.path(&format!("{dir}/v1.sample.json")),
        copy.path(&format!("{dir}/v2.sample.json")),
    )?;
    copy.edit(&format!("{dir}/v2.sample.json"), |e| {
        e["detail"]["metadata"]["schema_version"] = serde_json::json!(2);
        if let Some(d) = e["detail"]["data"].as_object_mut() {
            d.remove("reason");
        }
    })?;
    let (passed, report) = copy.check()?;
    assert!(passed, "{report}");
    Ok(())
}

#[test]
fn a_rule_that_matches_no_catalogued_event_is_named_in_the_template() -> TestResult {
    let copy = Copy::new("rule")?;
    let template = copy.path("infra/template.yaml");
    let text = std::fs::read_to_string(&template)?;
    // Billing's own rule (the unrouted rule, earlier in the file, lists the type too).
    let billing = text
        .find("  BillingFunction:")
        .ok_or("no BillingFunction in the template")?;
    let (before, after) = text.split_at(billing);
    let edited = format!(
        "{before}{}",
        after.replacen("detail-type: [PaymentCaptured]", "detail-type: [PaymentSettled]", 1)
    );
    assert_ne!(text, edited, "the template no longer has the line this test edits");
    std::fs::write(&template, edited)?;
    let (passed, report) = copy.check()?;
    assert!(!passed);
    assert!(
        report.contains(
            "template.yaml: Resources.BillingFunction.Properties.Events.ShopEvents.Properties.Pattern.$or[1]: the rule"
        ),
        "{report}"
    );
    assert!(report.contains("matches no catalogued event"), "{report}");
    Ok(())
}

#[test]
fn an_event_nobody_consumes_must_be_marked_external_or_terminal() -> TestResult {
    let copy = Copy::new("consumer")?;
    std::fs::remove_file(copy.path("events/shop.billing/InvoiceIssued/event.yaml"))?;
    let (passed, report) = copy.check()?;
    assert!(!passed);
    assert!(
        report.contains("shop.billing/InvoiceIssued: shop.billing/InvoiceIssued has no consumer"),
        "{report}"
    );
    assert!(report.contains("terminal"), "{report}");
    Ok(())
}

#[test]
fn a_function_that_publishes_an_uncatalogued_event_is_named_by_its_manifest() -> TestResult {
    let copy = Copy::new("emits")?;
    std::fs::remove_dir_all(copy.path("events/shop.billing/InvoiceIssued"))?;
    let (passed, report) = copy.check()?;
    assert!(!passed);
    assert!(
        report.contains("functions/billing/Cargo.toml: package.metadata.herald.emits: billing publishes shop.billing/InvoiceIssued/v1, which is not catalogued"),
        "{report}"
    );
    Ok(())
}

#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<Package>,
}

#[derive(serde::Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: Option<PackageMetadata>,
}

#[derive(serde::Deserialize)]
struct PackageMetadata {
    herald: Option<HeraldMetadata>,
}

#[derive(serde::Deserialize)]
struct HeraldMetadata {
    emits: Vec<String>,
}

/// Every function's `emits` declaration, by function (= package) name.
fn declared() -> TestResult<BTreeMap<String, BTreeSet<String>>> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()?;
    let metadata: Metadata = serde_json::from_slice(&output.stdout)?;
    Ok(metadata
        .packages
        .into_iter()
        .filter_map(|p| {
            let emits = p.metadata?.herald?.emits;
            Some((p.name, emits.into_iter().collect()))
        })
        .collect())
}

/// The shop's own sources in the catalog (`events/shop.*`). AWS's alarm event is left out: it
/// would start a real redrive, which needs SQS.
fn shop_sources() -> TestResult<Vec<String>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join("events"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("shop.") {
            found.push(format!("events/{name}"));
        }
    }
    found.sort();
    Ok(found)
}

/// What each function published when `herald dev` ran the shop's catalog through the template.
fn published(stock_seed: &str) -> TestResult<BTreeMap<String, BTreeSet<String>>> {
    let dead_letters = root().join(format!("target/herald-dev/catalog-{}.jsonl", uuid::Uuid::new_v4()));
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "dev",
            "--json",
            "--env",
            &format!("STOCK_SEED={stock_seed}"),
            "--dead-letters",
        ])
        .arg(&dead_letters)
        .args(shop_sources()?)
        .current_dir(root())
        .output()?;
    let _ = std::fs::remove_file(&dead_letters);
    if !output.status.success() {
        return Err(format!("herald dev failed: {}", text(&output)).into());
    }
    let mut published: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let line: serde_json::Value = serde_json::from_str(line)?;
        if let (Some(function), Some(source), Some(detail_type), Some(version)) = (
            line["published_by"].as_str(),
            line["source"].as_str(),
            line["detail_type"].as_str(),
            line["schema_version"].as_u64(),
        ) {
            published
                .entry(function.to_owned())
                .or_default()
                .insert(format!("{source}/{detail_type}/v{version}"));
        }
    }
    Ok(published)
}

/// The declarations are what `herald catalog check` trusts; this keeps them honest. Every
/// catalogued sample goes through the template's functions twice, with stock for every order
/// and with none, and each function must have published exactly what it declares: nothing
/// undeclared, and nothing declared that it never publishes.
#[test]
fn every_function_publishes_exactly_the_events_its_crate_declares() -> TestResult {
    let declared = declared()?;
    let mut observed = published("SKU-LAPTOP-14=50,SKU-MOUSE-01=50,SKU-PHONE-X=50")?;
    for (function, events) in published("")? {
        observed.entry(function).or_default().extend(events);
    }
    let functions = [
        "billing",
        "campaigns",
        "contracts",
        "fulfillment",
        "inventory",
        "notifications",
        "order-history",
    ];
    for function in functions {
        let declared = declared.get(function).cloned().unwrap_or_default();
        let published = observed.get(function).cloned().unwrap_or_default();
        assert_eq!(
            published, declared,
            "{function}: published (left) differs from functions/{function}/Cargo.toml's emits (right)"
        );
    }
    assert!(declared.contains_key("inventory") && !declared["inventory"].is_empty());
    Ok(())
}
