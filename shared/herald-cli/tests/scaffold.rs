//! `herald new` end to end, in a copy of this workspace: right after the scaffold, with no file
//! edited by hand, the template is fresh, the catalog check passes, `herald dev` routes the
//! order samples to the new function and it answers them, and its own tests pass.
//!
//! Heavy (it builds the copy's crates in a target directory of its own, `target/scaffold-test`:
//! the copy's crates have the same relative paths, hence the same artifact names, as this
//! workspace's, and must not overwrite them), so it is ignored by `cargo test --workspace` and
//! run on its own by `scripts/test.sh` after every other test, when nothing else is building.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The workspace's tracked and untracked (not ignored) files, copied to `to`.
fn copy_workspace(to: &Path) -> TestResult<Vec<PathBuf>> {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root())
        .output()?;
    if !listed.status.success() {
        return Err(format!("git ls-files: {}", String::from_utf8_lossy(&listed.stderr)).into());
    }
    let mut files = Vec::new();
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let relative = PathBuf::from(String::from_utf8(name.to_vec())?);
        let from = root().join(&relative);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let target = to.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&from, &target)?;
        files.push(relative);
    }
    Ok(files)
}

/// Runs `program` in the copy with the copy's own target directory; fails with its output.
fn run(copy: &Path, program: &str, args: &[&str]) -> TestResult<Output> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("scaffold-test");
    let output = Command::new(program)
        .args(args)
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", target)
        .output()?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{program} {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into())
    }
}

#[test]
#[ignore = "heavy: builds a scaffolded copy of the workspace; scripts/test.sh runs it after the other tests"]
fn a_scaffolded_consumer_is_routed_catalogued_and_tested_with_no_file_edited_by_hand() -> TestResult {
    // Given a copy of this workspace
    let copy = tempfile::tempdir()?;
    let before = copy_workspace(copy.path())?;
    let herald = env!("CARGO_BIN_EXE_herald");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());

    // When a consumer of OrderPlaced v1 is scaffolded there
    let scaffolded = run(
        copy.path(),
        herald,
        &["new", "loyalty", "--consumes", "shop.orders/OrderPlaced/v1"],
    )?;

    // Then it wrote the crate and regenerated the template, and touched no other file
    let said = String::from_utf8_lossy(&scaffolded.stdout);
    for file in [
        "functions/loyalty/Cargo.toml",
        "functions/loyalty/src/main.rs",
        "functions/loyalty/src/handler.rs",
        "functions/loyalty/tests/loyalty.rs",
        "infra/template.yaml",
    ] {
        assert!(said.contains(file), "{said}");
    }
    for file in &before {
        let changed = std::fs::read(root().join(file))? != std::fs::read(copy.path().join(file))?;
        assert!(
            !changed || file == Path::new("infra/template.yaml"),
            "{} changed",
            file.display()
        );
    }
    let template = std::fs::read_to_string(copy.path().join("infra/template.yaml"))?;
    assert!(
        template.contains("LoyaltyFunction:"),
        "the template has no LoyaltyFunction"
    );
    assert!(template.contains("LoyaltyDeadLetterQueue:"));

    // … and the code it wrote is formatted as `cargo fmt --check` wants it
    let rust_files = [
        "src/main.rs",
        "src/lib.rs",
        "src/error.rs",
        "src/handler.rs",
        "tests/loyalty.rs",
    ];
    let mut rustfmt = vec!["--edition", "2024", "--check"];
    let paths: Vec<String> = rust_files.iter().map(|f| format!("functions/loyalty/{f}")).collect();
    rustfmt.extend(paths.iter().map(String::as_str));
    run(copy.path(), "rustfmt", &rustfmt)?;

    // … the template is what the declarations generate, and the catalog check passes
    run(copy.path(), herald, &["infra", "check"])?;
    run(copy.path(), herald, &["catalog", "check"])?;

    // … herald dev routes the placed orders to loyalty, which answers each of them
    let dev = run(
        copy.path(),
        herald,
        &[
            "dev",
            "--json",
            "--dead-letters",
            "target/herald-dev/dead-letters.jsonl",
            "events/shop.orders",
        ],
    )?;
    let lines = String::from_utf8_lossy(&dev.stdout)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<serde_json::Value>, _>>()?;
    let placed_v1: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["kind"] == "event" && l["detail_type"] == "OrderPlaced" && l["schema_version"] == 1)
        .collect();
    assert!(
        !placed_v1.is_empty(),
        "no OrderPlaced v1 sample was delivered: {lines:#?}"
    );
    for event in placed_v1 {
        let matched = event["matched"].as_array().cloned().unwrap_or_default();
        assert!(matched.iter().any(|f| f == "loyalty"), "{event}");
        let answered = lines.iter().any(|l| {
            l["kind"] == "invocation"
                && l["function"] == "loyalty"
                && l["event_id"] == event["event_id"]
                && l["outcome"] == "claimed"
        });
        assert!(answered, "loyalty did not answer {event}");
    }
    let elsewhere = lines
        .iter()
        .filter(|l| l["function"] == "loyalty" && l["detail_type"] != "OrderPlaced");
    assert_eq!(elsewhere.count(), 0, "loyalty ran on an event it does not consume");

    // … and its own test passes on both backends
    run(copy.path(), &cargo, &["test", "-p", "loyalty", "--quiet"])?;
    Ok(())
}
